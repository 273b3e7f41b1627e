"""Pytest face of "not checked": checks a scenario could not make because the services
under test do not give some optional evidence (metrics, logs...) are listed at the end
of the run, "not certified: ...", so that a green run never hides them.

Loaded by harness/pytest_plugin.py. Works under xdist: each call report carries the
scenario's not-checked records in its user_properties (serialised to the controller),
and the summary is made from the reports, the same way certify makes its report.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from harness.pytest_plugin import HISTORY_KEY
from harness.report import report as certification
from harness.report.model import Check, ScenarioResult

PROPERTY = "not_checked"  # user_properties key: the not-checked check records


def _not_checked(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in checks if c.get("status") == "not_checked"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    h = item.stash.get(HISTORY_KEY, None)
    if report.when == "call" and h is not None:
        gaps = _not_checked(h.checks)
        if gaps:
            report.user_properties.append((PROPERTY, gaps))
            report.sections.append(
                (
                    "not certified",
                    "\n".join(f"{c['checker']}: {e}" for c in gaps for e in c["evidence"]),
                )
            )
    return report


def _scenarios(reporter: pytest.TerminalReporter) -> list[ScenarioResult]:
    """Each scenario that left something not checked, as certify's records have it."""
    found = []
    for reports in reporter.stats.values():
        for rep in reports:
            if not isinstance(rep, pytest.TestReport) or rep.when != "call":
                continue
            checks = [
                c
                for key, value in rep.user_properties
                if key == PROPERTY and isinstance(value, list)
                for c in value
            ]
            if checks:
                found.append(
                    ScenarioResult(
                        id=rep.nodeid,
                        target="",
                        outcome="passed" if rep.passed else "failed",
                        duration_s=rep.duration,
                        checks=[Check.model_validate(c) for c in checks],
                    )
                )
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    scenarios = _scenarios(terminalreporter)
    gaps = certification.not_certified(scenarios)
    if not gaps:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep(
        "=", "not certified: evidence the services did not give", yellow=True
    )
    for gap in gaps:
        write(f"{gap.area}: not certified ({gap.why})", yellow=True, bold=True)
        for sc in scenarios:
            if sc.id not in gap.scenarios:
                continue
            for check in sc.checks:
                if (check.area, check.why) == (gap.area, gap.why):
                    write(f"  {sc.id}: {check.checker}")
                    for line in check.evidence:
                        write(f"    {line}")
