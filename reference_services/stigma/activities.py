"""Stigma's system activities (the agent itself runs on the agents' task queue).

The system activities are the only place that touches a Zigflow task token:
workflow code cannot call Temporal's client (determinism), so it delegates.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import AsyncActivityCancelledError
from temporalio.converter import PayloadConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from reference_services.common import metrics
from reference_services.common.jsonlog import EventLog, token_fingerprint
from reference_services.stigma.model import Completion, CompletionOutcome

log = EventLog("stigma.activity")

# Well inside the workflow's 3 s heartbeat timeout for system activities.
HEARTBEAT_EVERY_S = 1.0

# Every call by token carries this deadline (the contract allows at most 10 s). A server
# that answers late or never (a malformed token once met UNKNOWN after a long wait,
# temporalio/temporal#4054) then costs the call this long, not the result: the call
# fails DEADLINE_EXCEEDED, a transient error, and the completion activity's retry
# (COMPLETION_RETRY, inside the completion window) calls again. Without it the SDK's
# default applies (30 s in Python's, measured at the harness's relay). A call answered
# takes milliseconds (completion activity started to Zigflow's activity closed: p99
# ~1 s with 1000 handshakes in flight on 2 busy cores), so 3 s gives up only on a
# server that is not answering, and a call that lands late is recognised on its retry
# (delivered_earlier). Not under the contract's 3 s for another completion to pass a
# waiting call (CALL_BY_TOKEN_OTHERS_WITHIN_S): with a shorter deadline, a Stigma that
# made its calls one at a time would pass that check (its other completions wait out
# the deadline, within those 3 s), so the gate could not tell this reference from that
# bug (tests/mutants/stigma_one_completion_at_a_time.py). The Java Stigma sets the same.
CALL_DEADLINE = timedelta(seconds=3)

# NOT_FOUND: the attempt that owned the token is gone (retried, timed out,
# already completed, workflow closed). Retrying can never succeed.
DEAD = frozenset({RPCStatusCode.NOT_FOUND})
# INVALID_ARGUMENT: real server, malformed or foreign-namespace token.
# INTERNAL: what the time-skipping test server answers for a malformed token.
REJECTED = frozenset({RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.INTERNAL})
# A read of Zigflow's record that failed with one of these may succeed when asked again
# (a slow or broken link, a busy server); any other failure (e.g. PERMISSION_DENIED) will not.
READ_AGAIN = frozenset(
    {
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
    }
)


class ActivityHandle(Protocol):
    async def complete(self, result: Any = ..., *, rpc_timeout: timedelta | None = ...) -> None: ...
    async def fail(self, error: Exception, *, rpc_timeout: timedelta | None = ...) -> None: ...
    async def heartbeat(self, *, rpc_timeout: timedelta | None = ...) -> None: ...
    async def report_cancellation(self, *, rpc_timeout: timedelta | None = ...) -> None: ...


HandleFactory = Callable[[bytes], ActivityHandle]


class ZigflowRecord(Protocol):
    """Read access to Zigflow's own record of the activity a token belongs to."""

    async def why_not_found(self, completion: Completion) -> tuple[str, str]:
        """("delivered_earlier" | "retry_pending" | "closed" | "gone", detail)."""
        ...


class SystemActivities:
    def __init__(self, handles: HandleFactory, record: ZigflowRecord | None = None) -> None:
        self._handles = handles
        self._record = record

    @activity.defn(name="complete_zigflow_activity")
    async def complete_zigflow_activity(self, completion: Completion) -> CompletionOutcome:
        return await self._deliver(completion, fail=False)

    @activity.defn(name="fail_zigflow_activity")
    async def fail_zigflow_activity(self, completion: Completion) -> CompletionOutcome:
        return await self._deliver(completion, fail=True)

    @activity.defn(name="cancel_zigflow_activity")
    async def cancel_zigflow_activity(self, completion: Completion) -> CompletionOutcome:
        return await self._deliver(completion, fail=False, kind="cancel")

    @activity.defn(name="heartbeat_zigflow_activity")
    async def heartbeat_zigflow_activity(self, completion: Completion) -> CompletionOutcome:
        """One heartbeat by token. Its response is the only way a cancellation of
        the Zigflow workflow reaches the holder of a pending activity's token."""
        return await self._deliver(completion, fail=False, kind="heartbeat")

    async def _deliver(
        self, completion: Completion, *, fail: bool, kind: str = ""
    ) -> CompletionOutcome:
        token = base64.b64decode(completion.token_b64)
        fields: dict[str, Any] = {
            "token_fp": token_fingerprint(token),
            "zigflow_attempt": completion.attempt,
            "agent_execution_id": completion.execution_id,
            "stigma_workflow_id": activity.info().workflow_id,
            "completion_attempt": activity.info().attempt,
            "kind": kind or ("fail" if fail else "complete"),
        }
        handle = self._handles(token)
        try:
            if kind == "heartbeat":
                try:
                    await handle.heartbeat(rpc_timeout=CALL_DEADLINE)
                except AsyncActivityCancelledError as err:
                    if cancel_requested(err):
                        log.event("completion.cancel_requested", **fields)
                        metrics.completion_call("heartbeat", "cancel_requested")
                        return CompletionOutcome(
                            "cancel_requested", token_fp=str(fields["token_fp"])
                        )
                    # An operator paused or reset Zigflow's activity: the attempt lives
                    # on and takes the result by this token; keep the agent and beat on.
                    log.event("completion.heartbeat_paused_or_reset", **_flags(err), **fields)
                metrics.completion_call("heartbeat", "alive")
                return CompletionOutcome("alive", token_fp=str(fields["token_fp"]))
            if kind == "cancel":
                await _alive_while(handle.report_cancellation(rpc_timeout=CALL_DEADLINE))
            elif fail:
                await _alive_while(
                    handle.fail(
                        ApplicationError(
                            completion.error_message,
                            completion.result,
                            type=completion.error_type,
                            non_retryable=True,  # the agent's own retries belong to Stigma
                        ),
                        rpc_timeout=CALL_DEADLINE,
                    )
                )
            else:
                await _alive_while(handle.complete(completion.result, rpc_timeout=CALL_DEADLINE))
        except RPCError as err:
            outcome = _classify(err, fields["token_fp"])
            if outcome is None:
                raise _transient(
                    err,
                    fields,
                    err.message,
                    f"completion call failed with {err.status.name}: {err.message}",
                ) from err
            if outcome.status == "token_dead" and self._record:
                # Heartbeating meanwhile: on a slow link the reads take seconds, and an
                # attempt that outlives its heartbeat timeout is retried however it ended.
                explained = await _alive_while(self._explain_not_found(completion, outcome))
                if explained is None:
                    # NOT_FOUND may mean our own earlier call landed (its reply lost), and
                    # the record that tells could not be read now: retried, never recorded
                    # as a dead token.
                    raise _transient(
                        err,
                        fields,
                        outcome.message,
                        f"completion call answered {err.status.name} and Zigflow's record "
                        "could not be read now",
                    ) from err
                outcome = explained
            metrics.completion_call(fields["kind"], outcome.status, err.status.name)
            log.event(
                f"completion.{outcome.status}",
                code=outcome.grpc_code,
                message=outcome.message,
                **fields,
            )
            return outcome
        log.event("completion.delivered", **fields)
        metrics.completion_call(fields["kind"], "delivered")
        return CompletionOutcome("delivered", token_fp=str(fields["token_fp"]))

    async def _explain_not_found(
        self, completion: Completion, outcome: CompletionOutcome
    ) -> CompletionOutcome | None:
        """NOT_FOUND is ambiguous; Zigflow's own history says which case it is. None
        when the record could not be read for a reason that asking again may clear (the
        call is then retried); a record that cannot be read at all leaves the outcome a
        dead token."""
        assert self._record is not None
        try:
            why, detail = await self._record.why_not_found(completion)
        except Exception as err:  # the record is a diagnosis, not a dependency
            outcome.message += f" (Zigflow's record unreadable: {err})"
            if isinstance(err, RPCError) and err.status in READ_AGAIN:
                return None
            return outcome
        if why == "delivered_earlier":
            outcome.status = "delivered_earlier"
        outcome.retry_pending = why == "retry_pending"
        outcome.requester_closed = why == "closed"
        outcome.message += f" ({detail})"
        return outcome


def cancel_requested(err: AsyncActivityCancelledError) -> bool:
    """Whether a heartbeat's answer asked us to stop the agent. The SDK raises this one
    error when the answer has any of cancel_requested, activity_paused, activity_reset
    set; only the first is a cancellation. An operator's pause or reset of Zigflow's
    activity leaves its attempt running and taking the result by this token (a
    cancellation reported then is refused INVALID_ARGUMENT, and the agent's work would be
    lost). Without details (SDKs before pause and reset existed) it was a cancellation."""
    details = err.details
    return details is None or bool(details.cancel_requested)


def _flags(err: AsyncActivityCancelledError) -> dict[str, bool]:
    details = err.details
    return {
        "paused": bool(details and details.paused),
        "reset": bool(details and details.reset),
    }


def _transient(err: RPCError, fields: dict[str, Any], message: str, why: str) -> ApplicationError:
    """Record a call a retry may still make good; the error that fails the attempt so
    that the activity's retry policy makes it again."""
    log.event("completion.transient", code=err.status.name, message=message, **fields)
    metrics.completion_call(fields["kind"], "transient", err.status.name)
    return ApplicationError(why, type="CompletionTransient")


T = TypeVar("T")


async def _alive_while(call: Awaitable[T]) -> T:
    """Await a completion RPC while heartbeating our own attempt.

    The SDK's client retries some codes (INTERNAL, UNAVAILABLE, ...) for up to ~10 s
    before the caller sees them; the time-skipping server answers INTERNAL for a
    malformed token. Without heartbeats that outlives our heartbeat timeout, the
    attempt is cancelled and retried, and a rejected token is never classified."""
    task = asyncio.ensure_future(call)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if not task.done():
                activity.heartbeat()
        return task.result()
    finally:
        if not task.done():
            task.cancel()


def _classify(err: RPCError, token_fp: str) -> CompletionOutcome | None:
    """A terminal outcome for the error, or None when a retry may succeed."""
    if err.status in DEAD:
        return CompletionOutcome("token_dead", err.status.name, err.message, token_fp)
    if err.status in REJECTED:
        return CompletionOutcome("token_rejected", err.status.name, err.message, token_fp)
    return None


class TemporalZigflowRecord:
    """Zigflow's workflow history and pending activities, read with Stigma's client for
    Zigflow's namespace. Distinguishes the three meanings of NOT_FOUND."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def why_not_found(self, completion: Completion) -> tuple[str, str]:
        if not completion.zigflow_workflow_id:
            return "gone", "no correlation ids to look Zigflow up"
        handle = self._client.get_workflow_handle(
            completion.zigflow_workflow_id, run_id=completion.zigflow_run_id or None
        )
        # The same deadline as every call by token (and the Java reference's reads).
        history = await handle.fetch_history(rpc_timeout=CALL_DEADLINE)
        earlier = delivered_earlier(
            history.events, completion, self._client.data_converter.payload_converter
        )
        if earlier is not None:
            return earlier
        desc = await handle.describe(rpc_timeout=CALL_DEADLINE)
        for pending in desc.raw_description.pending_activities:
            if (
                pending.activity_id == completion.zigflow_activity_id
                and pending.attempt > completion.attempt
            ):
                return "retry_pending", f"Zigflow attempt {pending.attempt} is pending"
        status = desc.status.name if desc.status else "unknown"
        if desc.status is not None and status != "RUNNING":
            return "closed", f"Zigflow workflow is {status}, nobody will take the result"
        return "gone", f"Zigflow workflow is {status}, activity not waiting any more"


def delivered_earlier(
    events: Iterable[HistoryEvent], completion: Completion, converter: PayloadConverter
) -> tuple[str, str] | None:
    """What Zigflow's history says about our own earlier call by this execution, when it
    resolved the activity: ("delivered_earlier", detail) when our result or our failure
    is there (a call that landed and whose reply was lost, so its retry met NOT_FOUND),
    ("gone", detail) when someone else's result is; None when the history does not tell.

    A failure is recognised by its structure, never by its message: an application
    failure of our error type whose details carry our envelope (our execution id), as
    ``fail_zigflow_activity`` sends it. A failure that is not ours (a timeout, another
    caller's) tells nothing here: the description of the workflow then says the rest."""
    ours: dict[int, bool] = {}
    for ev in events:
        if ev.HasField("activity_task_scheduled_event_attributes"):
            scheduled = ev.activity_task_scheduled_event_attributes
            ours[ev.event_id] = scheduled.activity_id == completion.zigflow_activity_id
        elif ev.HasField("activity_task_completed_event_attributes"):
            done = ev.activity_task_completed_event_attributes
            if ours.get(done.scheduled_event_id):
                if _names_us(converter, done.result.payloads, completion):
                    return "delivered_earlier", (
                        f"Zigflow's history shows our result (event {ev.event_id}): an "
                        "earlier call completed it and its reply was lost"
                    )
                return "gone", f"completed by someone else (event {ev.event_id})"
        elif ev.HasField("activity_task_failed_event_attributes"):
            failed = ev.activity_task_failed_event_attributes
            app = failed.failure.application_failure_info
            if (
                ours.get(failed.scheduled_event_id)
                and failed.failure.HasField("application_failure_info")
                and app.type == completion.error_type
                and _names_us(converter, app.details.payloads, completion)
            ):
                return "delivered_earlier", (
                    f"Zigflow's history shows our failure (event {ev.event_id}, "
                    f"{app.type}): an earlier call failed it and its reply was lost"
                )
    return None


def _names_us(
    converter: PayloadConverter, payloads: Sequence[Payload], completion: Completion
) -> bool:
    """The first payload is an envelope naming our agent execution."""
    values = converter.from_payloads(list(payloads)) if payloads else []
    value = values[0] if values else None
    return isinstance(value, dict) and value.get("agent_execution_id") == completion.execution_id
