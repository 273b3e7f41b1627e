"""A pytest plugin for a child run: every test report (its node id, phase, outcome and
text: the failure and every section pytest shows beside it) as one JSON line in the file
named by ``--child-reports``. A parent that runs several scenarios in one child
judges each by its own reports (tests/test_mutants.py), not by the run's whole output:
a reason another scenario printed never counts for this one.

Loaded with ``-p tests.child_reports --child-reports PATH``."""

from __future__ import annotations

import json
import pathlib

import pytest

OPTION = "--child-reports"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, help="write every test report as a JSON line to this file")


def report_text(report: pytest.TestReport) -> str:
    """What the terminal shows for the report: its failure, then its sections (the
    harness's service logs and checks, captured output) under their names."""
    parts = [report.longreprtext] if report.longrepr is not None else []
    parts += [f"{name}\n{content}" for name, content in report.sections]
    return "\n".join(parts)


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(OPTION)
    if path:
        config.pluginmanager.register(_Writer(pathlib.Path(path)), "child-reports-writer")


class _Writer:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        _write(self.path, report)


def _write(path: pathlib.Path, report: pytest.TestReport) -> None:
    line = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "text": report_text(report) if report.failed else "",
    }
    with path.open("a") as out:  # one process writes it (-n 0)
        out.write(json.dumps(line) + "\n")


def read(path: pathlib.Path) -> list[dict[str, str]]:
    """The reports a child wrote (none if it wrote no file: it never ran a test)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
