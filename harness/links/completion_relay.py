"""A relay in front of Temporal for all of Stigma's calls (STIGMA_TEMPORAL_ADDRESS and
STIGMA_ZIGFLOW_TEMPORAL_ADDRESS).

Stigma starts its workflow, runs its worker, and completes, fails, cancels and
heartbeats Zigflow's activity through Temporal's WorkflowService; the relay forwards
every unary call unchanged (metadata, deadline, status and trailing details included),
so Stigma talks to the real server. Because the harness owns this hop it can

- *see* each completion by token arrive (its method, the token's fingerprint), and each
  durable start of a Stigma workflow come back from Temporal (so an ACK sent before
  its start was durable is visible: ``harness.judge.relay_checks``);
- *park* the first completions or the first starts, before Temporal has them or after
  Temporal answered and before Stigma hears it, until a scenario lets them go on or
  drops them: "Stigma is killed inside StartAgent / while its completion is in flight /
  after its completion landed but before it heard so" are windows the harness makes
  and observes, not delays Stigma has to build into its production code;
- *refuse* starts with a status, as a Temporal that will not take the start would;
- *refuse* the calls by token alone (UNAVAILABLE) while every other call of Stigma
  passes: a Temporal frontend that sheds them while Stigma's worker stays connected, so
  the worker can still report what its completion activity made of the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from temporalio.api.workflowservice.v1 import request_response_pb2 as wsr

from harness import tls
from harness.links.parking import Parking
from harness.observe.history import History
from harness.servers.ports import GRPC_SERVER_OPTIONS, LOOPBACK, RELAY_CHANNEL_OPTIONS
from harness.tokens import fingerprint
from harness.waits import counted

SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
# The methods as a call's record names them (the last part of the path).
HEARTBEAT = "RecordActivityTaskHeartbeat"
CANCELLATION = "RespondActivityTaskCanceled"
# history.measurements key: every call by Zigflow's tokens the relay saw, heartbeats with
# their answers' flags included (``Driver.record_calls_by_token``).
TOKEN_CALLS = "token_calls"
# Calls that resolve Zigflow's activity by token (what "a completion in flight" means).
COMPLETIONS: dict[str, Any] = {
    f"/{SERVICE}/RespondActivityTaskCompleted": wsr.RespondActivityTaskCompletedRequest,
    f"/{SERVICE}/RespondActivityTaskFailed": wsr.RespondActivityTaskFailedRequest,
    f"/{SERVICE}/{CANCELLATION}": wsr.RespondActivityTaskCanceledRequest,
}
# Heartbeats by token: seen (fingerprint, answer and its flags), never parked.
HEARTBEATS: dict[str, Any] = {
    f"/{SERVICE}/{HEARTBEAT}": wsr.RecordActivityTaskHeartbeatRequest,
}
# Calls whose replies hand Stigma's own worker an activity task (and its token): a
# completion carrying one of those tokens is the worker reporting its own activity,
# not a call by Zigflow's token.
OWN_TASKS: dict[str, Any] = {
    f"/{SERVICE}/PollActivityTaskQueue": wsr.PollActivityTaskQueueResponse,
    # Eager activity dispatch: tasks handed back with the workflow task's answer.
    f"/{SERVICE}/RespondWorkflowTaskCompleted": wsr.RespondWorkflowTaskCompletedResponse,
}
# Calls that start a workflow durably, and where their workflow ids are.
STARTS: dict[str, Any] = {
    f"/{SERVICE}/StartWorkflowExecution": wsr.StartWorkflowExecutionRequest,
    f"/{SERVICE}/SignalWithStartWorkflowExecution": wsr.SignalWithStartWorkflowExecutionRequest,
    f"/{SERVICE}/ExecuteMultiOperation": wsr.ExecuteMultiOperationRequest,
}


def heartbeat_flags(reply: bytes) -> tuple[str, ...]:
    """What a heartbeat's answer told the holder of the token: the flags of
    RecordActivityTaskHeartbeatResponse that were set. Only ``cancel_requested`` asks it
    to stop; ``paused`` and ``reset`` say an operator paused or reset the activity."""
    response = wsr.RecordActivityTaskHeartbeatResponse.FromString(reply)
    set_ = (
        ("cancel_requested", response.cancel_requested),
        ("paused", response.activity_paused),
        ("reset", response.activity_reset),
    )
    return tuple(name for name, on in set_ if on)


def started_workflow_ids(method: str, body: bytes) -> list[str]:
    request_type = STARTS[method]
    request = request_type.FromString(body)
    if isinstance(request, wsr.ExecuteMultiOperationRequest):
        return [
            op.start_workflow.workflow_id
            for op in request.operations
            if op.HasField("start_workflow")
        ]
    return [str(request.workflow_id)]


# HTTP/2 and gRPC headers the channel sets itself.
_OWN_HEADERS = {"user-agent", "te", "content-type", "grpc-timeout", "grpc-accept-encoding"}


@dataclass
class Relayed:
    """One completion by token that went through the relay (fingerprint, never the token)."""

    method: str
    token_fp: str
    wall: float
    # OK, a status code name, "dropped" (never reached Temporal), "reply_dropped"
    # (Temporal took it and answered OK; Stigma never heard so) or "refused:CODE" (the
    # relay answered CODE, Temporal never saw it).
    answer: str = ""
    # Stigma's worker reporting an activity task of its own (its token came from a poll
    # through this relay), not a call by Zigflow's token.
    own_task: bool = False
    # The time the caller gave the call (its gRPC deadline, read as the time left when it
    # arrived); None: sent without a deadline.
    deadline_s: float | None = None
    # When the caller stopped waiting for an answer it had not had (its deadline passed,
    # or it cancelled): "abandoned". None: it was answered, or is still waiting.
    abandoned_wall: float | None = None
    # A heartbeat's answer, when Temporal answered OK: what it told the holder of the
    # token ("cancel_requested", "paused", "reset": the response's flags that were set).
    flags: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The call as a history records it (``CompletionRelay.record``)."""
        return {
            "method": self.method,
            "token_fp": self.token_fp,
            "wall": self.wall,
            "answer": self.answer,
            "own_task": self.own_task,
            "deadline_s": self.deadline_s,
            "abandoned_wall": self.abandoned_wall,
            "flags": list(self.flags),
        }


@dataclass
class StartSeen:
    """One durable start of a workflow that went through the relay."""

    workflow_ids: list[str]
    method: str
    wall: float  # when Stigma's request arrived
    answered_wall: float | None = None  # when Temporal's answer went back to Stigma
    answer: str = ""  # OK, a status code name, "refused:CODE" or "dropped"

    @property
    def durable(self) -> bool:
        """Temporal has the workflow: started now, or already (ALREADY_EXISTS)."""
        return self.answer in ("OK", "ALREADY_EXISTS")


@dataclass
class _Parked:
    call: Relayed | StartSeen
    go: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Held(Parking["_Parked"]):
    """Completions parked by ``CompletionRelay.hold``."""

    def __init__(
        self,
        relay: CompletionRelay,
        count: int,
        what: str = "completion",
        *,
        same_token: bool = False,
        handed_since: float | None = None,
    ) -> None:
        self._relay = relay
        self.count = count
        self.what = what
        # Park only calls by tokens handed to Stigma at or after this time
        # (CompletionRelay.handed_since).
        self.handed_since = handed_since
        # Park only the calls by the token of the first one parked (its retries), so
        # that the calls by other tokens pass meanwhile.
        self.same_token = same_token
        self.token_fp: str | None = None
        super().__init__()

    def not_arrived(self, missing: int) -> str:
        # Stigma's calls are in flight once they are parked here.
        return (
            f"{missing} {self.what} call(s) to reach the harness's relay at "
            f"{self._relay.listen} (does Stigma reach Temporal through "
            "STIGMA_TEMPORAL_ADDRESS and STIGMA_ZIGFLOW_TEMPORAL_ADDRESS?"
            + (
                " Only calls by tokens handed to Stigma after the hold began are parked.)"
                if self.handed_since is not None and self._relay.handed_at is not None
                else ")"
            )
        )

    def release(self, *, forward: bool = True) -> None:
        """Let the parked calls go on to Temporal, or drop them (the caller gets
        UNAVAILABLE if it is still there to hear it)."""
        for parked in self.parked:
            if not parked.go.done():
                parked.go.set_result(forward)

    def parks(self, call: Relayed | StartSeen | None = None) -> bool:
        if len(self.parked) >= self.count:
            return False
        if isinstance(call, Relayed) and not self._relay.handed_since(call, self.handed_since):
            return False
        if self.same_token and isinstance(call, Relayed):
            if call.own_task:  # Stigma's worker reporting its own activity
                return False
            return self.token_fp is None or call.token_fp == self.token_fp
        return True

    async def abandoned(self, n: int = 1, timeout_s: float = 60.0) -> None:
        """Until the caller has stopped waiting on ``n`` of the parked calls (its own
        deadline passed, or it cancelled them): no answer ever came for them."""

        def gone() -> int:
            return sum(
                1
                for p in self.parked
                if isinstance(p.call, Relayed) and p.call.abandoned_wall is not None
            )

        await counted(
            self._arrived,
            gone,
            n,
            timeout_s=timeout_s,
            pending=lambda missing: (
                f"the caller to give up {missing} parked {self.what} call(s) at the harness's "
                f"relay at {self._relay.listen} ({len(self.parked)} parked, none answered: "
                "does the call carry a deadline?)"
            ),
        )

    async def _abandon(self, call: Relayed) -> None:
        call.abandoned_wall = time.time()
        call.answer = call.answer or "abandoned"
        async with self._arrived:
            self._arrived.notify_all()

    @property
    def calls(self) -> list[Relayed | StartSeen]:
        """What was parked, in arrival order (their answers say what became of them)."""
        return [parked.call for parked in self.parked]

    async def _park(self, call: Relayed | StartSeen) -> bool:
        parked = _Parked(call)
        async with self._arrived:
            if self.same_token and self.token_fp is None and isinstance(call, Relayed):
                self.token_fp = call.token_fp
            self.parked.append(parked)
            self._arrived.notify_all()
        return await parked.go


class Refusal:
    """Calls by token refused by ``CompletionRelay.refuse_calls_by_token``."""

    DETAILS = "relay: calls by token refused (a harness fault; Stigma's other calls pass)"

    def __init__(self, relay: CompletionRelay, code: grpc.StatusCode, for_s: float | None) -> None:
        self._relay = relay
        self.code = code
        self.for_s = for_s
        self._until = None if for_s is None else time.monotonic() + for_s
        # Refuse only calls by tokens handed to Stigma from now on (as a hold parks).
        self.handed_since = time.time()
        self._released = False
        self.calls: list[Relayed] = []  # refused, in arrival order
        self._arrived = asyncio.Condition()

    @property
    def active(self) -> bool:
        if self._released:
            return False
        return self._until is None or time.monotonic() < self._until

    def refuses(self, call: Relayed) -> bool:
        return (
            not call.own_task and self.active and self._relay.handed_since(call, self.handed_since)
        )

    def release(self) -> None:
        """From now on calls by token pass again (also when ``for_s`` has not run out)."""
        self._released = True

    async def arrived(self, n: int = 1, timeout_s: float = 60.0) -> None:
        """Until ``n`` calls by token were refused: Stigma has met the refusal."""
        await counted(
            self._arrived,
            lambda: len(self.calls),
            n,
            timeout_s=timeout_s,
            pending=lambda missing: (
                f"{missing} call(s) by token to reach the harness's relay at "
                f"{self._relay.listen} (does Stigma reach Temporal through "
                "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS?)"
            ),
        )

    async def _refuse(self, call: Relayed, context: Any) -> None:
        call.answer = f"refused:{self.code.name}"
        async with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()
        await context.abort(self.code, self.DETAILS)


class CompletionRelay:
    def __init__(
        self,
        upstream: str,
        connection: tls.Connection | None = None,
        server_name: str = "",
        certificate: tls.HarnessCA | None = None,
    ) -> None:
        """``connection``: TLS towards Temporal (``server_name`` checked in its
        certificate); ``certificate``: Stigma then reaches the relay over TLS too. An
        API key is Stigma's to send: its metadata is forwarded as it came."""
        self.upstream = upstream
        self.connection = connection or tls.Connection()
        self.server_name = server_name
        self.certificate = certificate
        self.listen = ""
        self.completions: list[Relayed] = []
        # Heartbeats by token (Stigma's own worker's heartbeats included, marked own_task).
        self.heartbeats: list[Relayed] = []
        self.starts: list[StartSeen] = []
        self.calls = 0  # every call Stigma made through the relay
        self._held: Held | None = None
        self._park_completions_at = "request"
        self._held_starts: Held | None = None
        self._park_starts_at = "request"
        self._refusals: list[grpc.StatusCode] = []
        self._refusing: Refusal | None = None
        self._beats_refused: set[str] = set()
        # Fingerprints of the activity tasks Stigma's worker was handed through this relay
        # (a set of short strings: a few per handshake, kept for the stack's life).
        self._own_tasks: set[str] = set()
        # When a token (by fingerprint) was handed to Stigma, if a relay in Zigflow's
        # path to Stigma sees the handover (the stack sets it): scopes a hold.
        self.handed_at: Callable[[str], float | None] | None = None
        self._server: grpc.aio.Server | None = None
        self._channel: grpc.aio.Channel | None = None

    def handed_since(self, call: Relayed, since: float | None) -> bool:
        """Whether ``call`` is by a token handed to Stigma at or after ``since``: the
        stack is shared by the scenarios a worker runs one after another, and a fault
        begun by one must not catch a call left over from an earlier one (a retry by its
        token), nor Stigma's worker reporting its own activity. True when unknown (no
        relay in Zigflow's path to Stigma sees the handover, or no ``since``)."""
        if since is None or self.handed_at is None:
            return True
        at = self.handed_at(call.token_fp)
        return at is not None and at >= since

    async def start(self) -> str:
        # Temporal's payload limit is 2 MiB by default; leave room for larger test payloads.
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        c = self.connection
        if c.uses_tls:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=c.read("ca"),
                private_key=c.read("key"),
                certificate_chain=c.read("cert"),
            )
            name = [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
            self._channel = grpc.aio.secure_channel(
                self.upstream, credentials, options=[*options, *RELAY_CHANNEL_OPTIONS, *name]
            )
        else:
            self._channel = grpc.aio.insecure_channel(
                self.upstream, options=[*options, *RELAY_CHANNEL_OPTIONS]
            )
        self._server = grpc.aio.server(options=[*options, *GRPC_SERVER_OPTIONS])
        self._server.add_generic_rpc_handlers((_Forward(self),))
        # Port 0: the kernel picks one nobody holds, so no window to lose.
        if self.certificate is not None:
            own = grpc.ssl_server_credentials(
                [
                    (
                        self.certificate.server_key.read_bytes(),
                        self.certificate.server_cert.read_bytes(),
                    )
                ]
            )
            port = self._server.add_secure_port(f"{LOOPBACK}:0", own)
        else:
            port = self._server.add_insecure_port(f"{LOOPBACK}:0")
        self.listen = f"{LOOPBACK}:{port}"
        await self._server.start()
        return self.listen

    async def stop(self) -> None:
        for held in (self._held, self._held_starts):
            if held is not None:
                held.release(forward=False)
        if self._server is not None:
            await self._server.stop(grace=1)
        if self._channel is not None:
            await self._channel.close(grace=None)

    @contextlib.asynccontextmanager
    async def hold(
        self,
        history: History,
        *,
        count: int = 1,
        at: str = "request",
        then_forward: bool = True,
        same_token: bool = False,
    ) -> AsyncIterator[Held]:
        """Park the next ``count`` completions by token (later ones pass): ``at="request"``
        before Temporal has them, ``at="reply"`` after Temporal took them (answered OK)
        and before Stigma hears so, the window where a retried call meets NOT_FOUND for
        its own delivery. With ``same_token``, only the calls by the first parked call's
        token are parked (its retries: a Temporal that never answers that token), calls by
        other tokens pass. Only calls by tokens handed to Stigma after the hold began are
        parked (when the stack relays Zigflow's StartAgent too and so sees the handover):
        not a call left over from an earlier scenario on the same stack, nor Stigma's
        worker reporting its own activities. On exit the parked ones still waiting go on
        (``then_forward``) or are dropped (the caller gets UNAVAILABLE); a call whose
        caller gave up waiting (``Held.abandoned``) is gone."""
        if at not in ("request", "reply"):
            raise ValueError(f"at={at!r}: expected 'request' or 'reply'")
        held = Held(
            self,
            count,
            what=f"completion ({at})",
            same_token=same_token,
            handed_since=time.time(),
        )
        self._held, self._park_completions_at = held, at
        # The request side keeps the fault name recorded histories already carry.
        name = "completion_held" if at == "request" else f"completion_held:{at}"
        detail: dict[str, Any] = {"count": count}
        if same_token:
            detail["same_token"] = True
        history.fault("start", name, "stigma_completions", **detail)
        try:
            yield held
        finally:
            self._held = None
            held.release(forward=then_forward)
            history.fault("stop", name, "stigma_completions", forwarded=then_forward)

    @contextlib.asynccontextmanager
    async def hold_starts(
        self, history: History, *, count: int = 1, at: str = "request", then_forward: bool = False
    ) -> AsyncIterator[Held]:
        """Park the next ``count`` workflow starts: ``at="request"`` before Temporal has
        them (received, not durable), ``at="reply"`` after Temporal started the workflow
        and before Stigma hears so (durable, not yet ACKed). On exit they go on
        (``then_forward``) or are dropped (the caller gets UNAVAILABLE)."""
        if at not in ("request", "reply"):
            raise ValueError(f"at={at!r}: expected 'request' or 'reply'")
        held = Held(self, count, what=f"workflow start ({at})")
        self._held_starts, self._park_starts_at = held, at
        history.fault("start", f"start_held:{at}", "stigma_starts", count=count)
        try:
            yield held
        finally:
            self._held_starts = None
            held.release(forward=then_forward)
            history.fault("stop", f"start_held:{at}", "stigma_starts", forwarded=then_forward)

    @contextlib.asynccontextmanager
    async def refuse_starts(
        self, history: History, code: grpc.StatusCode, *, count: int = 1
    ) -> AsyncIterator[list[StartSeen]]:
        """Answer the next ``count`` workflow starts with ``code`` instead of forwarding
        them: a Temporal that will not take the start. Yields the refused starts."""
        refused_before = len(self.starts)
        self._refusals = [code] * count
        history.fault("start", f"start_refused:{code.name}", "stigma_starts", count=count)
        try:
            yield [s for s in self.starts[refused_before:] if s.answer.startswith("refused:")]
        finally:
            self._refusals = []
            history.fault("stop", f"start_refused:{code.name}", "stigma_starts")

    @contextlib.asynccontextmanager
    async def refuse_calls_by_token(
        self,
        history: History,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        *,
        for_s: float | None = None,
    ) -> AsyncIterator[Refusal]:
        """Answer every call by Zigflow's token (complete, fail, cancel) with ``code``
        instead of forwarding it, for ``for_s`` seconds or until ``release()`` or the end
        of the block; every other call of Stigma passes (its worker's polls, heartbeats and
        reports on its own activities, its starts), by tokens handed to Stigma after the
        refusal began (``handed_since``). Yields the refusal (the refused calls).

        Prefer releasing on an event (``Refusal.arrived``, Stigma's own record of its
        completion attempts) over ``for_s``: a duration long enough for any client's retry
        loop would be the slowest thing in the gate."""
        refusal = Refusal(self, code, for_s)
        self._refusing = refusal
        name = f"completion_refused:{code.name}"
        history.fault("start", name, "stigma_completions", for_s=for_s)
        try:
            yield refusal
        finally:
            if self._refusing is refusal:
                self._refusing = None
            refusal.release()
            history.fault("stop", name, "stigma_completions", refused=len(refusal.calls))

    @contextlib.asynccontextmanager
    async def refuse_heartbeats(self, history: History, token_fps: set[str]) -> AsyncIterator[None]:
        """Answer every heartbeat by these tokens (fingerprints) UNAVAILABLE instead of
        forwarding it, until the end of the block: the holder's beats are lost, so its
        attempt times out by heartbeat while every other call passes."""
        self._beats_refused = set(token_fps)
        history.fault("start", "heartbeats_refused", "stigma_completions", tokens=len(token_fps))
        try:
            yield
        finally:
            self._beats_refused = set()
            history.fault("stop", "heartbeats_refused", "stigma_completions")

    def record(
        self, history: History, since_wall: float, held: Held | None = None
    ) -> list[dict[str, Any]]:
        """Put the calls by Zigflow's token that reached the relay since ``since_wall``
        (their deadlines, answers, and when a caller gave one up), when they were read
        and the token ``held`` parked (``same_token``), into the history's measurements
        (``calls_by_token``), for the checkers (``harness.judge.token_calls``). Returns
        the calls."""
        calls = [c.record() for c in self.completions if c.wall >= since_wall and not c.own_task]
        recorded: dict[str, Any] = {"recorded_wall": time.time(), "calls": calls}
        if held is not None and held.token_fp is not None:
            recorded["held_token_fp"] = held.token_fp
        history.measurements["calls_by_token"] = recorded
        return calls

    def refused(self) -> list[StartSeen]:
        return [s for s in self.starts if s.answer.startswith("refused:")]

    async def forward(self, method: str, body: bytes, context: Any) -> bytes:
        self.calls += 1
        start: StartSeen | None = None
        if method in STARTS:
            start = StartSeen(
                started_workflow_ids(method, body), method.rsplit("/", 1)[-1], time.time()
            )
            self.starts.append(start)
            await self._before_start(start, context)
        call: Relayed | None = None
        request_type = COMPLETIONS.get(method)
        if request_type is not None:
            token = request_type.FromString(body).task_token
            fp = fingerprint(token)
            call = Relayed(
                method.rsplit("/", 1)[-1],
                fp,
                time.time(),
                own_task=fp in self._own_tasks,
                deadline_s=context.time_remaining(),
            )
            self.completions.append(call)
            refusal = self._refusing
            if refusal is not None and refusal.refuses(call):
                await refusal._refuse(call, context)
            held = self._held
            parks = held is not None and self._park_completions_at == "request" and held.parks(call)
            if parks and held is not None:
                try:
                    forward = await held._park(call)
                except asyncio.CancelledError:
                    # The caller stopped waiting (its deadline, or a cancel): gRPC ends
                    # the handler; no answer ever went back.
                    await asyncio.shield(held._abandon(call))
                    raise
                if not forward:
                    call.answer = "dropped"
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "relay: completion dropped")
        beat: Relayed | None = None
        if method in HEARTBEATS:
            token = HEARTBEATS[method].FromString(body).task_token
            fp = fingerprint(token)
            beat = Relayed(
                method.rsplit("/", 1)[-1], fp, time.time(), own_task=fp in self._own_tasks
            )
            self.heartbeats.append(beat)
            if fp in self._beats_refused:
                beat.answer = "refused:UNAVAILABLE"
                await context.abort(grpc.StatusCode.UNAVAILABLE, Refusal.DETAILS)
        assert self._channel is not None
        metadata = tuple((k, v) for k, v in context.invocation_metadata() if k not in _OWN_HEADERS)
        stub = self._channel.unary_unary(
            method, request_serializer=_raw, response_deserializer=_raw
        )
        try:
            reply: bytes = await stub(body, timeout=context.time_remaining(), metadata=metadata)
        except grpc.aio.AioRpcError as err:
            if call is not None:
                call.answer = err.code().name
            if beat is not None:
                beat.answer = err.code().name
            if start is not None:
                start.answer, start.answered_wall = err.code().name, time.time()
            # The server's trailing details (e.g. NotFoundFailure) travel back as they came.
            trailers: Any = tuple(tuple(m) for m in (err.trailing_metadata() or ()))  # type: ignore[arg-type]
            await context.abort(err.code(), err.details() or "", trailing_metadata=trailers)
        if method in OWN_TASKS:
            self._learn_own_tasks(method, reply)
        if beat is not None:
            beat.answer = "OK"
            beat.flags = heartbeat_flags(reply)
        if call is not None:
            call.answer = "OK"
            await self._after_completion(call, context)
        if start is not None:
            await self._after_start(start, context)
            start.answer, start.answered_wall = "OK", time.time()
        return reply

    def _learn_own_tasks(self, method: str, reply: bytes) -> None:
        response = OWN_TASKS[method].FromString(reply)
        if isinstance(response, wsr.RespondWorkflowTaskCompletedResponse):
            tokens = [task.task_token for task in response.activity_tasks]
        else:
            tokens = [response.task_token]
        self._own_tasks.update(fingerprint(t) for t in tokens if t)

    async def _before_start(self, start: StartSeen, context: Any) -> None:
        if self._refusals:
            code = self._refusals.pop(0)
            start.answer, start.answered_wall = f"refused:{code.name}", time.time()
            await context.abort(code, "relay: Temporal refused this start (a harness fault)")
        held = self._held_starts
        parks = held is not None and self._park_starts_at == "request" and held.parks()
        if parks and held is not None and not await held._park(start):
            start.answer = "dropped"
            await context.abort(grpc.StatusCode.UNAVAILABLE, "relay: start dropped")

    async def _after_completion(self, call: Relayed, context: Any) -> None:
        held = self._held
        parks = held is not None and self._park_completions_at == "reply" and held.parks(call)
        if parks and held is not None and not await held._park(call):
            # Temporal has resolved Zigflow's activity; Stigma never hears so, and its
            # client's retry of the same call is answered NOT_FOUND.
            call.answer = "reply_dropped"
            await context.abort(grpc.StatusCode.UNAVAILABLE, "relay: completion reply dropped")

    async def _after_start(self, start: StartSeen, context: Any) -> None:
        held = self._held_starts
        parks = held is not None and self._park_starts_at == "reply" and held.parks()
        if parks and held is not None and not await held._park(start):
            # Temporal has the workflow; Stigma never hears so.
            start.answer, start.answered_wall = "dropped", time.time()
            await context.abort(grpc.StatusCode.UNAVAILABLE, "relay: start reply dropped")


def _raw(body: bytes) -> bytes:
    return body


class _Forward(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    def __init__(self, relay: CompletionRelay) -> None:
        self._relay = relay

    def service(self, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        async def behaviour(body: bytes, context: Any) -> bytes:
            return await self._relay.forward(method, body, context)

        return grpc.unary_unary_rpc_method_handler(behaviour)
