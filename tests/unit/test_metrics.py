"""Metrics parsing and the metrics-vs-history checker over hand-built histories."""

from __future__ import annotations

from typing import Any

import pytest

from harness import contract
from harness.drive import plan as hp
from harness.judge import metrics_checks
from harness.observe import metrics
from harness.observe.history import History
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace
from reference_services.common import metrics as service_metrics

pytestmark = pytest.mark.unit

EXPOSITION = """\
# HELP zigflow_agent_activity_completed_total done
# TYPE zigflow_agent_activity_completed_total counter
zigflow_agent_activity_completed_total{mode="handshake"} 3
zigflow_agent_activity_completed_total{mode="direct"} 1
zigflow_agent_activities_pending 2
stigma_completion_calls_total{kind="complete",outcome="delivered"} 3
weird_label{msg="a \\"quoted\\" value"} 1e3
"""


def test_parse_reads_names_labels_and_values() -> None:
    s = metrics.parse(EXPOSITION)
    assert s[("zigflow_agent_activity_completed_total", (("mode", "handshake"),))] == 3
    assert metrics.total(s, "zigflow_agent_activity_completed_total") == 4
    assert metrics.total(s, "zigflow_agent_activity_completed_total", mode="direct") == 1
    assert s[("zigflow_agent_activities_pending", ())] == 2
    # label escapes are decoded, as Prometheus itself reads them
    assert s[("weird_label", (("msg", 'a "quoted" value'),))] == 1000


def test_a_malformed_exposition_is_an_error_not_an_empty_scrape() -> None:
    with pytest.raises(ValueError, match=r"Invalid line|could not convert"):
        metrics.parse('zigflow_agent_activities_pending{mode="x} 2\n')
    histogram = (
        '# TYPE d histogram\nd_bucket{le="0.1"} 1\nd_bucket{le="+Inf"} 2\nd_sum 0.3\nd_count 2\n'
    )
    s = metrics.parse(histogram)
    assert s[("d_bucket", (("le", "+Inf"),))] == 2
    assert s[("d_count", ())] == 2


def test_delta_counts_new_series_from_zero() -> None:
    before = metrics.parse("a_total 2\n")
    after = metrics.parse('a_total 5\nb_total{x="1"} 1\n')
    assert metrics.delta(before, after) == {("a_total", ()): 3, ("b_total", (("x", "1"),)): 1}
    assert metrics.from_json(metrics.to_json(after)) == after


def test_exported_names_follow_prometheus_conventions() -> None:
    for name in service_metrics.exported_names():
        assert name.startswith(("zigflow_", "stigma_")), name
        assert name == name.lower()
    assert "zigflow_agent_activity_started_total" in service_metrics.exported_names()


def _call(h: History, call_id: str, z_status: str, completion: str | None, mode: str) -> None:
    state = hp.call_agent("s", hp.succeeds(1), mode=mode)
    h.invoke(call_id, "plan", hp.plan(state))
    call = h.calls[call_id]
    act = hp.activity_id(0, state)
    call.zigflow = WorkflowTrace(
        call_id,
        "run",
        status="completed",
        activities=[ActivitySpan(act, "ExecuteAgent", 1.0, closed_at=2.0, status=z_status)],
    )
    result: dict[str, Any] = {"agent_outcome": "succeeded"}
    if completion:
        result["completion"] = {"status": completion}
    call.stigma[act] = StigmaTrace(f"stigma-{call_id}", "r", status="completed", result=result)
    h.complete(call_id, "ok", {})


def _record(h: History, service: str, before: str, after: str) -> None:
    h.measurements.setdefault(metrics_checks.KEY, {})[service] = {
        "before": metrics.to_json(metrics.parse(before)),
        "after": metrics.to_json(metrics.parse(after)),
    }


def _history(zig_after: str, stigma_after: str) -> History:
    h = History("t")
    _call(h, "c1", "completed", "delivered", "handshake")
    _call(h, "c2", "failed", "delivered", "handshake")
    _call(h, "c3", "completed", None, "direct")
    _record(h, "zigflow", "zigflow_agent_activities_pending 4\n", zig_after)
    _record(h, "stigma", "", stigma_after)
    return h


GOOD_ZIG = """\
zigflow_agent_activity_completed_total{mode="handshake"} 1
zigflow_agent_activity_failed_total{mode="handshake",error_type="X"} 1
zigflow_agent_activity_completed_total{mode="direct"} 1
zigflow_agent_activities_pending 4
"""
GOOD_STIGMA = """\
stigma_completion_calls_total{kind="complete",outcome="delivered"} 1
stigma_completion_calls_total{kind="fail",outcome="delivered"} 1
"""


def test_agreeing_metrics_pass() -> None:
    verdict = metrics_checks.metrics_agree_with_history(_history(GOOD_ZIG, GOOD_STIGMA))
    assert verdict.ok, verdict


def test_counter_that_missed_an_outcome_is_named() -> None:
    zig = GOOD_ZIG.replace('error_type="X"} 1', 'error_type="X"} 0')
    verdict = metrics_checks.metrics_agree_with_history(_history(zig, GOOD_STIGMA))
    assert not verdict.ok
    assert any(
        "zigflow_agent_activity_failed_total{mode=handshake} moved by 0" in e
        for e in verdict.evidence
    ), verdict


def test_missing_delivery_is_named() -> None:
    stigma = GOOD_STIGMA.splitlines()[0] + "\n"
    verdict = metrics_checks.metrics_agree_with_history(_history(GOOD_ZIG, stigma))
    assert not verdict.ok
    assert "delivered moved by 1" in "\n".join(verdict.evidence)


GOOD_RUNNING = GOOD_STIGMA + "stigma_workflows_running 0\n"


def _gauged(zig_after: str, stigma_after: str) -> History:
    h = _history(zig_after, stigma_after)
    _record(h, "stigma", "stigma_workflows_running 0\n", stigma_after)
    return h


def test_gauges_back_where_they_were_pass() -> None:
    verdict = metrics_checks.gauges_back_to_baseline(_gauged(GOOD_ZIG, GOOD_RUNNING))
    assert verdict.status == "ok", verdict
    assert verdict.checked == 2


def test_a_gauge_left_off_its_baseline_is_named_with_service_and_levels() -> None:
    zig = GOOD_ZIG.replace("pending 4", "pending 5")
    stigma = GOOD_RUNNING.replace("running 0", "running 2")
    verdict = metrics_checks.gauges_back_to_baseline(_gauged(zig, stigma))
    assert not verdict.ok
    text = "\n".join(verdict.evidence)
    assert "zigflow: zigflow_agent_activities_pending is 5 after the scenario, 4 before" in text
    assert "stigma: stigma_workflows_running is 2 after the scenario, 0 before" in text


def test_gauges_are_not_judged_while_a_call_is_in_flight() -> None:
    h = _gauged(GOOD_ZIG, GOOD_RUNNING.replace("running 0", "running 1"))
    state = hp.call_agent("s", hp.succeeds(1))
    h.invoke("c4", "plan", hp.plan(state))  # no outcome yet: its agent may be running
    verdict = metrics_checks.gauges_back_to_baseline(h)
    assert verdict.status == "not_checked", verdict
    assert verdict.missing is not None
    assert "in flight" in verdict.missing.why


def test_a_gauge_the_service_does_not_export_is_not_checked_never_ok() -> None:
    verdict = metrics_checks.gauges_back_to_baseline(_history(GOOD_ZIG, GOOD_STIGMA))
    assert verdict.status == "not_checked", verdict
    assert verdict.checked == 1  # Zigflow's pending gauge was judged


def test_the_contract_lists_the_gauges_the_reference_services_export() -> None:
    assert {t.value for t in contract.GAUGES} == set(service_metrics.GAUGES)


def test_missing_snapshot_is_a_violation_not_a_pass() -> None:
    verdict = metrics_checks.metrics_agree_with_history(History("empty"))
    assert not verdict.ok
    assert "no before/after metrics snapshot" in verdict.evidence[0]


def test_pending_gauge_ignores_a_late_ack_after_resolution() -> None:
    """A fast agent's completion can reach the workflow before the activity that got
    the ACK counts itself pending; the key must not stay pending for ever."""
    state = service_metrics._state
    service_metrics.agent_activity_pending("wf/run/0-a")
    service_metrics.agent_activity_resolved("wf/run/0-a", "handshake", "completed", 0.1, False)
    service_metrics.agent_activity_resolved("wf/run/0-b", "handshake", "completed", 0.1, False)
    service_metrics.agent_activity_pending("wf/run/0-b")  # the late one
    assert "wf/run/0-a" not in state.pending
    assert "wf/run/0-b" not in state.pending
