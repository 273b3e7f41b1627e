"""Read the facts a checker needs out of Temporal workflow histories.

Server timestamps only: durations here come from the cluster's own clock, so
they do not depend on where the harness runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from harness import contract
from harness.observe import failures
from harness.observe.failures import Failure

_CLOSE = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}


@dataclass(frozen=True)
class ActivityOptions:
    """What the workflow scheduled the activity with, as the server recorded it
    (ActivityTaskScheduled): seconds, 0.0 where the workflow set none."""

    start_to_close_s: float = 0.0
    schedule_to_close_s: float = 0.0
    heartbeat_s: float = 0.0
    # The retry policy: 0 attempts means unlimited (Temporal's default policy).
    maximum_attempts: int = 0
    non_retryable_error_types: tuple[str, ...] = ()
    has_retry_policy: bool = False

    @property
    def bounded(self) -> bool:
        """Retries end: by an attempt count, or by a ScheduleToClose over all attempts."""
        return self.maximum_attempts > 0 or self.schedule_to_close_s > 0

    def retryable(self, failure: Failure) -> bool:
        """Whether this policy lets Temporal retry after ``failure``: judged from its
        structure (non_retryable, or a type the policy lists), never from its message."""
        app = failure.application
        if app is None:
            return not failure.has(failures.CANCELED)
        return not (app.non_retryable or app.type in self.non_retryable_error_types)


def _seconds(duration: Any) -> float:
    return float(duration.seconds) + float(duration.nanos) / 1e9


def options_of(attributes: Any) -> ActivityOptions:
    retry = attributes.retry_policy
    return ActivityOptions(
        start_to_close_s=_seconds(attributes.start_to_close_timeout),
        schedule_to_close_s=_seconds(attributes.schedule_to_close_timeout),
        heartbeat_s=_seconds(attributes.heartbeat_timeout),
        maximum_attempts=int(retry.maximum_attempts),
        non_retryable_error_types=tuple(retry.non_retryable_error_types),
        has_retry_policy=attributes.HasField("retry_policy"),
    )


class _FailureNames:
    """The failure's type, message and timeout, as an activity and a workflow both name
    them: for messages to humans; checkers decide from ``failure``'s fields."""

    failure: Failure

    @property
    def failure_type(self) -> str:
        return self.failure.type

    @property
    def failure_message(self) -> str:
        return self.failure.message

    @property
    def timeout_type(self) -> str:
        return self.failure.timeout_type


@dataclass
class ActivitySpan(_FailureNames):
    """One activity of a workflow, over all its attempts."""

    activity_id: str
    activity_type: str
    scheduled_at: float
    started_at: float | None = None  # of the last attempt (written at close for retried ones)
    closed_at: float | None = None
    status: str = "open"  # open | completed | failed | timed_out | canceled
    # When the workflow asked for the activity's cancellation. A workflow that does not
    # wait for the cancellation (the SDKs' default, TRY_CANCEL) closes with the activity
    # left at this point: no canceled event follows.
    cancel_requested_at: float | None = None
    attempts: int = 0
    result: Any = None
    # How the last attempt failed or timed out (Temporal's structured failure).
    failure: Failure = field(default_factory=Failure)
    # How the attempt before the last one ended (a retried activity's started event
    # carries it): e.g. a fast failure while Stigma was unreachable.
    last_failure: Failure = field(default_factory=Failure)
    # Timeouts and retry policy it was scheduled with.
    options: ActivityOptions = field(default_factory=ActivityOptions)

    @property
    def duration_s(self) -> float | None:
        return None if self.closed_at is None else self.closed_at - self.scheduled_at


@dataclass
class WorkflowTrace(_FailureNames):
    workflow_id: str
    run_id: str
    status: str = "running"
    started_at: float = 0.0
    closed_at: float | None = None
    first_task_done_at: float | None = None
    result: Any = None
    failure: Failure = field(default_factory=Failure)  # when the workflow failed
    activities: list[ActivitySpan] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    # Every workflow task's start and completion, in order: the stage breakdown
    # of a handshake (harness/observe/stages.py) needs "the first task after X".
    task_started: list[float] = field(default_factory=list)
    task_completed: list[float] = field(default_factory=list)

    def activity(self, activity_id: str) -> ActivitySpan | None:
        return next((a for a in self.activities if a.activity_id == activity_id), None)

    def of_type(self, activity_type: str) -> list[ActivitySpan]:
        return [a for a in self.activities if a.activity_type == activity_type]


ZigflowTrace = WorkflowTrace


@dataclass
class StigmaTrace(WorkflowTrace):
    """A Stigma execution; agent work = end of its first workflow task to the
    close of its ``run_agent`` activity (scheduled on the agents' task queue, run by
    the harness: holds and work happen inside it)."""

    @property
    def agent_work_s(self) -> float | None:
        runs = [
            a for a in self.of_type(contract.NAMES.stigma_agent_activity) if a.closed_at is not None
        ]
        if not runs or self.first_task_done_at is None:
            return None
        closed = runs[-1].closed_at
        assert closed is not None
        return closed - self.first_task_done_at

    @property
    def agent_runs(self) -> int:
        return len(self.of_type(contract.NAMES.stigma_agent_activity))


def _ts(event: HistoryEvent) -> float:
    return float(event.event_time.ToDatetime().timestamp())


def _decode(converter: DataConverter, payloads: Any) -> Any:
    if not payloads.payloads:
        return None
    values = converter.payload_converter.from_payloads(list(payloads.payloads))
    return values[0] if len(values) == 1 else values


def read(history: WorkflowHistory, converter: DataConverter, cls: type[WorkflowTrace]) -> Any:
    trace = cls(history.workflow_id, history.run_id)
    by_scheduled: dict[int, ActivitySpan] = {}
    a: Any  # the attributes message of whichever event this is
    for ev in history.events:
        et = ev.event_type
        if et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            trace.started_at = _ts(ev)
        elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            trace.task_started.append(_ts(ev))
        elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            trace.task_completed.append(_ts(ev))
            if trace.first_task_done_at is None:
                trace.first_task_done_at = trace.task_completed[-1]
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            trace.signals.append(ev.workflow_execution_signaled_event_attributes.signal_name)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = ev.activity_task_scheduled_event_attributes
            span = ActivitySpan(a.activity_id, a.activity_type.name, _ts(ev))
            span.options = options_of(a)
            by_scheduled[ev.event_id] = span
            trace.activities.append(span)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            a = ev.activity_task_started_event_attributes
            span = by_scheduled[a.scheduled_event_id]
            span.started_at, span.attempts = _ts(ev), a.attempt
            span.last_failure = failures.from_proto(a.last_failure)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            a = ev.activity_task_completed_event_attributes
            span = by_scheduled[a.scheduled_event_id]
            span.status, span.closed_at = "completed", _ts(ev)
            span.result = _decode(converter, a.result)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            a = ev.activity_task_failed_event_attributes
            span = by_scheduled[a.scheduled_event_id]
            span.status, span.closed_at = "failed", _ts(ev)
            span.failure = failures.from_proto(a.failure)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            a = ev.activity_task_timed_out_event_attributes
            span = by_scheduled[a.scheduled_event_id]
            span.status, span.closed_at = "timed_out", _ts(ev)
            span.failure = failures.from_proto(a.failure)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
            a = ev.activity_task_cancel_requested_event_attributes
            by_scheduled[a.scheduled_event_id].cancel_requested_at = _ts(ev)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            a = ev.activity_task_canceled_event_attributes
            span = by_scheduled[a.scheduled_event_id]
            span.status, span.closed_at = "canceled", _ts(ev)
        elif et in _CLOSE:
            trace.status, trace.closed_at = _CLOSE[et], _ts(ev)
            if et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                trace.result = _decode(
                    converter, ev.workflow_execution_completed_event_attributes.result
                )
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                f = ev.workflow_execution_failed_event_attributes.failure
                trace.failure = failures.from_proto(f)
    return trace


def when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).isoformat(timespec="milliseconds")
