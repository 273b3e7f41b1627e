"""The verdict, made from the raw records of a run, and made again from them later.

A certification run leaves, under its report directory, everything its verdict rests
on: per pytest run (a target of a pairing) the scenarios' own records
(``results/<label>/results-*.jsonl``), pytest's ledger of what it collected and how
every phase ended (``ledger.json``, ``harness.report.ledger``), the JUnit file, and the
run's exit code, gathered in ``raw/inputs.json`` with the budget figures of each pairing.

``recompute(report_dir)`` turns those into the verdict; certify writes the report from
its result, and ``handshake report --check DIR`` runs it again and compares, so an
edited certification.json, or a verdict that no longer follows from its records, is
caught. It is pure: it reads files and starts nothing.

Reconciliation, per pytest run. The verdict comes from what ran, not from what
reported: every collected test is an entry. A test that failed or errored in any phase,
crashed its worker, or passed without writing its record is failed; one skipped is
skipped (not certified); one collected and never reported is not run. A run whose exit
code disagrees with its records (0 with a failure, 1 with none, any other code), or
that left no ledger or no JUnit file, or whose JUnit disagrees with the ledger, is a
problem of the run, and any problem fails the verdict with its reason.
"""

from __future__ import annotations

import json
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness import contract
from harness.measure import stats
from harness.report import report
from harness.report.ledger import Ledger
from harness.report.model import (
    BehaviourCell,
    BehaviourRow,
    ChildRun,
    ConcurrencyRow,
    Flake,
    GameDay,
    KindDifference,
    KindsDiffer,
    ObservedAspect,
    ObservedCall,
    ObservedOutcome,
    ObservedRetry,
    OffTarget,
    Overhead,
    Pairing,
    PairingSkipped,
    ReportedOverhead,
    ScenarioRecord,
    ScenarioResult,
    ServerKinds,
)
from harness.report.terms import OFF_TARGET_FILE, DeployedBudget
from harness.target import needs as target_needs

INPUTS = pathlib.Path("raw") / "inputs.json"
# Worst first: what a test is when its sources disagree.
_RANK = {"failed": 0, "not_run": 1, "skipped": 2, "passed": 3}


class PairingInput(BaseModel):
    """One pairing as certify ran it: what the report's row needs besides the records."""

    model_config = ConfigDict(extra="forbid")
    meta: dict[str, Any] = Field(description="name, languages, commands, level, scope, ...")
    labels: list[str] = Field(description="the columns (child runs) of its scenarios")
    concurrency: list[ConcurrencyRow] = Field(default_factory=list)


GAME_DAY_FILE = "game_day.json"  # written by harness.load.gameday into the run's directory


class DeploymentInput(BaseModel):
    """A run on a deployed target (``certify --target``). The rest of its record is in
    the run's results directory (off-target scenarios, hooks) and in the game day's
    record (``game_day``), from which its budget figure and findings are made."""

    model_config = ConfigDict(extra="forbid")
    target: str
    zigflow_level: str
    game_day: str | None = Field(
        default=None, description="the game day's record, relative to the report directory"
    )
    no_game_day: str = Field(default="", description="why there is no game day record")


def game_day_judgement(
    out: pathlib.Path, d: DeploymentInput
) -> tuple[GameDay | None, DeployedBudget, list[str], list[str]]:
    """The game day's record, the budget figure it gives (its baseline window: overhead
    p99 under steady load on the deployment), what fails the verdict (a handshake run or
    delivered twice, a fault left behind, handshakes never resolved) and what is named."""
    path = out / d.game_day if d.game_day else None
    if path is None or not path.is_file():
        why = d.no_game_day or f"its record {d.game_day} is missing"
        return None, DeployedBudget(None, 0, f"no game day ({why})"), [], []
    day = GameDay.model_validate_json(path.read_text())
    failing: list[str] = []
    named: list[str] = []
    base = next((w for w in day.windows if w.kind == "baseline"), None)
    if base is None or base.overhead_p99_ms is None:
        budget = DeployedBudget(None, 0, "the game day's baseline has no overhead figure")
    else:
        budget = DeployedBudget(
            base.overhead_p99_ms,
            base.overhead_n,
            f"game day baseline: {base.overhead_n} handshakes at {day.rate_per_s:g}/s steady "
            "load on the deployment",
        )
    if day.exactly_once is not None and day.exactly_once.status == "violated":
        failing.append(
            "game day: exactly once violated: " + "; ".join(day.exactly_once.evidence[:3])
        )
    if day.toxics_left or day.disabled_left:
        failing.append(
            f"game day: faults left behind: toxics {day.toxics_left}, disabled {day.disabled_left}"
        )
    for w in day.windows:
        if w.kind == "baseline":
            continue
        if w.time_to_recover_s is None:
            failing.append(f"game day: {w.name} ({w.fault}): not recovered: {w.recovery}")
            continue
        steady = ""
        if w.steady_after_s is not None:
            steady = f", steady again {w.steady_after_s:.1f} s after the stop"
        elif day.steady_s:
            # Named, not failed: the backlog drained within the bound (what the verdict
            # judges), but no steady span followed before it (e.g. a late drain).
            steady = f", not steady again within {day.recover_s:g} s"
        named.append(
            f"game day: {w.name} ({w.fault}): recovered in {w.time_to_recover_s:.1f} s" + steady
        )
    return day, budget, failing, named


class RawInputs(BaseModel):
    """raw/inputs.json: what certify ran, and how each run ended."""

    model_config = ConfigDict(extra="forbid")
    deployment: DeploymentInput | None = None
    targets: list[str]
    budget_ms: float
    runs: list[ChildRun]
    pairings: list[PairingInput]
    pairings_skipped: list[PairingSkipped] = Field(default_factory=list)
    repeat: int = 1

    def write(self, out: pathlib.Path) -> pathlib.Path:
        path = out / INPUTS
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1, by_alias=True))
        return path

    @classmethod
    def read(cls, out: pathlib.Path) -> RawInputs:
        return cls.model_validate_json((out / INPUTS).read_text())


def junit_key(nodeid: str) -> tuple[str, str]:
    """The (classname, name) pytest's JUnit writer gives a node id."""
    path, *rest = nodeid.split("::")
    module = re.sub(r"\.py$", "", path).replace("/", ".")
    return ".".join([module, *rest[:-1]]), rest[-1] if rest else path


def junit_outcomes(path: pathlib.Path) -> dict[tuple[str, str], str]:
    """Per (classname, name): failed (a failure or an error), skipped or passed."""
    root = ET.parse(path).getroot()
    found: dict[tuple[str, str], str] = {}
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        tags = {child.tag for child in case}
        outcome = "passed"
        if tags & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        old = found.get(key)
        found[key] = outcome if old is None or _RANK[outcome] < _RANK[old] else old
    return found


def _records(directory: pathlib.Path) -> list[ScenarioRecord]:
    found: list[ScenarioRecord] = []
    for path in sorted(directory.glob("results-*.jsonl")) if directory.is_dir() else []:
        found += [
            ScenarioRecord.model_validate_json(line)
            for line in path.read_text().splitlines()
            if line.strip()
        ]
    return found


@dataclass
class Reconciled:
    records: list[ScenarioRecord]  # ids suffixed with the run's label
    problems: list[str]
    collected: int


def reconcile(run: ChildRun, out: pathlib.Path) -> Reconciled:
    """One pytest run's entries (every collected test, as it really ended) and its
    problems (see the module's docstring)."""
    problems: list[str] = []
    directory = out / run.results
    by_id: dict[str, ScenarioRecord] = {}
    for written in _records(directory):
        if written.id in by_id:
            problems.append(f"{written.id}: two records")
        by_id[written.id] = written
    ledger = Ledger.read(directory)
    junit_path = out / run.junit
    junit = junit_outcomes(junit_path) if junit_path.is_file() else None
    if ledger is None:
        problems.append(
            f"no ledger: pytest did not finish (exit code {run.exit_code}); what it did not "
            "record is unknown"
        )
    if junit is None:
        problems.append(f"no JUnit file ({run.junit})")
    ids = list(ledger.collected) if ledger is not None else list(by_id)
    if ledger is not None and not ids and run.exit_code != 0:
        problems.append(f"pytest exited {run.exit_code} and collected nothing")
    entries: list[ScenarioRecord] = []
    for nodeid in ids:
        said = ledger.outcome(nodeid) if ledger is not None else None
        record: ScenarioRecord | None = by_id.pop(nodeid) if nodeid in by_id else None
        junit_said = junit.get(junit_key(nodeid)) if junit is not None else None
        sources = [o for o in (said, record.outcome if record else None, junit_said) if o]
        worst = min(sources, key=_RANK.__getitem__) if sources else "not_run"
        if junit is not None and said is not None and said != "not_run" and junit_said is None:
            problems.append(f"{nodeid}: pytest reported it, the JUnit file does not have it")
        elif said is not None and junit_said is not None and said != junit_said:
            problems.append(f"{nodeid}: ledger says {said}, JUnit says {junit_said}")
        why = ""
        if record is None and worst == "passed":
            worst, why = "failed", "passed but wrote no record: its checks cannot be judged"
        elif record is not None and record.outcome != worst:
            why = f"its record says {record.outcome}, pytest says {said or junit_said}"
        if record is None:
            text = ledger.failure_text(nodeid) if ledger is not None else ""
            longrepr = {
                "failed": why or f"failed without writing its record: {text}",
                "skipped": "skipped (not certified)",
                "not_run": "collected and never run (its worker or the run ended first)",
            }.get(worst, "")
            record = ScenarioRecord(id=nodeid, outcome="passed", duration_s=0.0)
            record = record.model_copy(update={"outcome": worst, "longrepr": longrepr[-2000:]})
        elif why:
            record = record.model_copy(
                update={"outcome": worst, "longrepr": (why + "\n" + record.longrepr)[-2000:]}
            )
        entries.append(record)
    for nodeid, record in by_id.items():
        problems.append(f"{nodeid}: a record for a test pytest did not collect")
        entries.append(record)
    failed = sum(e.outcome == "failed" for e in entries)
    if ledger is not None and ledger.exitstatus != run.exit_code:
        problems.append(
            f"exit code {run.exit_code}, but pytest's session ended with {ledger.exitstatus}"
        )
    if run.exit_code == 0 and any(e.outcome in ("failed", "not_run") for e in entries):
        problems.append(f"exit code 0, but {failed} failed / not run entries")
    elif run.exit_code == 1 and not failed:
        problems.append("exit code 1 (tests failed), but no test is recorded failed")
    elif run.exit_code not in (0, 1):
        meaning = {
            2: "interrupted",
            3: "internal error",
            4: "usage error",
            5: "no tests collected",
        }.get(run.exit_code or -1, "killed or crashed")
        problems.append(f"pytest exit code {run.exit_code} ({meaning})")
    suffix = f"[{run.label}]"
    labelled = [
        e.model_copy(update={"target": run.target, "pairing": run.pairing, "id": e.id + suffix})
        for e in entries
    ]
    return Reconciled(labelled, [f"run {run.label}: {p}" for p in problems], len(ids))


def _file_of(result: ScenarioResult) -> str:
    return result.node_id.split("::", 1)[0].rsplit("/", 1)[-1]


def _applies(b: contract.Behaviour, level: str) -> bool:
    return level in b.levels


def off_target(directory: pathlib.Path) -> dict[str, OffTarget]:
    """The scenarios a deployed target could not serve (the plugin's raw record)."""
    path = directory / OFF_TARGET_FILE
    if not path.is_file():
        return {}
    found = json.loads(path.read_text())
    return {
        nodeid: OffTarget(scenario=nodeid, missing=v["missing"], local_only=v["local_only"])
        for nodeid, v in sorted(found.items())
    }


def _off_cell(b: contract.Behaviour, off: Sequence[OffTarget]) -> BehaviourCell | None:
    """A behaviour none of whose scenarios ran on a deployed target: not certified
    there, for the needs its scenarios lack (local only: the harness's own stack)."""
    mine = [o for o in off if o.scenario.split("::", 1)[0].rsplit("/", 1)[-1] in b.specs]
    if not mine:
        return None
    needs = sorted({n for o in mine for n in o.missing})
    if all(o.local_only for o in mine):
        return BehaviourCell(
            status="local_only",
            scenarios=[o.scenario for o in mine],
            why="needs " + ", ".join(needs) + ": only the harness's own stack has it; "
            "certified by a local run of the same programs (handshake certify)",
        )
    return BehaviourCell(
        status="not_run",
        scenarios=[o.scenario for o in mine],
        why="not certified on this target: needs " + ", ".join(needs),
    )


def behaviour_table(
    results: Sequence[ScenarioResult],
    levels: dict[str, str],
    off: dict[str, Sequence[OffTarget]] | None = None,
) -> list[BehaviourRow]:
    """The contract's behaviours x columns. Per column (``levels``: column -> Zigflow
    level): failed when one of its checkers was violated or one of its own scenarios
    failed; not run when none of its scenarios ran; not checked when its scenarios
    passed and its checkers only said "not checked", or one of its reach checkers
    (``Behaviour.reach``: whether the fault met the state the behaviour is about) said
    so; not applicable when the behaviour
    is not asked of a Zigflow at that level; passed otherwise. ``off`` (per column): on
    a deployed target, the scenarios it could not serve; a behaviour whose scenarios
    all are among them is not run there (``local_only`` when only the harness's own
    stack could run them)."""
    rows = []
    for b in contract.BEHAVIOURS:
        cells: dict[str, BehaviourCell] = {}
        for column, level in levels.items():
            here = [r for r in results if r.label == column]
            if not _applies(b, level):
                cells[column] = BehaviourCell(
                    status="not_applicable", why=f"not asked of a Zigflow at {level} level"
                )
                continue
            # Its own scenario files make it happen: one failing fails it. Judged after
            # every scenario ("*"): any scenario that ran exercised it, but only its
            # checkers' verdicts can fail it (another scenario's failure is not its).
            own = [r for r in here if _file_of(r) in b.specs]
            every = contract.EVERY_SCENARIO in b.specs
            judged = [
                (r, c) for r in here for c in r.checks if c.checker in b.checks
            ]  # any scenario may judge it (e.g. the after-scenario checks)
            ran = [r for r in (here if every else own) if r.outcome in ("passed", "failed")]
            ran += [r for r, _ in judged if r.outcome in ("passed", "failed")]
            bad = [r.id for r in own if r.outcome == "failed"] + [
                r.id for r, c in judged if c.status == "violated"
            ]
            ids = list(dict.fromkeys([*bad, *(r.id for r in ran)]))
            if bad:
                violated = sorted({c.checker for _, c in judged if c.status == "violated"})
                cells[column] = BehaviourCell(
                    status="failed",
                    scenarios=ids,
                    why=("violated: " + ", ".join(violated)) if violated else "a scenario failed",
                )
            elif not ran and (cell := _off_cell(b, (off or {}).get(column, []))) is not None:
                cells[column] = cell
            elif (
                off is not None
                and column in off
                and b.checks
                and not judged
                and not [r for r in own if r.outcome in ("passed", "failed")]
            ):
                # A deployed target: its scenarios ran, but none of its checkers could
                # look (they read what a harness relay saw): not certified there.
                needs = sorted(
                    {target_needs.CHECKER_NEEDS.get(c, "its evidence") for c in b.checks}
                )
                local = set(needs) <= target_needs.LOCAL_ONLY
                cells[column] = BehaviourCell(
                    status="local_only" if local else "not_run",
                    why=f"no verdict of {', '.join(b.checks)} on this target: needs "
                    + ", ".join(needs)
                    + (
                        " (only the harness's own stack; certified by a local run)" if local else ""
                    ),
                )
            elif not ran:
                missing = [r.id for r in own if r.outcome in ("skipped", "not_run")]
                cells[column] = BehaviourCell(
                    status="not_run",
                    scenarios=missing,
                    why="its scenarios were skipped or not run" if missing else "no scenario",
                )
            elif (
                b.checks
                and judged
                and (
                    all(c.status == "not_checked" for _, c in judged)
                    or any(c.checker in b.reach and c.status == "not_checked" for _, c in judged)
                )
            ):
                reasons = sorted({f"{c.area}: {c.why}" for _, c in judged if c.area})
                cells[column] = BehaviourCell(
                    status="not_checked", scenarios=ids, why="; ".join(reasons)
                )
            else:
                cells[column] = BehaviourCell(status="passed", scenarios=ids)
        rows.append(
            BehaviourRow(
                side=b.side,
                does=b.does,
                required=b.required,
                checkers=list(b.checks),
                cells=cells,
            )
        )
    return rows


def behaviour_reasons(rows: Iterable[BehaviourRow]) -> tuple[list[str], list[str]]:
    """(what fails the verdict, what is only not certified), one line per column and
    kind: a required behaviour failed or not run fails it; a failed optional one fails
    it too (its evidence was there and said no); an optional one not run or not checked
    is named."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        short = row.does if len(row.does) <= 70 else row.does[:67] + "..."
        for column, cell in row.cells.items():
            if cell.status == "failed":
                kind = "failed"
            elif cell.status == "not_run" and row.required:
                kind = "required, not run"
            elif cell.status in ("not_run", "not_checked"):
                kind = "not certified"
            elif cell.status == "local_only":
                kind = "certified only by a local run"
            else:
                continue
            groups.setdefault((kind, column), []).append(f"{short} ({cell.why})")
    failing: list[str] = []
    named: list[str] = []
    for (kind, column), items in groups.items():
        line = f"behaviours {kind} on {column} ({len(items)}): " + "; ".join(items)
        (named if kind in ("not certified", "certified only by a local run") else failing).append(
            line
        )
    return failing, named


def flakes(results: Sequence[ScenarioResult], repeat: int) -> list[Flake]:
    """With ``--repeat N``: per scenario and column, runs and failures (flake rate)."""
    if repeat <= 1:
        return []
    groups: dict[str, list[ScenarioResult]] = {}
    for r in results:
        # --repeat's id comes last: "test[run2]", or "test[cell-run2]" with other params.
        base = re.sub(r"-run\d+\]$", "]", re.sub(r"\[run\d+\]$", "", r.node_id))
        groups.setdefault(f"{base}[{r.label}]", []).append(r)
    found = []
    for name, runs in groups.items():
        failed = sum(r.outcome != "passed" for r in runs)
        if failed:
            rate = round(failed / len(runs), 3)
            found.append(Flake(scenario=name, runs=len(runs), failed=failed, rate=rate))
    return sorted(found, key=lambda f: -f.rate)


# -- server kinds: the same scenario, observed on each kind ------------------------------

ASPECTS: tuple[ObservedAspect, ...] = ("outcome", "calls", "checks", "tokens", "retries")
_STIGMA = re.compile(r"^(?P<status>[a-z_]+)(?: \((?P<code>[A-Z_]+)\))?$")


def parse_token_outcome(text: str) -> ObservedCall:
    """An ObservedCall from ``harness.judge.checkers.token_outcome``'s line (the
    corruption examples of records written before ``observed_calls``): "stigma: X (CODE);
    zigflow: failed T | timed out T | STATUS[, workflow failed W]"."""
    parts: dict[str, str] = {}
    for part in text.split("; "):
        name, _, value = part.strip().partition(": ")
        parts[name] = value
    side = parts.get("stigma", "").strip()
    if side.startswith("not started"):
        stigma, code = "not_started", None
    elif side == "no summary":
        stigma, code = "no_summary", None
    elif m := _STIGMA.match(side):
        stigma, code = m["status"], m["code"]
    else:
        stigma, code = side or "missing", None
    zig, _, wf = parts.get("zigflow", "").partition(", workflow failed ")
    zig = zig.strip()
    why: str | None = None
    if zig.startswith("failed "):
        zig, why = "failed", zig[len("failed ") :]
    elif zig.startswith("timed out"):
        zig, why = "timed_out", zig[len("timed out") :].strip() or None
    return ObservedCall(
        stigma=stigma,
        code=code,
        zigflow=zig or "missing",
        why=why,
        workflow="failed" if wf else None,
        workflow_failure=wf or None,
    )


def _counted(items: Iterable[ObservedCall]) -> list[ObservedCall]:
    found: dict[str, ObservedCall] = {}
    for item in items:
        key = item.model_copy(update={"count": 1}).model_dump_json()
        old = found.get(key)
        found[key] = (
            item if old is None else old.model_copy(update={"count": old.count + item.count})
        )
    return [found[k] for k in sorted(found)]


def observed_outcome(record: ScenarioRecord) -> ObservedOutcome:
    """A scenario's observed outcome on its server, from its record alone: how it ended,
    the Zigflow runs it made, each checker's status, what became of each handshake call
    (its token on Stigma's side, the attempts and end of Zigflow's activity and workflow)
    and the retries it saw; never a timing, an id or a seed."""
    if record.observed_calls:
        # 0 attempts of an ended activity: its history recorded no started event.
        tokens = _counted(
            c.model_copy(update={"attempts": c.attempts or None}) for c in record.observed_calls
        )
    else:
        tokens = _counted(parse_token_outcome(c.observed) for c in record.measurements.corruption)
    retries: dict[tuple[int, str], int] = {}
    for r in (record.measurements.model_extra or {}).get("observed_retries") or []:
        if isinstance(r, dict):
            key = (int(r.get("attempt") or 0), str(r.get("failure_type") or ""))
            retries[key] = retries.get(key, 0) + 1
    checks: dict[str, Any] = {}
    worst = {"violated": 0, "not_checked": 1, "ok": 2}
    for c in record.checks:
        # A checker run twice keeps its worst status.
        old = checks.get(c.checker)
        checks[c.checker] = c.status if old is None else min(old, c.status, key=worst.__getitem__)
    return ObservedOutcome(
        server=record.server or record.target,
        outcome=record.outcome,
        calls=record.calls,
        checks=dict(sorted(checks.items())),
        tokens=tokens,
        retries=[
            ObservedRetry(attempt=a, failure_type=t, count=n)
            for (a, t), n in sorted(retries.items())
        ],
    )


def _comparable(observed: Sequence[ObservedOutcome]) -> list[dict[str, Any]]:
    """The outcomes as compared: attempts only where every column recorded every one (a
    history that does not say is not a difference), ``server`` never."""
    known = all(t.attempts is not None for o in observed for t in o.tokens)
    found = []
    for o in observed:
        tokens = (
            o.tokens
            if known
            else _counted(t.model_copy(update={"attempts": None}) for t in o.tokens)
        )
        found.append(o.model_copy(update={"tokens": tokens}).model_dump(exclude={"server"}))
    return found


def _differing(observed: Sequence[ObservedOutcome]) -> list[ObservedAspect]:
    first, *rest = _comparable(observed)
    return [a for a in ASPECTS if any(o[a] != first[a] for o in rest)]


def _declared(records: Iterable[ScenarioRecord]) -> list[KindsDiffer]:
    found: dict[str, KindsDiffer] = {}
    for r in records:
        for d in r.kinds_differ:
            found.setdefault(d.model_dump_json(), d)
    return list(found.values())


def kind_differences(
    records: Sequence[ScenarioRecord], order: Sequence[str] = ()
) -> ServerKinds | None:
    """Per pairing and scenario that ran (passed or failed) on two server kinds or more:
    its observed outcomes, and a difference where they disagree. Expected when the
    scenario declared every differing aspect (``kinds_differ``), with its reasons;
    unexpected otherwise. None when no pairing ran on two kinds. Pure."""
    groups: dict[tuple[str, str], list[ScenarioRecord]] = {}
    for r in records:
        groups.setdefault((r.pairing or "", r.node_id), []).append(r)
    rank = {t: i for i, t in enumerate(order)}
    kinds: set[str] = set()
    compared = same = one = 0
    found: list[KindDifference] = []
    for (pairing, node), group in sorted(groups.items()):
        ran = [r for r in group if r.outcome in ("passed", "failed")]
        if len({r.target for r in group}) < 2:
            continue
        ran.sort(key=lambda r: (rank.get(r.target, len(rank)), r.target))
        observed = {r.label: observed_outcome(r) for r in ran}
        servers = {o.server for o in observed.values()}
        if len({r.target for r in ran}) < 2:
            one += 1
            continue
        if len(servers) < 2:
            same += 1
            continue
        compared += 1
        kinds |= servers
        aspects = _differing(list(observed.values()))
        if not aspects:
            continue
        declared = _declared(group)
        covered = {a for d in declared for a in d.aspects}
        missing = [a for a in aspects if a not in covered]
        reasons = [d.why for d in declared if set(d.aspects) & set(aspects)]
        why = "; ".join(reasons)
        if missing:
            why = "not declared: " + ", ".join(missing) + (f" (declared: {why})" if why else "")
        found.append(
            KindDifference(
                scenario=node,
                pairing=pairing,
                aspects=aspects,
                expected=not missing,
                why=why,
                observed=observed,
            )
        )
    if compared + same + one == 0:
        return None
    found.sort(key=lambda d: (d.expected, d.scenario, d.pairing))
    return ServerKinds(
        kinds=sorted(kinds, key=lambda k: (rank.get(k, len(rank)), k)),
        compared=compared,
        same_server=same,
        one_kind=one,
        differences=found,
    )


@dataclass
class Judgement:
    """Everything the verdict is, recomputed from the raw records."""

    verdict: str
    reasons: list[str]
    records: list[ScenarioRecord]
    results: list[ScenarioResult]
    runs: list[ChildRun]
    pairings: list[Pairing]
    behaviours: list[BehaviourRow]
    flakes: list[Flake]
    overhead: ReportedOverhead
    by_target: dict[str, Overhead]
    concurrency: list[ConcurrencyRow] = field(default_factory=list)
    server_kinds: ServerKinds | None = None


def recompute(out: pathlib.Path) -> Judgement:
    """The verdict of the run whose raw records are under ``out`` (a report directory)."""
    inputs = RawInputs.read(out)
    records: list[ScenarioRecord] = []
    runs: list[ChildRun] = []
    problems: list[str] = []
    for run in inputs.runs:
        got = reconcile(run, out)
        records += got.records
        problems += got.problems
        runs.append(
            run.model_copy(
                update={
                    "collected": got.collected,
                    "problems": [p.split(": ", 1)[1] for p in got.problems],
                }
            )
        )
    results = [r.result() for r in records]
    primary_labels = {r.label for r in inputs.runs if r.primary}
    primary = [r for r in records if r.id.endswith(tuple(f"[{x}]" for x in primary_labels))]
    targets = inputs.targets
    by_target = {
        t: Overhead.model_validate(
            stats.summary([v for s in primary if s.target == t for v in s.overhead_ms])
        )
        for t in targets
    }
    reported = "dev" if "dev" in targets else targets[0]
    overhead = ReportedOverhead(**by_target[reported].model_dump(), target=reported)
    pairings = [
        report.pairing_row(
            p.meta,
            [r for r in results if r.label in p.labels],
            p.concurrency,
            inputs.budget_ms,
        )
        for p in inputs.pairings
    ]
    levels = {
        label: str(p.meta.get("zigflow_level", "workflow"))
        for p in inputs.pairings
        for label in p.labels
    }
    deployed = inputs.deployment
    off: dict[str, Sequence[OffTarget]] = {}
    budget: DeployedBudget | None = None
    day_failing: list[str] = []
    day_named: list[str] = []
    if deployed is not None:
        _, budget, day_failing, day_named = game_day_judgement(out, deployed)
        levels = {run.label: deployed.zigflow_level for run in inputs.runs}
        off = {run.label: list(off_target(out / run.results).values()) for run in inputs.runs}
    rows = behaviour_table(results, levels, off)
    failing, named = behaviour_reasons(rows)
    concurrency = inputs.pairings[0].concurrency if inputs.pairings else []
    verdict, reasons = report.verdict(
        results,
        overhead,
        inputs.budget_ms,
        concurrency,
        pairings,
        inputs.pairings_skipped,
        problems=[*problems, *failing, *day_failing],
        notes=[*named, *day_named],
        deployed_budget=budget,
    )
    return Judgement(
        verdict=verdict,
        reasons=reasons,
        records=records,
        results=results,
        runs=runs,
        pairings=pairings,
        behaviours=rows,
        flakes=flakes(results, inputs.repeat),
        overhead=overhead,
        by_target=by_target,
        concurrency=list(concurrency),
        server_kinds=kind_differences(records, targets),
    )


def check(out: pathlib.Path) -> list[str]:
    """Where certification.json under ``out`` disagrees with its recomputed verdict
    (empty: it follows from its raw records)."""
    from harness.report.model import CertificationReport

    stored = CertificationReport.from_json((out / "certification.json").read_text())
    again = recompute(out)
    diffs: list[str] = []
    if stored.verdict != again.verdict:
        diffs.append(f"verdict: stored {stored.verdict!r}, recomputed {again.verdict!r}")
    if stored.verdict_reasons != again.reasons:
        lost = [r for r in again.reasons if r not in stored.verdict_reasons]
        added = [r for r in stored.verdict_reasons if r not in again.reasons]
        diffs += [f"reason missing from the stored report: {r}" for r in lost]
        diffs += [f"reason not supported by the records: {r}" for r in added]
        if not lost and not added:
            diffs.append("verdict reasons: same lines, another order")
    mine = {s.id: s.outcome for s in again.results}
    theirs = {s.id: s.outcome for s in stored.scenarios}
    for sid in sorted(set(mine) | set(theirs)):
        if mine.get(sid) != theirs.get(sid):
            diffs.append(
                f"scenario {sid}: stored {theirs.get(sid)!r}, recomputed {mine.get(sid)!r}"
            )
    for p_stored, p_again in zip(stored.pairings, again.pairings, strict=False):
        if p_stored.scenarios != p_again.scenarios or p_stored.verdict != p_again.verdict:
            diffs.append(
                f"pairing {p_again.name}: stored {p_stored.verdict} "
                f"{p_stored.scenarios.model_dump()}, recomputed {p_again.verdict} "
                f"{p_again.scenarios.model_dump()}"
            )
    if len(stored.pairings) != len(again.pairings):
        diffs.append(f"pairings: stored {len(stored.pairings)}, recomputed {len(again.pairings)}")
    if [b.model_dump() for b in stored.behaviours] != [b.model_dump() for b in again.behaviours]:
        diffs.append("behaviours table: differs from the recomputed one")
    # Reports written before the comparison have none to check.
    if "server_kinds" in stored.model_fields_set and stored.server_kinds != again.server_kinds:
        diffs.append("server kinds: the stored differences are not the recomputed ones")
    return diffs
