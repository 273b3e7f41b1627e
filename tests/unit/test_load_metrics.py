"""The load run's cross-check of the services' metrics: judged when they export them,
"not checked" with the gate's own reasons when they do not, never a silent agreement."""

from __future__ import annotations

from typing import Any

import pytest

from harness.judge import metrics_checks
from harness.judge.expect import holds, recorded
from harness.load import figures
from harness.load.run import metrics_agreement
from harness.observe import metrics
from harness.observe.history import History

pytestmark = pytest.mark.unit

ENDPOINTS = {"zigflow": "127.0.0.1:9001", "stigma": "127.0.0.1:9002"}
REFUSED = "<urlopen error [Errno 111] Connection refused>"


def _zigflow(completed: int) -> metrics.Samples:
    return {("zigflow_agent_activity_completed_total", (("mode", "handshake"),)): completed}


def _stigma(delivered: int) -> metrics.Samples:
    labels = (("kind", "complete"), ("outcome", "delivered"))
    return {("stigma_completion_calls_total", labels): delivered}


def _result(succeeded: int, failed: int = 0) -> dict[str, Any]:
    return {"succeeded": succeeded, "failed": failed}


BEFORE = {"zigflow": _zigflow(3), "stigma": _stigma(3)}


def _agreement(
    after: dict[str, metrics.Samples],
    succeeded: int = 5,
    *,
    before: dict[str, metrics.Samples] | None = None,
    endpoints: dict[str, str] | None = None,
    unscraped: dict[str, str] | None = None,
    local: bool = True,
    failed: int = 0,
) -> dict[str, Any]:
    before = {k: v for k, v in (BEFORE if before is None else before).items() if k in after}
    return metrics_agreement(
        before,
        after,
        _result(succeeded, failed),
        ENDPOINTS if endpoints is None else endpoints,
        unscraped or {},
        local=local,
    )


def test_counters_that_moved_by_the_handshakes_agree() -> None:
    agree = _agreement({"zigflow": _zigflow(8), "stigma": _stigma(8)})
    assert (agree["status"], agree["ok"], agree["checked"]) == ("ok", True, 2)
    assert agree["checker"] == metrics_checks.CHECKER
    assert (agree["zigflow_completed"], agree["stigma_delivered"]) == (5, 5)
    holds(History("load"), recorded(agree))  # nothing violated, nothing missing


def test_a_stigma_counting_each_delivery_twice_disagrees_and_fails_the_scenario() -> None:
    agree = _agreement({"zigflow": _zigflow(8), "stigma": _stigma(13)})
    assert (agree["status"], agree["ok"]) == ("violated", False)
    assert any("stigma_completion_calls_total" in e and "by 10" in e for e in agree["evidence"])
    h = History("load")
    with pytest.raises(AssertionError, match="metrics_agree_with_history: VIOLATED"):
        holds(h, recorded(agree))
    assert h.checks[0]["status"] == "violated"
    md = figures.markdown(_figures(agree), [], [])
    assert "Service metrics DISAGREE with the handshakes" in md


def test_a_stigma_without_metrics_is_not_checked_with_the_gates_reason() -> None:
    # Zigflow's counter is still judged; Stigma's gap is said, with the same "why" as
    # the gate's metrics scenarios, so the report gathers them under one line.
    agree = _agreement({"zigflow": _zigflow(8)}, unscraped={"stigma": REFUSED})
    assert (agree["status"], agree["ok"], agree["checked"]) == ("not_checked", True, 1)
    assert agree["area"] == metrics_checks.AREA
    assert agree["why"] == metrics_checks.exports_none(["stigma"])
    assert "STIGMA_METRICS_LISTEN" in agree["why"]
    assert any(REFUSED in e for e in agree["evidence"])
    h = History("load")
    holds(h, recorded(agree))  # passes: optional evidence
    assert h.checks[0] | {"evidence": []} == {
        "checker": metrics_checks.CHECKER,
        "ok": True,
        "status": "not_checked",
        "checked": 1,
        "evidence": [],
        "area": "metrics",
        "why": "stigma exports no metrics on STIGMA_METRICS_LISTEN",
    }


def test_what_is_exported_is_still_judged_when_the_rest_is_not() -> None:
    agree = _agreement({"zigflow": _zigflow(4)}, unscraped={"stigma": REFUSED})
    assert (agree["status"], agree["ok"]) == ("violated", False)


def test_services_without_metrics_are_not_checked_never_agree() -> None:
    agree = _agreement({}, unscraped={"zigflow": REFUSED, "stigma": REFUSED})
    assert (agree["status"], agree["ok"], agree["checked"]) == ("not_checked", True, 0)
    assert agree["why"] == metrics_checks.exports_none(["zigflow", "stigma"])
    md = figures.markdown(_figures(agree), [], [])
    assert f"Service metrics not checked: {agree['why']}." in md
    assert "agree" not in md


def test_activity_level_says_zigflows_metrics_are_not_judged() -> None:
    agree = _agreement({"stigma": _stigma(8)}, endpoints={"stigma": ENDPOINTS["stigma"]})
    assert (agree["status"], agree["checked"]) == ("not_checked", 1)
    assert agree["why"] == metrics_checks.not_judged_at_activity_level(["zigflow"])


def test_a_target_without_metrics_endpoints_is_not_checked() -> None:
    agree = _agreement({}, endpoints={}, local=False)
    assert (agree["status"], agree["checked"]) == ("not_checked", 0)
    assert agree["why"] == "zigflow and stigma: no --metrics-endpoint given"


def test_a_run_with_failed_handshakes_does_not_compare_its_counters() -> None:
    agree = _agreement({"zigflow": _zigflow(4), "stigma": _stigma(4)}, failed=2)
    assert (agree["status"], agree["checked"]) == ("not_checked", 0)
    assert "failed handshakes" in agree["why"]


def _figures(agree: dict[str, Any]) -> dict[str, Any]:
    summary = figures.summarize([])
    return {**summary, "metrics_agree": agree}
