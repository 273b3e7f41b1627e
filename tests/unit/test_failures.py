"""Failures are judged from Temporal's structured record, never from message text:
histories built from real history-event protos (worded as a Go Zigflow words them,
or in another language) go through ``traces.read`` to the checkers."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, Payloads
from temporalio.api.enums.v1 import EventType, RetryState, TimeoutType
from temporalio.api.failure.v1 import (
    ActivityFailureInfo,
    ApplicationFailureInfo,
    TimeoutFailureInfo,
)
from temporalio.api.failure.v1 import Failure as FailureProto
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    ActivityTaskTimedOutEventAttributes,
    HistoryEvent,
    WorkflowExecutionFailedEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError
from temporalio.exceptions import TimeoutType as SdkTimeoutType

from harness.drive import plan as hp
from harness.drive.strategies import BadRequest, refusal_problems
from harness.judge import checkers
from harness.observe import failures, traces
from harness.observe.history import History
from harness.servers.probe import Answer
from scenarios.test_handshake_model import AGENT_ERROR_TYPE, _kind

pytestmark = pytest.mark.unit

CONVERTER = DataConverter.default
STATE = hp.call_agent("ask", hp.succeeds("hello"))
ACT = hp.activity_id(0, STATE)


# --- Failure protos, as other SDKs write them ----------------------------------------


def application(message: str, type_: str, cause: FailureProto | None = None) -> FailureProto:
    f = FailureProto(message=message, application_failure_info=ApplicationFailureInfo(type=type_))
    if cause is not None:
        f.cause.CopyFrom(cause)
    return f


def timeout(message: str, kind: int = TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE) -> FailureProto:
    return FailureProto(message=message, timeout_failure_info=TimeoutFailureInfo(timeout_type=kind))


def activity_failure(
    cause: FailureProto, retry: int = RetryState.RETRY_STATE_TIMEOUT
) -> FailureProto:
    f = FailureProto(
        message="activity error",
        activity_failure_info=ActivityFailureInfo(
            activity_type=ActivityType(name="ExecuteAgent"), activity_id=ACT, retry_state=retry
        ),
    )
    f.cause.CopyFrom(cause)
    return f


# --- a Zigflow history, event by event --------------------------------------------------


def _event(event_id: int, at: float, event_type: int, **attributes: Any) -> HistoryEvent:
    ts = Timestamp()
    ts.FromMilliseconds(int(at * 1000))
    return HistoryEvent(event_id=event_id, event_time=ts, event_type=event_type, **attributes)


def zigflow_history(
    call_id: str,
    *,
    activity_end: HistoryEvent | None,
    workflow_failure: FailureProto | None,
    attempt: int = 1,
    last_failure: FailureProto | None = None,
    scheduled: dict[str, Any] | None = None,
) -> WorkflowHistory:
    """Started, the agent activity scheduled and started (at ``attempt``), closed by
    ``activity_end`` (event 4), then the workflow failed with ``workflow_failure``."""
    events = [
        _event(
            1,
            100.0,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                original_execution_run_id=f"{call_id}-run"
            ),
        ),
        _event(
            2,
            100.1,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                activity_id=ACT,
                activity_type=ActivityType(name="ExecuteAgent"),
                **(scheduled or {}),
            ),
        ),
        _event(
            3,
            100.2,
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=ActivityTaskStartedEventAttributes(
                scheduled_event_id=2, attempt=attempt, last_failure=last_failure
            ),
        ),
    ]
    if activity_end is not None:
        events.append(activity_end)
    if workflow_failure is not None:
        events.append(
            _event(
                5,
                101.0,
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
                workflow_execution_failed_event_attributes=WorkflowExecutionFailedEventAttributes(
                    failure=workflow_failure
                ),
            )
        )
    return WorkflowHistory(call_id, events)


def completed_with(result: Any) -> HistoryEvent:
    return _event(
        4,
        100.5,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
            scheduled_event_id=2,
            result=Payloads(payloads=CONVERTER.payload_converter.to_payloads([result])),
        ),
    )


def timed_out_by(
    failure: FailureProto, after_s: float = hp.DEFAULT_START_TO_CLOSE_S
) -> HistoryEvent:
    """The attempt started at 100.2 timed out ``after_s`` later (default: the plan's
    StartToClose, when a correct timeout comes)."""
    return _event(
        4,
        100.2 + after_s,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        activity_task_timed_out_event_attributes=ActivityTaskTimedOutEventAttributes(
            scheduled_event_id=2, failure=failure
        ),
    )


def record(h: History, history: WorkflowHistory) -> None:
    h.invoke(history.workflow_id, "plan", hp.plan(STATE))
    h.calls[history.workflow_id].zigflow = traces.read(history, CONVERTER, traces.WorkflowTrace)
    h.complete(history.workflow_id, "fail", None)


def foreign(call_id: str) -> dict[str, Any]:
    return {"output": "theirs", "zigflow_workflow_id": call_id, "zigflow_activity_id": ACT}


# --- the chain --------------------------------------------------------------------------


def test_a_proto_chain_keeps_kinds_types_and_the_timeout_type() -> None:
    got = failures.from_proto(
        application("state failed", "StateFailed", activity_failure(timeout("StartToClose")))
    )

    assert [link.kind for link in got.chain] == ["application", "activity", "timeout"]
    assert (got.kind, got.type, got.timeout_type, got.is_timeout) == (
        "application",
        "StateFailed",
        "START_TO_CLOSE",
        True,
    )
    assert got.links(failures.ACTIVITY)[0].retry_state == "TIMEOUT"
    assert not got.raised_by_workflow
    assert failures.Failure.from_dict(got.to_dict()) == got


def test_the_recorded_outcome_of_a_go_style_timeout_is_structured_and_a_timeout() -> None:
    # What a Go Zigflow's workflow returns: the activity error itself, its cause the
    # StartToClose timeout, and no English word "timeout" in any message.
    go = ActivityError(
        "activity error (type: ExecuteAgent, scheduledEventID: 5)",
        scheduled_event_id=5,
        started_event_id=6,
        identity="go-worker",
        activity_type="ExecuteAgent",
        activity_id=ACT,
        retry_state=None,
    )
    go.__cause__ = TimeoutError(
        "StartToClose", type=SdkTimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
    )

    value = failures.from_error(go).to_dict()

    assert (value["kind"], value["timeout_type"]) == ("activity", "START_TO_CLOSE")
    assert "Error" not in value["kind"]  # a Temporal kind, not a Python class name
    assert _kind("fail", value) == "timeout"


def test_the_model_tells_an_agent_error_from_a_refusal_by_type_not_text() -> None:
    agent = ApplicationError("state failed", type="Anything")
    agent.__cause__ = ActivityError(
        "activity error",
        scheduled_event_id=5,
        started_event_id=6,
        identity="w",
        activity_type="ExecuteAgent",
        activity_id=ACT,
        retry_state=None,
    )
    agent.__cause__.__cause__ = ApplicationError("quota", type=AGENT_ERROR_TYPE)
    other = ApplicationError(f"mentions {AGENT_ERROR_TYPE} and timeout", type="Other")

    assert _kind("fail", failures.from_error(agent).to_dict()) == "agent_error"
    assert _kind("fail", failures.from_error(other).to_dict()).startswith("fail: application")


# --- timeouts ---------------------------------------------------------------------------


def test_a_start_to_close_timeout_worded_without_timeout_is_a_timeout() -> None:
    h = History("go-timeout")
    record(
        h,
        zigflow_history(
            "zig-go",
            activity_end=timed_out_by(timeout("StartToClose")),
            workflow_failure=activity_failure(timeout("StartToClose")),
        ),
    )

    assert checkers.timed_out(h, "START_TO_CLOSE").ok, checkers.timed_out(h, "START_TO_CLOSE")
    assert not checkers.timed_out(h, "HEARTBEAT").ok
    assert checkers.token_outcome(h, "zig-go").endswith("zigflow: timed out START_TO_CLOSE")


# --- crossed wires ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        # the reference: StateFailed wrapping CrossedWires
        application(
            "state 'ask' failed: CrossedWires: envelope for zig-b",
            "StateFailed",
            application("result envelope is for zig-b", "CrossedWires"),
        ),
        # another Zigflow: its own type name, its own language, no wrapper
        application("Ergebnis gehört zu einem anderen Workflow", "EnvelopeMismatch"),
    ],
    ids=["reference", "other-name-and-language"],
)
def test_a_refused_result_is_crossed_wires_whatever_its_name(refusal: FailureProto) -> None:
    h = History("crossed")
    record(
        h,
        zigflow_history(
            "zig-a", activity_end=completed_with(foreign("zig-b")), workflow_failure=refusal
        ),
    )

    verdict = checkers.crossed_wires_detected(h)

    assert verdict.ok, verdict
    root = failures.from_proto(refusal).root_application
    assert root is not None
    assert checkers.token_outcome(h, "zig-a").endswith(f"completed, workflow failed {root.type}")
    assert checkers.overhead_samples_ms(h) == []  # a refused result is not a handshake


def test_crossed_wires_is_not_an_agent_failure_nor_an_accepted_result() -> None:
    h = History("not-refused")
    # the workflow failed because its activity failed (the agent's error), even if the
    # message says CrossedWires
    record(
        h,
        zigflow_history(
            "zig-agent",
            activity_end=completed_with(foreign("zig-b")),
            workflow_failure=application(
                "CrossedWires", "StateFailed", activity_failure(application("x", "CrossedWires"))
            ),
        ),
    )
    # the workflow took the foreign result and completed
    accepted = zigflow_history(
        "zig-took", activity_end=completed_with(foreign("zig-c")), workflow_failure=None
    )
    record(h, accepted)
    took = h.calls["zig-took"].zigflow
    assert took is not None
    took.status = "completed"

    verdict = checkers.crossed_wires_detected(h)

    assert not verdict.ok
    text = "\n".join(verdict.evidence)
    assert "zig-agent: workflow failed (application StateFailed <- activity" in text, text
    assert "zig-took: accepted a result meant for zig-c" in text, text


# --- retried after failing fast ---------------------------------------------------------


def test_a_retry_after_a_fast_failure_of_any_type_passes() -> None:
    h = History("retried")
    record(
        h,
        zigflow_history(
            "zig-r",
            activity_end=completed_with({"output": 1, "zigflow_workflow_id": "zig-r"}),
            workflow_failure=None,
            attempt=3,
            last_failure=application("Verbindung abgelehnt", "ConnError"),
        ),
    )

    assert checkers.retried_after_failing_fast(h).ok, checkers.retried_after_failing_fast(h)


@pytest.mark.parametrize(
    ("attempt", "last", "fragment"),
    [
        (1, None, "ended on attempt 1, expected a retry"),
        (2, None, "no earlier attempt's failure was recorded"),
        (2, timeout("StartToClose"), "ended by timeout START_TO_CLOSE"),
    ],
)
def test_no_retry_or_a_retry_after_a_timeout_is_not_failing_fast(
    attempt: int, last: FailureProto | None, fragment: str
) -> None:
    h = History("slow")
    record(
        h,
        zigflow_history(
            "zig-s",
            activity_end=completed_with({"output": 1}),
            workflow_failure=None,
            attempt=attempt,
            last_failure=last,
        ),
    )

    verdict = checkers.retried_after_failing_fast(h)

    assert not verdict.ok
    assert fragment in "\n".join(verdict.evidence), verdict


def test_the_failure_observed_while_pending_stands_in_for_the_history() -> None:
    # The time-skipping server records no last_failure on the started event: the
    # failure the server reported for the pending activity is judged instead.
    def history() -> History:
        h = History("observed")
        record(
            h,
            zigflow_history(
                "zig-o",
                activity_end=completed_with({"output": 1}),
                workflow_failure=None,
                attempt=2,
            ),
        )
        return h

    fast = failures.from_proto(application("connexion refusée", "Unreachable"))
    slow = failures.from_proto(timeout("StartToClose"))

    assert checkers.retried_after_failing_fast(history(), observed={"zig-o": fast}).ok
    assert not checkers.retried_after_failing_fast(history(), observed={"zig-o": slow}).ok
    assert not checkers.retried_after_failing_fast(history()).ok


# --- retried after a timeout -------------------------------------------------------------


def _retried_history(attempt: int, last: FailureProto | None) -> History:
    h = History("lost")
    record(
        h,
        zigflow_history(
            "zig-l",
            activity_end=completed_with({"output": 1, "zigflow_workflow_id": "zig-l"}),
            workflow_failure=None,
            attempt=attempt,
            last_failure=last,
        ),
    )
    return h


def test_a_retry_after_the_named_timeout_passes() -> None:
    # Judged by the timeout's kind, whatever the server's message says.
    h = _retried_history(2, timeout("Zeitüberschreitung", TimeoutType.TIMEOUT_TYPE_HEARTBEAT))

    verdict = checkers.retried_after_timeout(h, "HEARTBEAT")

    assert verdict.ok, verdict
    assert verdict.checker == "retried_after_timeout[HEARTBEAT]"


@pytest.mark.parametrize(
    ("attempt", "last", "fragment"),
    [
        (1, None, "ended on attempt 1, expected a retry"),
        (2, None, "no earlier attempt's failure was recorded"),
        (
            2,
            timeout("StartToClose"),
            "ended by timeout START_TO_CLOSE: StartToClose, expected a HEARTBEAT",
        ),
        (3, application("activity Heartbeat timeout", "Unavailable"), "expected a HEARTBEAT"),
    ],
)
def test_no_retry_or_a_retry_after_something_else_is_not_the_timeouts(
    attempt: int, last: FailureProto | None, fragment: str
) -> None:
    verdict = checkers.retried_after_timeout(_retried_history(attempt, last), "HEARTBEAT")

    assert not verdict.ok
    assert fragment in "\n".join(verdict.evidence), verdict


# --- bad input --------------------------------------------------------------------------


def test_invalid_argument_with_a_message_in_any_language_is_a_proper_refusal() -> None:
    japanese = Answer(grpc.StatusCode.INVALID_ARGUMENT, "agent_id は必須です")
    assert refusal_problems(japanese, "missing_agent_id", "agent_id") == []
    assert refusal_problems(Answer(grpc.StatusCode.INVALID_ARGUMENT, "champ manquant")) == []
    assert BadRequest("missing_agent_id", b"", "agent_id", "k").field == "agent_id"


def test_a_refusal_must_name_the_field_at_fault_by_its_proto_name() -> None:
    vague = Answer(grpc.StatusCode.INVALID_ARGUMENT, "champ manquant")
    assert refusal_problems(vague, "missing_agent_id", "agent_id") == [
        "the message does not name the field at fault (agent_id)"
    ]
    # an undecodable body has no field to name
    unparsed = Answer(grpc.StatusCode.INTERNAL, "parse error")
    assert refusal_problems(unparsed, "corrupt_framing") == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (Answer(grpc.StatusCode.OK, ""), "status OK, expected INVALID_ARGUMENT"),
        (Answer(grpc.StatusCode.UNKNOWN, "ValueError"), "status UNKNOWN"),
        (Answer(grpc.StatusCode.INVALID_ARGUMENT, "  "), "no message"),
    ],
)
def test_another_status_or_no_message_is_not_a_proper_refusal(answer: Answer, problem: str) -> None:
    problems = refusal_problems(answer)
    assert any(problem in p for p in problems), problems


def test_an_undecodable_body_may_get_the_frameworks_internal_but_not_unknown() -> None:
    for kind in ("corrupt_framing", "agent_id_invalid_utf8"):
        assert refusal_problems(Answer(grpc.StatusCode.INTERNAL, "parse error"), kind) == []
        assert refusal_problems(Answer(grpc.StatusCode.UNKNOWN, "DecodeError"), kind)
    # a request that parses but is wrong must be INVALID_ARGUMENT (not retryable)
    assert refusal_problems(Answer(grpc.StatusCode.INTERNAL, "bad"), "missing_agent_id")
