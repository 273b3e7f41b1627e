"""The certification report: the verdict's rules, and writing certification.json (for
machines) with certification.md and certification.html (for people) beside it.

The report's shape is ``harness.report.model.CertificationReport``; its field
reference is generated from that model into docs/reference/report.md. The Markdown
and HTML come from the Jinja2 templates in harness/report/templates/ (harness.report.render).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness import tls
from harness.config import DEV, TIME_SKIPPING
from harness.report import render as report_render
from harness.report.model import (
    SCHEMA_VERSION,
    Budget,
    CertificationReport,
    Check,
    ConcurrencyRow,
    NotCertified,
    Overhead,
    Pairing,
    PairingCounts,
    PairingFigures,
    PairingSkipped,
    ScenarioResult,
    TemporalConnection,
    TokenHygiene,
)

# The budget's terms and the hygiene sentence live in terms.py (the pages need them
# too); named here as well, where certify and the tests have always found them.
from harness.report.terms import BUDGET_LEVEL as BUDGET_LEVEL
from harness.report.terms import BUDGET_MS as BUDGET_MS
from harness.report.terms import MIN_BUDGET_SAMPLES as MIN_BUDGET_SAMPLES
from harness.report.terms import DeployedBudget
from harness.report.terms import token_hygiene_line as token_hygiene_line

SCHEMA = SCHEMA_VERSION

# The rules below take the model; plain dicts (unit tests, figures read from an older
# bench.json) are validated into it at the door, so a wrong field fails here, named.
ScenarioLike = ScenarioResult | Mapping[str, Any]
RowLike = ConcurrencyRow | Mapping[str, Any]


def scenarios_of(items: Iterable[ScenarioLike]) -> list[ScenarioResult]:
    return [s if isinstance(s, ScenarioResult) else ScenarioResult.model_validate(s) for s in items]


def rows_of(items: Iterable[RowLike] | None) -> list[ConcurrencyRow]:
    return [
        r if isinstance(r, ConcurrencyRow) else ConcurrencyRow.model_validate(r)
        for r in items or []
    ]


def budget_row(concurrency: Iterable[RowLike] | None) -> ConcurrencyRow | None:
    """The measured row the budget is judged on, or None when there is none."""
    rows = [c for c in rows_of(concurrency) if c.level == BUDGET_LEVEL]
    return next((c for c in rows if c.mode == "open"), rows[0] if rows else None)


def within_budget(row: ConcurrencyRow | None, budget_ms: float) -> bool:
    """Judged and within: enough samples, no failed call, p99 at most the budget."""
    return row is not None and not _budget_problems(row, budget_ms)


def _budget_problems(row: ConcurrencyRow, budget_ms: float) -> list[str]:
    problems = []
    where = f"with {BUDGET_LEVEL} agents in flight ({row.mode} loop, n={row.n})"
    if row.p99 is not None and row.p99 > budget_ms:
        problems.append(
            f"overhead p99 {row.p99:.1f} ms {where} exceeds the {budget_ms:.0f} ms budget"
        )
    if row.errors:
        problems.append(
            f"budget not judged: {row.errors} call(s) failed {where} (a p99 over the "
            "calls that succeeded would flatter it); see bench.json first_errors"
        )
    if row.n < MIN_BUDGET_SAMPLES:
        problems.append(
            f"budget not judged: {row.n} samples {where}, fewer than the "
            f'{MIN_BUDGET_SAMPLES} a p99 needs (measure longer: --bench-args "--duration 30")'
        )
    return problems


def _deployed_budget_problems(budget: DeployedBudget, budget_ms: float) -> list[str]:
    """Why a deployed target's budget figure fails the verdict (empty: within): the
    budget run's rules, on the game day's baseline window."""
    if budget.p99 is None:
        return [f"budget not measured on this target: {budget.source}"]
    problems = []
    if budget.p99 > budget_ms:
        problems.append(
            f"overhead p99 {budget.p99:.1f} ms > budget {budget_ms:.0f} ms ({budget.source})"
        )
    if budget.n < MIN_BUDGET_SAMPLES:
        problems.append(
            f"budget not judged: {budget.n} samples ({budget.source}), fewer than the "
            f"{MIN_BUDGET_SAMPLES} a p99 needs (measure longer: --game-day-baseline-s)"
        )
    return problems


def budget_summary(concurrency: Iterable[RowLike] | None, budget_ms: float) -> Budget | None:
    """What the budget is judged on (the report's ``budget``), or None if not measured."""
    row = budget_row(concurrency)
    if row is None:
        return None
    keep = set(Budget.model_fields) - {"within"}
    return Budget.model_validate(
        row.model_dump(include=keep) | {"within": within_budget(row, budget_ms)}
    )


def pairing_row(
    meta: Mapping[str, Any],
    scenarios: Iterable[ScenarioLike],
    concurrency: Iterable[RowLike] | None,
    budget_ms: float,
) -> Pairing:
    """One pairing's line of the matrix: scenario counts, its own budget, its verdict
    (pass: every scenario passed, and its budget row is judged and within)."""
    ran = scenarios_of(scenarios)
    rows = rows_of(concurrency)
    counts = PairingCounts(
        passed=sum(s.outcome == "passed" for s in ran),
        failed=sum(s.outcome == "failed" for s in ran),
        skipped=sum(s.outcome == "skipped" for s in ran),
        not_run=sum(s.outcome == "not_run" for s in ran),
        not_certified=sum(
            s.outcome == "passed" and any(c.status == "not_checked" for c in s.checks) for s in ran
        ),
    )
    reasons: list[str] = []
    if not ran:
        reasons.append("no scenario ran")
    if counts.failed:
        reasons.append(f"{counts.failed} scenario(s) failed")
    if counts.skipped:
        reasons.append(f"{counts.skipped} scenario(s) skipped (not certified)")
    if counts.not_run:
        reasons.append(f"{counts.not_run} scenario(s) collected and never run")
    row = budget_row(rows)
    if row is None:
        reasons.append(f"budget not measured: no figures with {BUDGET_LEVEL} agents in flight")
    else:
        reasons += _budget_problems(row, budget_ms)
    keep = set(PairingFigures.model_fields)
    return Pairing.model_validate(
        {
            **meta,
            "scenarios": counts,
            "budget": budget_summary(rows, budget_ms),
            "concurrency": [
                PairingFigures.model_validate(c.model_dump(include=keep)) for c in rows
            ],
            "verdict": "fail" if reasons else "pass",
            "reasons": reasons,
        }
    )


def connection_used(
    connection: tls.Connection, namespace: str, targets: Iterable[str]
) -> TemporalConnection:
    """The report's ``connection``: the namespace, and the TLS settings when a HOST:PORT
    target used them (certify hands them to the cluster's run only). Paths and names;
    of the API key only whether there was one."""
    if not any(t not in (TIME_SKIPPING, DEV) for t in targets):
        connection = tls.Connection()
    return TemporalConnection(
        namespace=namespace or "default",
        tls=connection.uses_tls,
        ca_path=connection.ca or None,
        cert_path=connection.cert or None,
        key_path=connection.key or None,
        server_name=connection.server_name or None,
        api_key_used=bool(connection.api_key),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pairing_reason(p: Pairing) -> str:
    if p.verdict != "pass":
        return f"pairing {p.name}: FAIL ({'; '.join(p.reasons)})"
    b = p.budget
    return (
        f"pairing {p.name}: pass ({p.scenarios.passed} scenario(s) passed, {p.scope}; "
        f"overhead p99 {_ms(b.p99 if b else None)} ms with {BUDGET_LEVEL} in flight, "
        f"n={b.n if b else None})"
    )


def not_certified(scenarios: Iterable[ScenarioLike]) -> list[NotCertified]:
    """Checks recorded "not checked" (status ``not_checked``, harness.judge.expect.holds),
    gathered per area and reason, in the order first seen."""
    gaps: dict[tuple[str, str], list[str]] = {}
    for sc in scenarios_of(scenarios):
        for check in sc.checks:
            if check.status != "not_checked":
                continue
            ids = gaps.setdefault((str(check.area), str(check.why)), [])
            if sc.id not in ids:
                ids.append(sc.id)
    return [NotCertified(area=a, why=w, scenarios=ids) for (a, w), ids in gaps.items()]


TOKEN_CHECKER = "no_token_in_logs"


def token_hygiene(scenarios: Iterable[ScenarioLike]) -> TokenHygiene:
    """What the log scans of the run covered and found, added up over its scenarios."""
    totals = dict.fromkeys(("tokens", "logs", "token_x_logs", "bytes", "hits"), 0)
    seconds = 0.0
    scanned, not_scanned, where = 0, [], []
    for sc in scenarios_of(scenarios):
        scan = sc.measurements.token_hygiene
        if scan is None:
            if sc.outcome != "skipped":
                not_scanned.append(sc.id)
            continue
        scanned += 1
        for key in totals:
            totals[key] += int(getattr(scan, key))
        seconds += scan.seconds
        for check in sc.checks:
            if check.checker == TOKEN_CHECKER and not check.ok:
                where += [f"{sc.id}: {line}" for line in check.evidence]
    return TokenHygiene(
        scanned=scanned > 0,
        scenarios_scanned=scanned,
        not_scanned=not_scanned,
        **totals,
        seconds=round(seconds, 3),
        where=where[:50],
    )


def verdict(
    scenarios: Sequence[ScenarioLike],
    overhead: Overhead | Mapping[str, Any],
    budget_ms: float,
    concurrency: Iterable[RowLike] | None = None,
    pairings: Sequence[Pairing] | None = None,
    pairings_skipped: Sequence[PairingSkipped | Mapping[str, str]] | None = None,
    *,
    problems: Sequence[str] = (),
    notes: Sequence[str] = (),
    deployed_budget: DeployedBudget | None = None,
) -> tuple[str, list[str]]:
    """Pass when every scenario passed and the budget row is within budget.

    Checks not made for want of optional evidence (``not_certified``) do not fail it,
    but each gets a reason "<area>: not certified (<why>)": a pass never hides them.

    The overhead seen in the scenarios (``overhead``) is reported, not judged: a few
    dozen handshakes of specs written for correctness, some of them the first on a
    freshly started worker, some in bursts of 5 at once, none with a controlled load.
    The budget is a statement about steady state with 10 agents in flight, which is
    what the bench row measures (with warm workers, >= 100 samples, a direct call as
    the baseline in the same run).

    With ``pairings`` (rows of ``pairing_row``), each must pass too: its own scenarios
    and its own budget; a preset left out for want of its program
    (``pairings_skipped``) is named, not failed.

    ``problems`` (runs whose exit code, ledger, JUnit and records disagree; required
    behaviours failed or not run: ``harness.report.verdict``) each fail it and come
    first; ``notes`` (behaviours not certified) are named after the scenarios.

    ``deployed_budget`` (a deployed target: overhead p99 under steady load there, and
    where it comes from) replaces the bench row: a deployment is judged on its own
    figures, and none is "budget not measured", which fails."""
    ran = scenarios_of(scenarios)
    seen = overhead if isinstance(overhead, Overhead) else _overhead(overhead)
    skipped_pairings = [
        p if isinstance(p, PairingSkipped) else PairingSkipped.model_validate(p)
        for p in pairings_skipped or []
    ]
    # The cause first: the scenarios that failed or never ran, then what disagrees
    # (runs, behaviours), then the budget.
    reasons: list[str] = []
    if not ran:
        reasons.append("no scenario ran")
    failed = [s.id for s in ran if s.outcome == "failed"]
    if failed:
        reasons.append(f"{len(failed)} scenario(s) failed: " + ", ".join(failed[:10]))
    not_run = [s.id for s in ran if s.outcome == "not_run"]
    if not_run:
        reasons.append(
            f"{len(not_run)} scenario(s) collected and never run (not certified): "
            + ", ".join(not_run[:10])
        )
    skipped = [s.id for s in ran if s.outcome == "skipped"]
    if skipped:
        reasons.append(
            f"{len(skipped)} scenario(s) skipped (not certified): " + ", ".join(skipped[:10])
        )
    reasons += problems
    row = budget_row(concurrency)
    budget_ok = within_budget(row, budget_ms)
    if deployed_budget is not None:
        deployed = _deployed_budget_problems(deployed_budget, budget_ms)
        budget_ok = not deployed
        reasons += deployed
    elif row is None:
        reasons.append(
            f"budget not measured: no figures with {BUDGET_LEVEL} agents in flight "
            "(the bench run failed, or --bench-json names figures without that level)"
        )
    else:
        reasons += _budget_problems(row, budget_ms)
    ok = bool(ran) and not failed and not skipped and not not_run and not problems
    ok = ok and budget_ok
    ok = ok and all(p.verdict == "pass" for p in pairings or [])
    reasons += [_pairing_reason(p) for p in pairings or []]
    reasons += [f"pairing {p.name}: not certified ({p.why})" for p in skipped_pairings]
    if ran and not failed and not skipped and not not_run:
        reasons.append(f"{len(ran)} scenario(s) passed")
    reasons += list(notes)
    reasons += [f"{gap.area}: not certified ({gap.why})" for gap in not_certified(ran)]
    if ran:
        reasons.append(token_hygiene_line(token_hygiene(ran)))
    if deployed_budget is not None and budget_ok:
        reasons.append(
            f"overhead p99 {deployed_budget.p99:.1f} ms <= {budget_ms:.0f} ms "
            f"({deployed_budget.source})"
        )
    elif row is not None and within_budget(row, budget_ms):
        reasons.append(
            f"overhead p99 {row.p99:.1f} ms with {BUDGET_LEVEL} agents in flight <= "
            f"{budget_ms:.0f} ms ({row.mode} loop, n={row.n}, p50 {_ms(row.p50)} ms"
            + (
                f", direct call p99 {row.baseline_p99_ms:.1f} ms)"
                if row.baseline_p99_ms is not None
                else ")"
            )
        )
    if seen.n:
        reasons.append(
            f"for information, not judged: overhead in fault-free scenarios p50 "
            f"{_ms(seen.p50)} / p99 {_ms(seen.p99)} ms (n={seen.n}, "
            f"{getattr(seen, 'target', None)}; cold workers and bursts of 5 included)"
        )
    return ("pass" if ok else "fail"), reasons


def _overhead(figures: Mapping[str, Any]) -> Overhead:
    from harness.report.model import ReportedOverhead

    return ReportedOverhead.model_validate({"n": 0, **figures})


def write(report: CertificationReport, out_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "certification.json"
    md_path = out_dir / "certification.md"
    json_path.write_text(report.to_json())
    md_path.write_text(report_render.markdown(report))
    (out_dir / "certification.html").write_text(report_render.html(report))
    return json_path, md_path


def markdown(report: CertificationReport) -> str:
    return report_render.markdown(report)


def check_word(check: Check) -> str:
    """How a recorded check reads in a table: ok, VIOLATED or not checked."""
    return check.word
