"""SystemActivities: complete / fail the Zigflow activity by token, classify RPC errors."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.activity import ActivityCancellationDetails
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import AsyncActivityCancelledError
from temporalio.converter import default as default_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from reference_services.common.jsonlog import token_fingerprint
from reference_services.stigma import activities
from reference_services.stigma.activities import SystemActivities, delivered_earlier
from reference_services.stigma.model import Completion, CompletionOutcome

pytestmark = pytest.mark.unit

TOKEN = b"\n$zigflow-task-token\x00\xff"
CONVERTER = default_converter().payload_converter
ENVELOPE = {"envelope_version": 1, "output": {"value": 42}, "zigflow_activity_id": "0-a"}


@dataclass
class FakeHandle:
    error: BaseException | None = None
    completed: list[Any] = field(default_factory=list)
    failed: list[Exception] = field(default_factory=list)

    async def complete(self, result: Any = None, *, rpc_timeout: Any = None) -> None:
        self.completed.append(result)
        if self.error is not None:
            raise self.error

    async def fail(self, error: Exception, *, rpc_timeout: Any = None) -> None:
        self.failed.append(error)
        if self.error is not None:
            raise self.error

    async def heartbeat(self, *, rpc_timeout: Any = None) -> None:
        if self.error is not None:
            raise self.error


@dataclass
class Factory:
    handle: FakeHandle
    tokens: list[bytes] = field(default_factory=list)

    def __call__(self, token: bytes) -> FakeHandle:
        self.tokens.append(token)
        return self.handle


def setup(error: BaseException | None = None) -> tuple[SystemActivities, Factory]:
    factory = Factory(FakeHandle(error))
    return SystemActivities(factory), factory


def environment() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.default_info(), workflow_id="stigma-k", attempt=1)
    return env


def completion(**kw: Any) -> Completion:
    return Completion(base64.b64encode(TOKEN).decode(), 2, "agx-1", ENVELOPE, **kw)


async def test_complete_delivers_the_result_to_the_decoded_token() -> None:
    acts, factory = setup()

    outcome = await environment().run(acts.complete_zigflow_activity, completion())

    assert outcome == CompletionOutcome("delivered", token_fp=token_fingerprint(TOKEN))
    assert factory.tokens == [TOKEN]
    assert factory.handle.completed == [ENVELOPE]
    assert factory.handle.failed == []


async def test_fail_delivers_a_non_retryable_application_error() -> None:
    acts, factory = setup()

    outcome = await environment().run(
        acts.fail_zigflow_activity,
        completion(error_type="AgentTimeout", error_message="agent gave up"),
    )

    assert outcome.status == "delivered"
    assert factory.tokens == [TOKEN]
    assert factory.handle.completed == []
    (err,) = factory.handle.failed
    assert isinstance(err, ApplicationError)
    assert err.type == "AgentTimeout"
    assert err.message == "agent gave up"
    assert err.non_retryable is True
    assert err.details == (ENVELOPE,)


@pytest.mark.parametrize("fail", [False, True], ids=["complete", "fail"])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RPCStatusCode.NOT_FOUND, "token_dead"),
        (RPCStatusCode.INVALID_ARGUMENT, "token_rejected"),
        (RPCStatusCode.INTERNAL, "token_rejected"),
    ],
)
async def test_terminal_token_errors_are_outcomes_not_exceptions(
    status: RPCStatusCode, expected: str, fail: bool
) -> None:
    acts, _ = setup(RPCError("no such activity", status, b""))
    run = acts.fail_zigflow_activity if fail else acts.complete_zigflow_activity

    outcome = await environment().run(run, completion(error_type="E", error_message="m"))

    assert outcome == CompletionOutcome(
        expected, status.name, "no such activity", token_fingerprint(TOKEN)
    )


@pytest.mark.parametrize("status", [RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED])
async def test_transient_errors_raise_a_retryable_error(status: RPCStatusCode) -> None:
    acts, _ = setup(RPCError("frontend down", status, b""))

    with pytest.raises(ApplicationError) as info:
        await environment().run(acts.complete_zigflow_activity, completion())

    err = info.value
    assert err.type == "CompletionTransient"
    assert err.non_retryable is False
    assert f"{status.name}: frontend down" in err.message
    assert isinstance(err.__cause__, RPCError)


# --- NOT_FOUND read against Zigflow's history ----------------------------------------


def _zigflow_history(resolved: HistoryEvent) -> list[HistoryEvent]:
    scheduled = HistoryEvent(event_id=5)
    scheduled.activity_task_scheduled_event_attributes.activity_id = "0-a"
    resolved.event_id = 7
    return [scheduled, resolved]


def _failed_event(error_type: str, details: Any, *, application: bool = True) -> HistoryEvent:
    ev = HistoryEvent()
    failed = ev.activity_task_failed_event_attributes
    failed.scheduled_event_id = 5
    failed.failure.message = "whatever the text says, it is not read"
    if application:
        failed.failure.application_failure_info.type = error_type
        failed.failure.application_failure_info.details.payloads.extend(
            CONVERTER.to_payloads([details])
        )
    else:
        failed.failure.timeout_failure_info.SetInParent()
    return ev


def _ours(**kw: Any) -> Completion:
    base = completion(error_type="QuotaExceeded", error_message="m", **kw)
    base.zigflow_activity_id = "0-a"
    return base


def test_our_failure_in_zigflows_history_is_an_earlier_delivery() -> None:
    events = _zigflow_history(_failed_event("QuotaExceeded", {"agent_execution_id": "agx-1"}))

    why = delivered_earlier(events, _ours(), CONVERTER)

    assert why is not None
    assert why[0] == "delivered_earlier"
    assert "event 7" in why[1]


@pytest.mark.parametrize(
    "event",
    [
        _failed_event("QuotaExceeded", {"agent_execution_id": "agx-other"}),
        _failed_event("OtherError", {"agent_execution_id": "agx-1"}),
        _failed_event("", None, application=False),
    ],
    ids=["another-execution", "another-type", "a-timeout"],
)
def test_a_failure_that_is_not_ours_tells_nothing(event: HistoryEvent) -> None:
    assert delivered_earlier(_zigflow_history(event), _ours(), CONVERTER) is None


def test_our_result_in_zigflows_history_is_an_earlier_delivery() -> None:
    ev = HistoryEvent()
    done = ev.activity_task_completed_event_attributes
    done.scheduled_event_id = 5
    done.result.payloads.extend(CONVERTER.to_payloads([{"agent_execution_id": "agx-1"}]))

    why = delivered_earlier(_zigflow_history(ev), _ours(), CONVERTER)

    assert why is not None
    assert why[0] == "delivered_earlier"


def _answered(**flags: bool) -> AsyncActivityCancelledError:
    """What the SDK raises for a heartbeat whose answer has any of the flags set."""
    return AsyncActivityCancelledError(ActivityCancellationDetails(**flags))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, "alive"),
        (_answered(paused=True), "alive"),
        (_answered(reset=True), "alive"),
        (_answered(paused=True, reset=True), "alive"),
        (_answered(cancel_requested=True), "cancel_requested"),
        (_answered(cancel_requested=True, paused=True), "cancel_requested"),
        # An SDK that gives no details raised it only for a cancellation.
        (AsyncActivityCancelledError(), "cancel_requested"),
    ],
    ids=["ok", "paused", "reset", "paused+reset", "cancel", "cancel+paused", "no-details"],
)
async def test_only_a_requested_cancellation_stops_the_agent(
    error: BaseException | None, expected: str
) -> None:
    # An operator's pause or reset of Zigflow's activity is answered on the heartbeat
    # with the same SDK error as a cancellation; the attempt lives on and takes the result
    # by this token, so it is a live answer (a cancellation reported now is refused).
    acts, _ = setup(error)

    outcome = await environment().run(acts.heartbeat_zigflow_activity, completion())

    assert outcome == CompletionOutcome(expected, token_fp=token_fingerprint(TOKEN))


# --- NOT_FOUND whose record cannot be read (now, or at all) ---------------------------


@dataclass
class SlowRecord:
    """Zigflow's record read over a slow link: answers ``why`` (or raises ``error``)
    after ``delay_s``."""

    why: tuple[str, str] = ("delivered_earlier", "our result is there")
    error: BaseException | None = None
    delay_s: float = 0.0

    async def why_not_found(self, completion: Completion) -> tuple[str, str]:
        await asyncio.sleep(self.delay_s)  # the link's slowness, not synchronisation
        if self.error is not None:
            raise self.error
        return self.why


def _not_found_with(record: SlowRecord) -> SystemActivities:
    factory = Factory(FakeHandle(RPCError("activity not found", RPCStatusCode.NOT_FOUND, b"")))
    return SystemActivities(factory, record)


@pytest.mark.parametrize(
    "status",
    [
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
    ],
)
async def test_a_not_found_whose_record_is_unreadable_for_now_is_retried(
    status: RPCStatusCode,
) -> None:
    # Our own earlier call may have landed, its reply lost: only the record can tell.
    acts = _not_found_with(SlowRecord(error=RPCError("slow link", status, b"")))

    with pytest.raises(ApplicationError) as info:
        await environment().run(acts.complete_zigflow_activity, completion())

    assert info.value.type == "CompletionTransient"
    assert info.value.non_retryable is False


async def test_a_not_found_whose_record_is_refused_stays_a_dead_token() -> None:
    refused = RPCError("no access", RPCStatusCode.PERMISSION_DENIED, b"")
    acts = _not_found_with(SlowRecord(error=refused))

    outcome = await environment().run(acts.complete_zigflow_activity, completion())

    assert outcome.status == "token_dead"
    assert "record unreadable" in outcome.message


async def test_the_attempt_heartbeats_while_the_record_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(activities, "HEARTBEAT_EVERY_S", 0.01)
    acts = _not_found_with(SlowRecord(delay_s=0.2))
    env = environment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    outcome = await env.run(acts.complete_zigflow_activity, completion())

    assert outcome.status == "delivered_earlier"
    assert len(beats) >= 5, beats
