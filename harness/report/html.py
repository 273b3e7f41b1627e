"""certification.html: the report a release manager reads in a browser.

Self-contained on purpose: inline CSS and inline SVG made from the run's data, no
script, no font, no image or style sheet from anywhere (it must render the same
offline and behind a proxy; `make check-report` opens it in headless Chromium with
the network off). Sections, in reading order: verdict, pairings, scenario matrix (a
grid: one row per scenario, one column per target, with seeds and a command to
reproduce each failure), latency, fault timeline, token hygiene, environment. The page
itself is harness/report/templates/certification.html.j2 (harness.report.render).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report import render as report_render
from harness.report.model import CertificationReport, ScenarioResult, TemporalConnection

OVERHEAD_STAGES = report_render.OVERHEAD_STAGES
SECTIONS = report_render.SECTIONS


def _scenario(scenario: ScenarioResult | Mapping[str, Any]) -> ScenarioResult:
    if isinstance(scenario, ScenarioResult):
        return scenario
    return ScenarioResult.model_validate({"outcome": "passed", "duration_s": 0.0, **scenario})


def node_id(scenario: ScenarioResult | Mapping[str, Any]) -> str:
    """The pytest node id of a matrix row (its id without the ``[target]`` suffix)."""
    return _scenario(scenario).node_id


def reproduce(
    scenario: ScenarioResult | Mapping[str, Any],
    versions: Mapping[str, str | None] | None = None,
    connection: TemporalConnection | Mapping[str, Any] | None = None,
) -> str:
    """The command that runs one matrix row again (harness.report.render.reproduce)."""
    if connection is not None and not isinstance(connection, TemporalConnection):
        connection = TemporalConnection.model_validate(connection)
    return report_render.reproduce(_scenario(scenario), versions, connection)


def render(r: CertificationReport | Mapping[str, Any]) -> str:
    return report_render.html(r)
