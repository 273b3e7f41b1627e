"""The certification report: certification.json (for machines) and .md (for people).

Field reference (also in docs handbook, "The certification report"):
  schema            report format version
  generated_at      UTC time the report was written
  verdict           "pass" when every scenario passed on every target and the
                    overhead p99 with 10 agents in flight (``budget``) is within
                    budget_ms; otherwise "fail"
  verdict_reasons   why the verdict is what it is, one line each; one
                    "<area>: not certified (<why>)" per entry of not_certified
  not_certified     what the run could not certify for want of optional evidence
                    the services do not give (e.g. metrics): one object per area
                    and reason: area ("metrics"), why ("zigflow and stigma export
                    no metrics on ZIGFLOW_METRICS_LISTEN / STIGMA_METRICS_LISTEN"),
                    scenarios (ids whose checks said "not checked" for it). Does
                    not fail the verdict: the scenarios passed on what they could
                    check; it says what the "pass" does not cover. [] when nothing
                    was left unchecked
  token_hygiene     the scan of the services' logs for task tokens after every
                    scenario (harness/observe/token_scan.py): scanned (whether any ran),
                    scenarios_scanned, not_scanned (ids of scenarios that ran with no
                    scan: their stack was not the harness's, e.g. a subprocess),
                    tokens, logs, token_x_logs (tokens times logs, summed per
                    scenario and stack), bytes, seconds, hits, and where (file:line
                    and the token's fingerprint of each hit, never the token)
  targets           the Temporal targets of the matrix, e.g. ["time-skipping", "dev"]
  scenarios         one object per scenario and target: id (pytest node id with
                    the target in brackets), target, outcome (passed / failed /
                    skipped), server (the Temporal server it really ran on: kill
                    scenarios use a dev server even in the time-skipping row),
                    duration_s (wall time of the test body), checks
                    (checker verdicts: checker, status ("ok", "violated",
                    "not_checked"; ok is false only when violated), checked,
                    evidence, and area and why when not checked), calls (Zigflow
                    runs made),
                    measurements (what the scenario measured: virtual_skipped_s and
                    clock_wall_s for timeouts, time_to_detect_dead_agent_s,
                    recovery_s after restarts)
  faults            every network fault actually injected: link (stigma_grpc,
                    zigflow_temporal, stigma_temporal), toxic (a Toxiproxy toxic
                    type, or "down"), stream (upstream / downstream / both),
                    scenario, target, attributes; each chaos scenario's seed is in
                    its measurements.chaos_seed
  fault_coverage    the toxic x link grid of what this run injected: one object
                    per link and toxic type (all seven Toxiproxy toxics on all three
                    links, injected or not): link, toxic, upstream and downstream
                    (how many times each direction was injected, all targets)
  budget            what the budget was judged on: the concurrency row with 10
                    agents in flight (open loop when measured, else closed):
                    level, mode, n, p50, p99, baseline_p99_ms, throughput_per_s,
                    errors, within (>= 100 samples, no failed call, p99 <= budget);
                    null when it was not measured (then the verdict is "fail")
  overhead_ms       reported, not judged (see verdict()):
                    per successful handshake in a scenario with an empty fault
                    timeline: Zigflow activity duration minus the agent's own
                    work, both from Temporal histories (server clock):
                    n, p50, p95, p99, max, mean, and target (which server measured it:
                    the dev server when in the matrix, because the time-skipping
                    server's clock is virtual)
  overhead_by_target the same summary for every target
  budget_ms         the plan's overhead budget (100)
  versions          python, temporalio, grpcio, protobuf, each Temporal server,
                    toxiproxy (null until used), git_sha, and the service commands
  wall_s            wall time of the whole certification run
  concurrency       measured by this run (harness.measure.bench, levels 1, 10, 100, 1000 by default,
                    on the first real-clock target) or read from --bench-json: one
                    object per level and mode (closed / open loop): level (calls in
                    flight), mode, n, p50, p95, p99, p999, max (handshake overhead,
                    ms, HDR histogram of server-clock samples), throughput_per_s,
                    baseline_p50_ms and baseline_p99_ms (a direct synchronous
                    activity, same run, same work), ratio_p99, errors,
                    stages_p50_ms / stages_p99_ms (harness/observe/stages.py), cdf and
                    baseline_cdf ([ms, fraction] points), peak_rss_mb and cpu_pct
                    per process (temporal, zigflow, stigma; cpu_pct also harness),
                    max_in_flight, arrival_rate_per_s and agent_seconds (open loop).
                    The p99 with 10 in flight (open loop if measured, else closed)
                    counts against budget_ms
  bench             where the concurrency figures come from: generated_at, target,
                    server, settings (levels, modes, duration_s, service commands,
                    ...), note, source ("measured by this run (dev)" or the
                    --bench-json path)
  pairings          one row per pairing certified (docs handbook, "Certify your own services"):
                    name (e.g. "go-python", "custom" for --zigflow-cmd/--stigma-cmd),
                    zigflow / stigma (language), zigflow_cmd, stigma_cmd,
                    zigflow_level, primary (the pairing that ran the whole matrix),
                    targets, scope (what ran: the matrix, or the gate on the
                    time-skipping server), scenarios (counts: passed, failed,
                    skipped, not_certified = passed scenarios that left a check
                    not checked), budget (as ``budget``, from this pairing's own
                    bench run), concurrency (its bench rows without the CDFs),
                    bench_source, verdict ("pass" / "fail") and reasons. Every
                    pairing's scenarios are in ``scenarios`` too (field pairing; ids
                    of the other pairings end in [<pairing>:<target>])
  pairings_skipped  presets not certified because their program is not built:
                    name, why (the make target that builds it)
  fault_timeline    per scenario that injected faults: scenario, target, spans
                    (name, target, start_s, stop_s: seconds since the test began)
  machine           cpus, cpu_model, platform of the machine that ran the matrix

Files next to certification.json: certification.md, certification.html (self-
contained: verdict, matrix with reproduce commands, latency plots as inline SVG,
fault timeline, environment; harness/report/html.py), junit-<target>.xml per
target, and bench.json (the raw figures of the budget run) when there were some.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from harness.links.network import LINKS, TOXICS, coverage_cell
from harness.report import html as report_html
from harness.report.runbooks import runbook_for

SCHEMA = 1


# The budget applies with this many agents in flight (the plan: "10+ concurrent
# agents", overhead under 100 ms): judged on the open loop's row (agents working while
# handshakes arrive at a fixed rate), else the closed loop's (that many handshakes at
# once with zero-work agents: a saturation figure, stricter than the plan asks).
BUDGET_LEVEL = 10
# A p99 from fewer samples is an upper order statistic of too few values (below 100 it
# is the maximum or less): not enough to say the budget holds.
MIN_BUDGET_SAMPLES = 100


def budget_row(concurrency: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The measured row the budget is judged on, or None when there is none."""
    rows = [c for c in concurrency or [] if c.get("level") == BUDGET_LEVEL]
    return next((c for c in rows if c.get("mode") == "open"), rows[0] if rows else None)


def within_budget(row: dict[str, Any] | None, budget_ms: float) -> bool:
    """Judged and within: enough samples, no failed call, p99 at most the budget."""
    return row is not None and not _budget_problems(row, budget_ms)


def _budget_problems(row: dict[str, Any], budget_ms: float) -> list[str]:
    problems = []
    where = f"with {BUDGET_LEVEL} agents in flight ({row.get('mode')} loop, n={row.get('n')})"
    if row.get("p99") is not None and row["p99"] > budget_ms:
        problems.append(
            f"overhead p99 {row['p99']:.1f} ms {where} exceeds the {budget_ms:.0f} ms budget"
        )
    if row.get("errors"):
        problems.append(
            f"budget not judged: {row['errors']} call(s) failed {where} (a p99 over the "
            "calls that succeeded would flatter it); see bench.json first_errors"
        )
    if (row.get("n") or 0) < MIN_BUDGET_SAMPLES:
        problems.append(
            f"budget not judged: {row.get('n') or 0} samples {where}, fewer than the "
            f'{MIN_BUDGET_SAMPLES} a p99 needs (measure longer: --bench-args "--duration 30")'
        )
    return problems


def budget_summary(concurrency: list[dict[str, Any]], budget_ms: float) -> dict[str, Any] | None:
    """What the budget is judged on (the report's ``budget``), or None if not measured."""
    row = budget_row(concurrency)
    if row is None:
        return None
    keys = ("level", "mode", "n", "p50", "p99", "baseline_p99_ms", "throughput_per_s", "errors")
    return {k: row.get(k) for k in keys} | {"within": within_budget(row, budget_ms)}


# A pairing row's concurrency figures: the rows without their CDFs and stage details.
PAIRING_FIGURES = (
    "level",
    "mode",
    "n",
    "p50",
    "p99",
    "max",
    "baseline_p50_ms",
    "baseline_p99_ms",
    "throughput_per_s",
    "errors",
    "peak_rss_mb",
)


def pairing_row(
    meta: dict[str, Any],
    scenarios: list[dict[str, Any]],
    concurrency: list[dict[str, Any]],
    budget_ms: float,
) -> dict[str, Any]:
    """One pairing's line of the matrix: scenario counts, its own budget, its verdict
    (pass: every scenario passed, and its budget row is judged and within)."""
    counts = {
        "passed": sum(s["outcome"] == "passed" for s in scenarios),
        "failed": sum(s["outcome"] == "failed" for s in scenarios),
        "skipped": sum(s["outcome"] == "skipped" for s in scenarios),
        "not_certified": sum(
            s["outcome"] == "passed"
            and any(c.get("status") == "not_checked" for c in s.get("checks") or [])
            for s in scenarios
        ),
    }
    reasons: list[str] = []
    if not scenarios:
        reasons.append("no scenario ran")
    if counts["failed"]:
        reasons.append(f"{counts['failed']} scenario(s) failed")
    if counts["skipped"]:
        reasons.append(f"{counts['skipped']} scenario(s) skipped (not certified)")
    row = budget_row(concurrency)
    if row is None:
        reasons.append(f"budget not measured: no figures with {BUDGET_LEVEL} agents in flight")
    else:
        reasons += _budget_problems(row, budget_ms)
    return {
        **meta,
        "scenarios": counts,
        "budget": budget_summary(concurrency, budget_ms),
        "concurrency": [{k: c.get(k) for k in PAIRING_FIGURES} for c in concurrency],
        "verdict": "fail" if reasons else "pass",
        "reasons": reasons,
    }


def _pairing_reason(p: dict[str, Any]) -> str:
    c = p["scenarios"]
    if p["verdict"] != "pass":
        return f"pairing {p['name']}: FAIL ({'; '.join(p['reasons'])})"
    b = p.get("budget") or {}
    return (
        f"pairing {p['name']}: pass ({c['passed']} scenario(s) passed, {p.get('scope')}; "
        f"overhead p99 {_ms(b.get('p99'))} ms with {BUDGET_LEVEL} in flight, n={b.get('n')})"
    )


def not_certified(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks recorded "not checked" (status ``not_checked``, harness.judge.expect.holds),
    gathered per area and reason: ``[{"area", "why", "scenarios": [ids]}]``, in the
    order first seen."""
    gaps: dict[tuple[str, str], list[str]] = {}
    for sc in scenarios:
        for check in sc.get("checks") or []:
            if check.get("status") != "not_checked":
                continue
            ids = gaps.setdefault((str(check.get("area")), str(check.get("why"))), [])
            if sc["id"] not in ids:
                ids.append(sc["id"])
    return [{"area": a, "why": w, "scenarios": ids} for (a, w), ids in gaps.items()]


TOKEN_SCAN = "token_hygiene"  # measurements key (harness/observe/token_scan.py KEY)
TOKEN_CHECKER = "no_token_in_logs"


def token_hygiene(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """What the log scans of the run covered and found, added up over its scenarios."""
    totals = dict.fromkeys(("tokens", "logs", "token_x_logs", "bytes", "hits"), 0)
    seconds = 0.0
    scanned, not_scanned, where = 0, [], []
    for sc in scenarios:
        scan = (sc.get("measurements") or {}).get(TOKEN_SCAN)
        if not isinstance(scan, dict):
            if sc.get("outcome") != "skipped":
                not_scanned.append(sc["id"])
            continue
        scanned += 1
        for key in totals:
            totals[key] += int(scan.get(key) or 0)
        seconds += float(scan.get("seconds") or 0.0)
        for check in sc.get("checks") or []:
            if check.get("checker") == TOKEN_CHECKER and not check.get("ok"):
                where += [f"{sc['id']}: {line}" for line in check.get("evidence") or []]
    return {
        "scanned": scanned > 0,
        "scenarios_scanned": scanned,
        "not_scanned": not_scanned,
        **totals,
        "seconds": round(seconds, 3),
        "where": where[:50],
    }


def verdict(
    scenarios: list[dict[str, Any]],
    overhead: dict[str, Any],
    budget_ms: float,
    concurrency: list[dict[str, Any]] | None = None,
    pairings: list[dict[str, Any]] | None = None,
    pairings_skipped: list[dict[str, Any]] | None = None,
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
    (``pairings_skipped``) is named, not failed."""
    reasons: list[str] = []
    row = budget_row(concurrency)
    if row is None:
        reasons.append(
            f"budget not measured: no figures with {BUDGET_LEVEL} agents in flight "
            "(the bench run failed, or --bench-json names figures without that level)"
        )
    else:
        reasons += _budget_problems(row, budget_ms)
    if not scenarios:
        reasons.append("no scenario ran")
    failed = [s["id"] for s in scenarios if s["outcome"] == "failed"]
    if failed:
        reasons.append(f"{len(failed)} scenario(s) failed: " + ", ".join(failed[:10]))
    skipped = [s["id"] for s in scenarios if s["outcome"] == "skipped"]
    if skipped:
        reasons.append(
            f"{len(skipped)} scenario(s) skipped (not certified): " + ", ".join(skipped[:10])
        )
    ok = bool(scenarios) and not failed and not skipped and within_budget(row, budget_ms)
    ok = ok and all(p["verdict"] == "pass" for p in pairings or [])
    reasons += [_pairing_reason(p) for p in pairings or []]
    reasons += [f"pairing {p['name']}: not certified ({p['why']})" for p in pairings_skipped or []]
    if scenarios and not failed and not skipped:
        reasons.append(f"{len(scenarios)} scenario(s) passed")
    reasons += [f"{gap['area']}: not certified ({gap['why']})" for gap in not_certified(scenarios)]
    if scenarios:
        reasons.append(report_html.token_hygiene_line(token_hygiene(scenarios)))
    if row is not None and within_budget(row, budget_ms):
        reasons.append(
            f"overhead p99 {row['p99']:.1f} ms with {BUDGET_LEVEL} agents in flight <= "
            f"{budget_ms:.0f} ms ({row.get('mode')} loop, n={row['n']}, p50 {row['p50']:.1f} ms"
            + (
                f", direct call p99 {row['baseline_p99_ms']:.1f} ms)"
                if row.get("baseline_p99_ms") is not None
                else ")"
            )
        )
    if overhead.get("n"):
        reasons.append(
            f"for information, not judged: overhead in fault-free scenarios p50 "
            f"{overhead['p50']:.1f} / p99 {overhead['p99']:.1f} ms (n={overhead['n']}, "
            f"{overhead.get('target')}; cold workers and bursts of 5 included)"
        )
    return ("pass" if ok else "fail"), reasons


def write(report: dict[str, Any], out_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "certification.json"
    md_path = out_dir / "certification.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(report))
    (out_dir / "certification.html").write_text(report_html.render(report))
    return json_path, md_path


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(r: dict[str, Any]) -> str:
    o = r["overhead_ms"]
    lines = [
        "# Token handshake certification",
        "",
        f"**Verdict: {r['verdict'].upper()}**"
        + _not_certified_mark(r.get("not_certified") or [])
        + f" — generated {r['generated_at']}, "
        f"targets: {', '.join(r['targets'])}, wall time {r['wall_s']:.0f} s.",
        "",
        *[f"- {reason}" for reason in r["verdict_reasons"]],
        "",
        *_not_certified_lines(r.get("not_certified") or []),
        *_pairing_lines(r.get("pairings") or [], r.get("pairings_skipped") or []),
        f"## Handshake overhead (budget {r['budget_ms']} ms at p99 with "
        f"{BUDGET_LEVEL} agents in flight)",
        "",
        "Zigflow activity duration minus the agent's own work, from Temporal's histories.",
        "",
    ]
    b = r.get("budget")
    if b:
        lines += [
            f"Budget: p99 **{_ms(b['p99'])} ms** with {b['level']} agents in flight "
            f"({b['mode']} loop, n={b['n']}, p50 {_ms(b['p50'])} ms, direct call p99 "
            f"{_ms(b.get('baseline_p99_ms'))} ms): "
            + report_html.budget_word(b, r["budget_ms"], "**{}**")
            + ".",
            "",
        ]
    else:
        lines += ["Budget: **not measured** (see the verdict).", ""]
    if r.get("concurrency"):
        src = (r.get("bench") or {}).get("source", "")
        lines += [
            f"### Concurrency ({src})" if src else "### Concurrency",
            "",
            "| mode | in flight | n | p50 | p99 | p99.9 | max | direct p99 | handshakes/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {c['mode']} | {c['level']} | {c['n']} | {_ms(c['p50'])} | {_ms(c['p99'])} | "
            f"{_ms(c['p999'])} | {_ms(c['max'])} | {_ms(c['baseline_p99_ms'])} | "
            f"{c['throughput_per_s']} |"
            for c in r["concurrency"]
        ]
        lines.append("")
    lines += [
        "### In the scenarios (reported, not judged)",
        "",
        "Fault-free scenarios' handshakes: some the first on a fresh worker, some in "
        "bursts of 5 at once.",
        "",
        "| target | n | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for target, s in r["overhead_by_target"].items():
        mark = " (reported)" if target == o.get("target") else ""
        lines.append(
            f"| {target}{mark} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p95'])} | "
            f"{_ms(s['p99'])} | {_ms(s['max'])} |"
        )
    if r.get("fault_coverage"):
        grid = {(c["link"], c["toxic"]): coverage_cell(c) for c in r["fault_coverage"]}
        covered = sum(cell != "-" for cell in grid.values())
        lines += [
            "",
            f"## Fault coverage: {covered} of {len(grid)} toxic x link pairs injected",
            "",
            "| link | " + " | ".join(TOXICS) + " |",
            "|---|" + "---|" * len(TOXICS),
        ]
        lines += [
            f"| {link} | " + " | ".join(grid.get((link, t), "-") for t in TOXICS) + " |"
            for link in LINKS
        ]
    scan = r.get("token_hygiene")
    if scan:
        lines += ["", "## Token hygiene", "", report_html.token_hygiene_line(scan) + "."]
        if scan.get("not_scanned"):
            lines += ["", "Not scanned: " + ", ".join(f"`{i}`" for i in scan["not_scanned"])]
        lines += [f"- `{w}`" for w in scan.get("where") or []]
    if r.get("faults"):
        counts: dict[tuple[str, str, str], int] = {}
        for f in r["faults"]:
            key = (f["link"], f["toxic"], f["stream"])
            counts[key] = counts.get(key, 0) + 1
        lines += [
            "",
            f"## Network faults injected ({len(r['faults'])})",
            "",
            "| link | toxic | stream | times |",
            "|---|---|---|---:|",
        ]
        lines += [f"| {k[0]} | {k[1]} | {k[2]} | {n} |" for k, n in sorted(counts.items())]
    timed = [sc for sc in r["scenarios"] if sc.get("measurements")]
    if timed:
        lines += [
            "",
            "## Time and recovery",
            "",
            "Virtual time skipped and wall time taken, time to detect a dead agent with "
            "heartbeats, recovery after restarts.",
            "",
            "| scenario | server | measured |",
            "|---|---|---|",
        ]
        for sc in timed:
            figures = ", ".join(f"{k}={v}" for k, v in sc["measurements"].items())
            where = sc.get("server") or sc["target"]
            lines.append(f"| `{sc['id'].split('::')[-1]}` | {where} | {figures} |")
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | target | outcome | s | checks |",
        "|---|---|---|---:|---|",
    ]
    for s in r["scenarios"]:
        checks = ", ".join(f"{c['checker']} {check_word(c)}" for c in s["checks"])
        lines.append(
            f"| `{s['id']}` | {s['target']} | {s['outcome']} | {s['duration_s']:.2f} | {checks} |"
        )
    lines += _runbook_lines(r["scenarios"])
    failed = [s for s in r["scenarios"] if s["outcome"] == "failed"]
    if failed:
        lines += ["", "## Failures", ""]
        for s in failed:
            lines += [f"### `{s['id']}`", "", "```", s.get("longrepr", "")[-1500:], "```", ""]
    lines += ["", "## Versions", "", "| component | version |", "|---|---|"]
    lines += [f"| {k} | {v if v is not None else '-'} |" for k, v in r["versions"].items()]
    lines += ["", 'Field reference: docs handbook, "The certification report".', ""]
    return "\n".join(lines)


def check_word(check: dict[str, Any]) -> str:
    """How a recorded check reads in a table: ok, VIOLATED or not checked."""
    if check.get("status") == "not_checked":
        return "not checked"
    return "ok" if check.get("ok") else "VIOLATED"


def figure_at(p: dict[str, Any], level: int, key: str) -> Any:
    """A pairing's figure for ``level`` agents in flight (open loop when measured)."""
    rows = [c for c in p.get("concurrency") or [] if c.get("level") == level]
    row = next((c for c in rows if c.get("mode") == "open"), rows[0] if rows else {})
    return row.get(key)


def pairing_table(
    pairings: list[dict[str, Any]],
) -> tuple[list[str], list[list[str]]]:
    """The pairing matrix as a header and rows of text (markdown and HTML share it)."""
    head = [
        "pairing",
        "Zigflow",
        "Stigma",
        "scope",
        "passed",
        "failed",
        "skipped",
        "not certified",
        f"p50 / p99 @{BUDGET_LEVEL}",
        "n",
        f"direct p99 @{BUDGET_LEVEL}",
        "p50 / p99 @100",
        "peak RSS MB (zigflow / stigma)",
        "verdict",
    ]
    rows = []
    for p in pairings:
        c, b = p["scenarios"], p.get("budget") or {}
        rss = figure_at(p, BUDGET_LEVEL, "peak_rss_mb") or {}
        rows.append(
            [
                p["name"],
                f"{p.get('zigflow')} ({p.get('zigflow_level')} level)",
                str(p.get("stigma")),
                str(p.get("scope")),
                str(c["passed"]),
                str(c["failed"]),
                str(c["skipped"]),
                str(c["not_certified"]),
                f"{_ms(b.get('p50'))} / {_ms(b.get('p99'))}",
                str(b.get("n", "-")),
                _ms(b.get("baseline_p99_ms")),
                f"{_ms(figure_at(p, 100, 'p50'))} / {_ms(figure_at(p, 100, 'p99'))}",
                f"{_ms(rss.get('zigflow'))} / {_ms(rss.get('stigma'))}",
                p["verdict"].upper(),
            ]
        )
    return head, rows


def _pairing_lines(pairings: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> list[str]:
    if not pairings and not skipped:
        return []
    head, rows = pairing_table(pairings)
    lines = [
        "## Pairings",
        "",
        "Each Zigflow and Stigma pairing certified by this run, with its own budget run "
        "(overhead in ms, open loop; direct = the plain synchronous activity, same stack, "
        "same run).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *["| " + " | ".join(row) + " |" for row in rows],
        "",
    ]
    lines += [f"Not certified: **{p['name']}** — {p['why']}." for p in skipped]
    return [*lines, ""] if skipped else lines


def _not_certified_mark(gaps: list[dict[str, Any]]) -> str:
    """On the verdict's own line, so a "PASS" is never read without it."""
    if not gaps:
        return ""
    return f" (**not certified: {', '.join(sorted({g['area'] for g in gaps}))}**)"


def _not_certified_lines(gaps: list[dict[str, Any]]) -> list[str]:
    """Right under the verdict: what its "pass" does not cover."""
    if not gaps:
        return []
    lines = [
        f"**Not certified: {', '.join(sorted({g['area'] for g in gaps}))}** — the services "
        "did not give the evidence; the verdict does not cover it.",
        "",
        "| area | why | scenarios that could not check it |",
        "|---|---|---|",
    ]
    for g in gaps:
        ids = ", ".join(f"`{i}`" for i in g["scenarios"][:10])
        more = f" and {len(g['scenarios']) - 10} more" if len(g["scenarios"]) > 10 else ""
        lines.append(f"| {g['area']} | {g['why']} | {ids}{more} |")
    return [*lines, ""]


def _runbook_lines(scenarios: list[dict[str, Any]]) -> list[str]:
    """For every violated check, the runbook an operator opens (harness/report/runbooks.py)."""
    rows = []
    for sc in scenarios:
        for check in sc.get("checks", []):
            book = None if check.get("ok", True) else runbook_for(check["checker"])
            if book:
                rows.append(f"| `{sc['id']}` | {check['checker']} | [{book}]({book}) |")
    if not rows:
        return []
    head = ["", "## Runbooks for violated checks", "", "Paths from the repository root.", ""]
    return [*head, "| scenario | check | runbook |", "|---|---|---|", *rows]
