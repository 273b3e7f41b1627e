"""The load run's cross-check of the services' metrics: judged when they export them,
"not checked" with the gate's own reasons when they do not, never a silent agreement."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import pytest

from harness.judge import metrics_checks
from harness.judge.expect import holds, recorded
from harness.load import figures
from harness.load.run import _settled_scrape, metrics_agreement
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


class WindingDown(http.server.BaseHTTPRequestHandler):
    """A Stigma's metrics a moment after Zigflow's result came back: one execution still
    running, its delivery not counted yet, for the first ``busy_scrapes`` scrapes; then
    the execution closed and its delivery counted."""

    busy_scrapes = 3
    scrapes = 0

    def do_GET(self) -> None:
        cls = type(self)
        cls.scrapes += 1
        busy = cls.scrapes <= cls.busy_scrapes
        body = (
            f"stigma_workflows_running {1 if busy else 0}\n"
            'stigma_completion_calls_total{kind="complete",outcome="delivered"} '
            f"{3 if busy else 4}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


async def test_a_run_counts_from_after_the_warm_ups_last_delivery() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WindingDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        unscraped: dict[str, str] = {}
        scraped = await _settled_scrape({"stigma": address, "zigflow": "127.0.0.1:1"}, unscraped)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    # The baseline includes the warm-up's delivery: the run's own deliveries are judged.
    assert metrics.total(scraped["stigma"], "stigma_completion_calls_total") == 4
    assert WindingDown.scrapes > WindingDown.busy_scrapes
    assert set(unscraped) == {"zigflow"}  # an endpoint that does not answer is left out
