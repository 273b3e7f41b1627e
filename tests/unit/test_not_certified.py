"""Optional evidence the services do not give: checks say "not checked", the scenario
passes on the rest, and the certification report says what is not certified and why
(the verdict may pass, never silently)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.judge import metrics_checks
from harness.judge.checkers import Missing, Verdict
from harness.judge.expect import holds
from harness.observe.history import History
from harness.report import html as report_html
from harness.report import report
from harness.servers.ports import free_port
from tests.unit.test_report_html import synthetic_report

pytestmark = pytest.mark.unit

NO_METRICS = Missing(
    "metrics",
    "zigflow and stigma export no metrics on ZIGFLOW_METRICS_LISTEN / STIGMA_METRICS_LISTEN",
    ("zigflow exports no metrics at 127.0.0.1:1 (ZIGFLOW_METRICS_LISTEN)",),
)
WITHIN_BUDGET = [{"level": 10, "mode": "open", "n": 110, "p50": 20.0, "p99": 40.0}]
FIGURE = {"n": 0}


def _recorded(*verdicts: Verdict) -> list[dict[str, Any]]:
    h = History("t")
    for v in verdicts:
        holds(h, v)
    return h.checks


def _scenario(sid: str, *verdicts: Verdict) -> dict[str, Any]:
    return {"id": sid, "target": "dev", "outcome": "passed", "duration_s": 0.1,
            "checks": _recorded(*verdicts), "calls": 1}  # fmt: skip


def test_a_not_checked_verdict_is_recorded_as_such_and_does_not_fail_the_test() -> None:
    verdict = Verdict.not_checked("metrics_agree_with_history", NO_METRICS)
    [check] = _recorded(verdict)  # holds did not raise
    assert check["status"] == "not_checked"
    assert check["checked"] == 0
    assert (check["area"], check["why"]) == ("metrics", NO_METRICS.why)
    assert check["evidence"] == [f"not checked: {NO_METRICS.detail[0]}"]
    assert "NOT CHECKED" in str(verdict)
    [ok] = _recorded(Verdict("a", True, 1))
    assert ok["status"] == "ok"
    assert "area" not in ok
    h = History("t")
    with pytest.raises(AssertionError, match="b: VIOLATED"):
        holds(h, Verdict("b", False, 1, ["x"]))
    assert h.checks[0]["status"] == "violated"


def test_report_gathers_not_checked_checks_per_area_and_reason() -> None:
    other = Missing("metrics", "stigma exports no metrics on STIGMA_METRICS_LISTEN")
    scenarios = [
        _scenario("s1[dev]", Verdict("every_call_resolved", True, 2),
                  Verdict.not_checked("metrics_agree_with_history", NO_METRICS)),
        _scenario("s2[dev]", Verdict.not_checked("metrics_agree_with_history", NO_METRICS),
                  Verdict.not_checked("pending_and_stuck_alerts_fire", NO_METRICS)),
        _scenario("s3[dev]", Verdict.not_checked("metrics_agree_with_history", other)),
        _scenario("s4[dev]", Verdict("every_call_resolved", True, 1)),
    ]  # fmt: skip
    assert [g.model_dump() for g in report.not_certified(scenarios)] == [
        {"area": "metrics", "why": NO_METRICS.why, "scenarios": ["s1[dev]", "s2[dev]"]},
        {"area": "metrics", "why": other.why, "scenarios": ["s3[dev]"]},
    ]
    assert report.not_certified(scenarios[3:]) == []


def test_verdict_passes_on_what_was_checked_and_names_what_was_not() -> None:
    scenarios = [
        _scenario("s1[dev]", Verdict("every_call_resolved", True, 2),
                  Verdict.not_checked("metrics_agree_with_history", NO_METRICS)),
    ]  # fmt: skip
    got, reasons = report.verdict(scenarios, FIGURE, 100.0, WITHIN_BUDGET)
    assert got == "pass"
    assert f"metrics: not certified ({NO_METRICS.why})" in reasons
    # everything checked: nothing said about certification gaps
    got, reasons = report.verdict(
        [_scenario("s[dev]", Verdict("every_call_resolved", True, 1))], FIGURE, 100.0, WITHIN_BUDGET
    )
    assert got == "pass"
    assert not [r for r in reasons if "not certified" in r], reasons


def test_md_and_html_show_not_certified_next_to_the_verdict() -> None:
    r = synthetic_report()
    r["verdict"] = "pass"
    r["scenarios"][0]["checks"] = _recorded(
        Verdict.not_checked("metrics_agree_with_history", NO_METRICS)
    )
    r["not_certified"] = report.not_certified(r["scenarios"])
    md = report.markdown(r)
    head, scenarios_table = md.split("## Handshake overhead", 1)
    assert "**Verdict: PASS** (**not certified: metrics**)" in head
    assert "**Not certified: metrics**" in head
    assert NO_METRICS.why in head
    assert "metrics_agree_with_history not checked" in scenarios_table
    page = report_html.render(r)
    verdict = page[page.index('<section id="verdict"') : page.index('<section id="scenarios"')]
    assert "Verdict: PASS (not certified: metrics)</div>" in verdict
    assert "Not certified: metrics" in verdict
    assert NO_METRICS.why in verdict
    assert ">not checked</span>" in page
    # a report with nothing unchecked says nothing about it
    r["not_certified"] = []
    assert "Not certified" not in report.markdown(r)
    assert "Not certified" not in report_html.render(r)


async def test_metrics_missing_names_each_silent_service_and_its_variable() -> None:
    endpoints = {"zigflow": f"127.0.0.1:{free_port()}", "stigma": f"127.0.0.1:{free_port()}"}
    gap = await metrics_checks.missing(endpoints)
    assert gap is not None
    assert gap.area == "metrics"
    assert gap.why == NO_METRICS.why  # the same for every run: no port in it
    assert [d.split(" (")[0] for d in gap.detail] == [
        f"zigflow exports no metrics at {endpoints['zigflow']}",
        f"stigma exports no metrics at {endpoints['stigma']}",
    ]
    h = History("t")
    observed = await metrics_checks.observe_from(h, endpoints)
    verdict = await observed.judged()
    assert verdict.status == "not_checked"
    assert verdict.missing == gap
    assert metrics_checks.KEY not in h.measurements  # nothing scraped, nothing judged
