"""Where a run's time goes, per test and per phase: ``--durations-json PATH``.

The phases of a test, from pytest's three reports and the spans ``harness.spans``
summed meanwhile:

- ``stack_start``: in its setup, starting the stacks it is the first to use (every
  service until SERVING), or waiting for what is left of one started in the background
  (``StackPool.prestart``: the background start itself is no test's);
- ``setup``: the rest of its setup (fixtures);
- ``wait``: in its body, time inside the harness's waits on real time (``harness.waits``);
- ``judge``: the after-scenario checks (``harness.judge.after_scenario``);
- ``body``: the rest of its body (driving, asserting);
- ``teardown``: its fixtures' teardown (the last test of a worker: the stacks' stop too).

The plugin puts a report's phases on the report (a user property, which crosses
xdist); ``DurationsKeeper`` on the process that prints the run (the controller) writes
them all with the run's wall time and workers into one JSON; ``scripts/bench_page.py``
renders it on docs/benchmarks.md. Certify's child runs keep them in each scenario's
record too (``phases_s``).
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import subprocess
import time
from collections.abc import Iterable, Mapping
from typing import Any

from harness import spans

PHASES = ("stack_start", "setup", "wait", "body", "judge", "teardown")
PROPERTY = "handshake_phases"  # the report's user property (crosses xdist)


def phases_of(when: str, duration_s: float, taken: Mapping[str, float]) -> dict[str, float]:
    """The phases of one report (``when``: setup, call or teardown) of ``duration_s``,
    from the spans ``taken`` from the recorder meanwhile. A span's sum is capped by the
    report's duration: the parts never add up to more than pytest measured."""
    d = max(duration_s, 0.0)
    if when == "setup":
        start = min(taken.get(spans.STACK_START, 0.0), d)
        return _rounded({"stack_start": start, "setup": d - start})
    if when == "call":
        judge = min(taken.get(spans.JUDGE, 0.0), d)
        wait = min(taken.get(spans.WAIT, 0.0), d - judge)
        return _rounded({"wait": wait, "judge": judge, "body": d - judge - wait})
    return _rounded({"teardown": d})


def _rounded(phases: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in phases.items()}


def report_property(when: str, duration_s: float, worker: str) -> tuple[str, str]:
    """The user property for a report: its phases (taking the recorder's sums)."""
    phases = phases_of(when, duration_s, spans.RECORDER.take())
    return PROPERTY, json.dumps({"worker": worker, "phases": phases})


def merged(properties: Iterable[str]) -> dict[str, float]:
    """A test's phases from its reports' properties (``report_property``)."""
    phases: dict[str, float] = {}
    for found in properties:
        for phase, seconds in json.loads(found)["phases"].items():
            phases[phase] = round(phases.get(phase, 0.0) + seconds, 3)
    return phases


class DurationsKeeper:
    """A pytest plugin on the process that prints the run: every test's phases from its
    reports, written to ``path`` when the session ends."""

    def __init__(self, path: pathlib.Path, workers: int) -> None:
        self.path = path
        self.workers = workers
        self.started = time.monotonic()
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        found = next((json.loads(str(v)) for k, v in report.user_properties if k == PROPERTY), None)
        if found is None:
            return
        test = self.tests.setdefault(report.nodeid, {"outcome": "passed", "phases": {}})
        test["worker"] = found["worker"]
        for phase, seconds in found["phases"].items():
            test["phases"][phase] = round(test["phases"].get(phase, 0.0) + seconds, 3)
        if report.outcome != "passed" and test["outcome"] == "passed":
            test["outcome"] = f"{report.when} {report.outcome}"

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        write(self.path, document(self.tests, time.monotonic() - self.started, self.workers))


def document(tests: Mapping[str, Any], wall_s: float, workers: int) -> dict[str, Any]:
    """The durations JSON of a run: when, where, its wall time and workers, each test."""
    return {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg": [round(v, 2) for v in os.getloadavg()],
        },
        "git_sha": _git_sha(),
        "wall_s": round(wall_s, 1),
        "workers": workers,
        "phases": list(PHASES),
        "tests": dict(tests),
    }


def _git_sha() -> str | None:
    """The commit the run measured, where it ran from a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def write(path: pathlib.Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def workers_of(numprocesses: object) -> int:
    """The xdist workers of a run (``-n``; none: the process itself, 1)."""
    return numprocesses if isinstance(numprocesses, int) and numprocesses > 0 else 1
