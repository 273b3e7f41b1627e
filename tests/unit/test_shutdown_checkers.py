"""The shutdown checkers over hand-built histories: each passes a good one and names
the bug in a broken one."""

from __future__ import annotations

from typing import Any

import pytest

from harness.drive import plan as hp
from harness.drive.driver import (
    RESULT_PENDING_COUNTER,
    RESULT_PENDING_METRICS,
    RESULT_PENDING_SEEN,
    SEEN_BY_ACK,
    SEEN_BY_METRIC,
)
from harness.faults.processes import SHUTDOWNS
from harness.judge.shutdown import (
    PENDING,
    START,
    in_flight_kept_over_shutdown,
    stopped_while_result_pending,
    stopped_within_bound,
)
from harness.observe.history import History
from tests.unit.test_checkers import agent_call

pytestmark = pytest.mark.unit


def shutdown(h: History, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "service": "stigma",
        "signal": "SIGTERM",
        "bound_s": 10.0,
        "in_flight": {},
        "stopped_s": 0.2,
        "killed": False,
        "exit_code": 0,
        **over,
    }
    h.measurements.setdefault(SHUTDOWNS, []).append(record)
    return record


def test_a_prompt_clean_exit_is_within_the_bound() -> None:
    h = History("t")
    shutdown(h)
    assert stopped_within_bound(h).ok


@pytest.mark.parametrize(
    ("over", "says"),
    [
        ({"stopped_s": None, "killed": True, "exit_code": -9}, "SIGKILLed"),
        ({"stopped_s": 10.5}, "bound 10 s"),
        ({"exit_code": -6}, "exit code -6"),
    ],
)
def test_a_hung_slow_or_crashing_stop_is_violated(over: dict[str, Any], says: str) -> None:
    h = History("t")
    shutdown(h, **over)
    verdict = stopped_within_bound(h)
    assert not verdict.ok, verdict
    assert says in str(verdict), verdict


def test_no_shutdown_is_nothing_to_check_not_ok() -> None:
    assert not stopped_within_bound(History("t")).ok


def test_in_flight_calls_kept_in_their_attempt_pass() -> None:
    h = History("t")
    state = hp.call_agent("a", hp.succeeds("x"))
    agent_call(h, "pending", state)
    agent_call(h, "starting", state, z_attempts=2)  # its ACK lost with the process
    shutdown(
        h,
        in_flight={
            "pending": {"kind": "pending", "attempt": 1},
            "starting": {"kind": START, "attempt": 1},
        },
    )
    verdict = in_flight_kept_over_shutdown(h)
    assert verdict.ok, verdict
    assert verdict.checked == 2, verdict


def test_a_pending_attempt_ended_by_the_stop_is_violated() -> None:
    h = History("t")
    state = hp.call_agent("a", hp.succeeds("x"))
    agent_call(h, "retried", state, z_attempts=2)
    agent_call(h, "failed", state, z_status="failed", z_failure=("Shutdown", "stopping"))
    agent_call(h, "twice", state, agent_runs=2)
    shutdown(h, in_flight={c: {"kind": "pending", "attempt": 1} for c in h.calls})
    verdict = in_flight_kept_over_shutdown(h)
    text = str(verdict)
    assert not verdict.ok, text
    assert "retried/0-a (pending in flight at the signal): Zigflow's activity was at" in text
    assert "failed/0-a (pending in flight at the signal): Zigflow's activity failed" in text
    assert "twice/0-a (pending in flight at the signal): the agent ran 2 times" in text


def _zigflow_stopped_with_pending(h: History, calls: int = 2) -> None:
    shutdown(
        h,
        service="zigflow",
        in_flight={f"c{i}": {"kind": PENDING, "attempt": 1} for i in range(calls)},
    )


def test_a_stop_after_the_pending_gauge_rose_reached_result_pending() -> None:
    h = History("t")
    _zigflow_stopped_with_pending(h)
    h.measurements[RESULT_PENDING_SEEN] = {
        "seen_by": SEEN_BY_METRIC, "calls": 2, "metric": RESULT_PENDING_COUNTER, "level": 2.0
    }  # fmt: skip
    verdict = stopped_while_result_pending(h)
    assert verdict.status == "ok", verdict
    assert verdict.checked == 2


def test_a_stop_after_the_acks_alone_is_not_checked_never_ok() -> None:
    h = History("t")
    _zigflow_stopped_with_pending(h)
    h.measurements[RESULT_PENDING_SEEN] = {"seen_by": SEEN_BY_ACK, "calls": 2}
    verdict = stopped_while_result_pending(h)
    assert verdict.status == "not_checked", verdict
    assert verdict.missing is not None
    assert verdict.missing.area == "shutdown"
    assert all(name in verdict.missing.why for name in RESULT_PENDING_METRICS)


@pytest.mark.parametrize(
    ("seen", "says"),
    [
        (None, "no record of Zigflow seen result-pending"),
        (
            {"seen_by": SEEN_BY_METRIC, "calls": 1, "metric": RESULT_PENDING_COUNTER, "level": 1.0},
            "on 1",
        ),
    ],
)
def test_a_stop_not_known_to_meet_every_pending_call_is_violated(
    seen: dict[str, Any] | None, says: str
) -> None:
    h = History("t")
    _zigflow_stopped_with_pending(h)
    if seen is not None:
        h.measurements[RESULT_PENDING_SEEN] = seen
    verdict = stopped_while_result_pending(h)
    assert verdict.status == "violated", verdict
    assert says in str(verdict), verdict


def test_no_zigflow_stop_with_pending_calls_is_nothing_to_check_not_ok() -> None:
    h = History("t")
    shutdown(h, in_flight={"c0": {"kind": PENDING, "attempt": 1}})  # Stigma's stop
    assert not stopped_while_result_pending(h).ok
