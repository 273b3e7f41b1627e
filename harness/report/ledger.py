"""What pytest itself saw of a run, written beside the scenarios' own records.

A scenario's record (``ScenarioRecord``, one JSON line per test) is written by the
test's worker at its end; a test that crashed its worker, errored before the record
was written or was never run leaves none. A verdict made from the records alone would
be a PASS over those. So the controller of every run (the one process that sees every
collected id and every phase's report, xdist or not) keeps this ledger: the ids it
collected, each phase's outcome per id, and the session's exit status. Certify
reconciles it with the records, the JUnit file and the child's exit code
(``harness.report.verdict``).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FILE = "ledger.json"


class PhaseReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: str = Field(description="setup, call or teardown")
    outcome: str = Field(description="passed, failed or skipped")
    longrepr: str = Field(default="", description="the end of pytest's failure text")


class Ledger(BaseModel):
    """One pytest run as its controller saw it."""

    model_config = ConfigDict(extra="forbid")
    collected: list[str] = Field(default_factory=list, description="node ids selected to run")
    reports: dict[str, list[PhaseReport]] = Field(
        default_factory=dict, description="per node id, each phase's report, in order"
    )
    exitstatus: int | None = Field(default=None, description="the session's exit status")

    def collect(self, ids: list[str]) -> None:
        for nodeid in ids:
            if nodeid not in self.collected:
                self.collected.append(nodeid)

    def add(self, nodeid: str, when: str, outcome: str, longrepr: Any) -> None:
        text = str(longrepr)[-2000:] if outcome == "failed" and longrepr is not None else ""
        self.reports.setdefault(nodeid, []).append(
            PhaseReport(when=when, outcome=outcome, longrepr=text)
        )

    def outcome(self, nodeid: str) -> str:
        """What pytest says of one test: failed (any phase failed: an error counts),
        skipped, passed (its call passed and nothing failed), or not_run (no report, or
        no call report: e.g. its worker died before it started)."""
        phases = self.reports.get(nodeid, [])
        if any(p.outcome == "failed" for p in phases):
            return "failed"
        if any(p.outcome == "skipped" for p in phases):
            return "skipped"
        if any(p.when == "call" and p.outcome == "passed" for p in phases):
            return "passed"
        return "not_run"

    def failure_text(self, nodeid: str) -> str:
        return next(
            (
                f"{p.when}: {p.longrepr}"
                for p in self.reports.get(nodeid, [])
                if p.outcome == "failed"
            ),
            "",
        )

    def write(self, directory: pathlib.Path) -> pathlib.Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE
        path.write_text(self.model_dump_json(indent=1))
        return path

    @classmethod
    def read(cls, directory: pathlib.Path) -> Ledger | None:
        path = directory / FILE
        if not path.is_file():
            return None
        return cls.model_validate(json.loads(path.read_text()))
