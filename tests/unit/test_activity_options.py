"""Activity options are judged from the ActivityTaskScheduled event, and a timeout by
when it came, not only by its type."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import RetryPolicy
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import ActivityTaskFailedEventAttributes

from harness.drive.plan import DEFAULT_START_TO_CLOSE_S
from harness.judge import checkers
from harness.observe.history import History
from tests.unit.test_failures import (
    _event,
    activity_failure,
    application,
    record,
    timed_out_by,
    timeout,
    zigflow_history,
)

pytestmark = pytest.mark.unit


def _seconds(s: float) -> Duration:
    d = Duration()
    d.FromMilliseconds(int(s * 1000))
    return d


def scheduled(
    start_to_close_s: float = DEFAULT_START_TO_CLOSE_S,
    heartbeat_s: float = 0.0,
    maximum_attempts: int = 5,
    schedule_to_close_s: float = 0.0,
    non_retryable: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "start_to_close_timeout": _seconds(start_to_close_s),
        "schedule_to_close_timeout": _seconds(schedule_to_close_s),
        "heartbeat_timeout": _seconds(heartbeat_s),
        "retry_policy": RetryPolicy(
            maximum_attempts=maximum_attempts, non_retryable_error_types=list(non_retryable)
        ),
    }


def _history(**options: Any) -> History:
    h = History("options")
    record(
        h,
        zigflow_history(
            "zig-o", activity_end=None, workflow_failure=None, scheduled=scheduled(**options)
        ),
    )
    return h


def test_the_reference_options_hold() -> None:
    assert checkers.agent_activity_options(_history()).status == "ok"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"start_to_close_s": 300.0}, "shorter than the agent may run"),
        ({"maximum_attempts": 0}, "unbounded retry policy"),
        ({"maximum_attempts": 2}, "the plan asked for 5"),
        ({"heartbeat_s": 30.0}, "heartbeat timeout 30s"),
        ({"schedule_to_close_s": 600.0}, "ScheduleToClose 600s is shorter"),
    ],
    ids=["short-start-to-close", "unbounded", "other-attempts", "heartbeat", "schedule-to-close"],
)
def test_options_the_plan_did_not_ask_for_are_violations(
    options: dict[str, Any], says: str
) -> None:
    verdict = checkers.agent_activity_options(_history(**options))
    assert verdict.status == "violated"
    assert any(says in e for e in verdict.evidence), verdict.evidence


def test_a_timeout_is_judged_by_when_it_came() -> None:
    def judged(after_s: float) -> checkers.Verdict:
        h = History("when")
        record(
            h,
            zigflow_history(
                "zig-t",
                activity_end=timed_out_by(timeout("StartToClose"), after_s=after_s),
                workflow_failure=activity_failure(timeout("StartToClose")),
            ),
        )
        return checkers.timed_out(h, "START_TO_CLOSE")

    assert judged(DEFAULT_START_TO_CLOSE_S).ok
    early = judged(300.0)
    assert not early.ok
    assert "timed out 300.0s after its attempt started" in early.evidence[0]
    assert not judged(DEFAULT_START_TO_CLOSE_S + 3600).ok


@pytest.mark.parametrize(
    ("non_retryable", "listed", "ok"),
    [(True, (), True), (False, ("Refused",), True), (False, (), False)],
    ids=["flagged", "listed-by-type", "retryable"],
)
def test_a_permanent_rejection_must_not_be_retryable(
    non_retryable: bool, listed: tuple[str, ...], ok: bool
) -> None:
    refusal = application("StartAgent refused: INVALID_ARGUMENT", "Refused")
    refusal.application_failure_info.non_retryable = non_retryable
    failed = _event(
        4,
        100.5,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        activity_task_failed_event_attributes=ActivityTaskFailedEventAttributes(
            scheduled_event_id=2, failure=refusal
        ),
    )
    h = History("rejected")
    record(
        h,
        zigflow_history(
            "zig-r",
            activity_end=failed,
            workflow_failure=application("state failed", "StateFailed", activity_failure(refusal)),
            scheduled=scheduled(non_retryable=listed),
        ),
    )
    verdict = checkers.permanent_rejection_not_retried(h)
    assert verdict.ok is ok, verdict
