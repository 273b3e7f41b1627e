"""What a test run leaves on disk for the report: each scenario's history, its result
record, and on a deployed target the hooks invoked and the scenarios it could not
serve. Plain functions of values: the pytest plugin calls them with what it saw.

A scenario's record is one JSON line (``ScenarioRecord``) in ``results-<worker>.jsonl``
of the ``--handshake-results`` directory; certify reads them back
(``harness.report.verdict``).
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.judge import checkers
from harness.observe.history import History
from harness.report.model import ScenarioRecord
from harness.report.terms import OFF_TARGET_FILE
from harness.stack.stack import Stack

HOOKS_FILE = "hooks.json"  # every hook a --target run invoked (harness.certify_target)


def slug(nodeid: str) -> str:
    """A node id as a file name (its end: the test's name and parameters)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]


def write_history(out: pathlib.Path, nodeid: str, history: History) -> pathlib.Path:
    """The scenario's history under ``out/histories``; the file written."""
    directory = out / "histories"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{slug(nodeid)}.json"
    path.write_text(history.dumps())
    return path


def faults_of(stacks: Sequence[Stack], nodeid: str) -> list[dict[str, Any]]:
    """The faults scenario ``nodeid`` actually injected on the links of ``stacks``."""
    return [
        f
        for s in stacks
        if s.network is not None
        for f in s.network.injected
        if f["scenario"] == nodeid
    ]


def toxiproxy_of(stacks: Sequence[Stack]) -> str | None:
    """The Toxiproxy version behind the scenario's links, if they went through one."""
    return next((s.network.version for s in stacks if s.network is not None), None)


def scenario_record(
    nodeid: str,
    outcome: str,
    duration_s: float,
    history: History | None,
    stacks: Sequence[Stack],
    server: str | None,
    longrepr: str,
    kinds_differ: Sequence[dict[str, Any]] = (),
    phases_s: Mapping[str, float] | None = None,
) -> ScenarioRecord:
    """The result record of one scenario (``server``: the Temporal server its driver
    really ran on, which a real-clock stack may make differ from the row's). Validated
    here, where a wrong field points at the scenario that wrote it, rather than when
    certify reads the file back."""
    h = history
    return ScenarioRecord.model_validate(
        {
            "id": nodeid,
            "outcome": outcome,
            "duration_s": round(duration_s, 3),
            # The design's overhead, not a fault's: a scenario that held agents, killed a
            # process or broke a link (anything on its fault timeline) gives no samples.
            "overhead_ms": (
                [round(v, 3) for v in checkers.overhead_samples_ms(h)] if h and not h.faults else []
            ),
            "checks": h.checks if h else [],
            "calls": len(h.calls) if h else 0,
            "measurements": h.measurements if h else {},
            "server": server,
            "faults": faults_of(stacks, nodeid),
            "toxiproxy": toxiproxy_of(stacks),
            "longrepr": longrepr[-2000:],
            "observed_calls": checkers.observed_calls(h) if h else [],
            "kinds_differ": list(kinds_differ),
            "phases_s": dict(phases_s or {}),
        }
    )


SETUP_ABORT_FILE = "setup-abort.json"


def write_setup_abort(results: pathlib.Path, line: str) -> None:
    """The run stopped before any scenario because its stacks could not start."""
    results.mkdir(parents=True, exist_ok=True)
    (results / SETUP_ABORT_FILE).write_text(json.dumps({"cause": line}))


def setup_aborted(results: pathlib.Path) -> bool:
    return (results / SETUP_ABORT_FILE).is_file()


def append_record(results: pathlib.Path, worker: str, record: ScenarioRecord) -> None:
    """One line more in the worker's results file (each worker writes its own)."""
    results.mkdir(parents=True, exist_ok=True)
    with (results / f"results-{worker}.jsonl").open("a") as f:
        f.write(record.model_dump_json(by_alias=True) + "\n")


def write_off_target(results: pathlib.Path, off: dict[str, dict[str, Any]]) -> None:
    """The scenarios a deployed target cannot serve, each with what it lacks."""
    results.mkdir(parents=True, exist_ok=True)
    (results / OFF_TARGET_FILE).write_text(json.dumps(off, indent=1, sort_keys=True))


def write_hooks(results: pathlib.Path, runs: Sequence[dict[str, Any]]) -> None:
    """Every hook a run on a deployed target invoked (times, exit codes, output tails,
    secrets masked)."""
    results.mkdir(parents=True, exist_ok=True)
    (results / HOOKS_FILE).write_text(json.dumps(list(runs), indent=1))


def failure_sections(
    history: History, stacks: Sequence[Stack], violated: Sequence[str], after: str | None
) -> list[tuple[str, str]]:
    """What a failed scenario's report shows beside pytest's own text: what the
    after-scenario checks found, every violated checker, the seed that replays it, and
    each stack's links and service logs."""
    sections = []
    if after is not None:
        sections.append(("checks judged after the scenario", after))
    if violated:
        # Every checker that failed so far (the body's and the teardown's), not only
        # the one whose assertion ended the test.
        sections.append(("violated checkers", ", ".join(violated)))
    seed = history.measurements.get("chaos_seed")
    if seed is not None:
        sections.append(("chaos seed", f"replay with --chaos-seed {seed}"))
    for running in stacks:
        # Which hops the failing traffic crossed: a fault or relay names its link.
        sections.append((f"stack links: {running.log_dir.name}", running.topology.describe()))
        sections.append((f"service logs (tail): {running.log_dir.name}", running.logs(25)))
    return sections
