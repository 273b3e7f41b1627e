"""A StartAgent relay between Zigflow and Stigma that can damage the token in transit.

Zigflow talks to the relay instead of Stigma (every stack with ``tamper`` or
``relay``; a scenario reaches it as the ``tamper`` fixture on a chaos stack); the relay
forwards every request unchanged unless a scenario installs a transform. That keeps both
real services and the real server in the loop while the token arrives corrupted, stale,
swapped or replayed, exactly as a faulty network, proxy or Stigma bug would deliver it.

Because the harness owns this hop it also *sees* each ACK go back to Zigflow
(``acked``): "after the ACK" is an observed event, not inferred from Temporal's
state (Stigma's durable start precedes its ACK by however long Stigma takes).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
from stigma.v1 import stigma_service_pb2 as pb

from harness import contract, wire
from harness.links.parking import Parking
from harness.servers.ports import GRPC_SERVER_OPTIONS, LOOPBACK, RELAY_CHANNEL_OPTIONS
from harness.tokens import fingerprint

# A transform returns the request to forward, or a status code to answer Zigflow with
# instead (the request is then not forwarded: "lost before Stigma").
Transform = Callable[[pb.StartAgentRequest], Awaitable[pb.StartAgentRequest | grpc.StatusCode]]


# The relay's record of its answers to Zigflow: the status it passed back, or ACK_LOST
# (Stigma ACKed, and the relay dropped the ACK: TokenTamper.lose_acks).
ACKED = grpc.StatusCode.OK.name
ACK_LOST = "ACK_LOST"

# How long the relay's probe of its upstream may take to be refused: a refusal on a
# loopback proxy comes at once; anything slower is not a refusal.
UPSTREAM_PROBE_TIMEOUT_S = 0.5


@dataclass
class Tampered:
    """What the relay did to one request (fingerprints only, never tokens)."""

    idempotency_key: str
    attempt: int
    original_fp: str
    forwarded_fp: str | None  # None: not forwarded
    answer: str = ""
    # Which Zigflow activity the request says it is for (its correlation).
    zigflow_workflow_id: str = ""
    zigflow_activity_id: str = ""
    # Epoch seconds at which Stigma's ACK passed back through the relay.
    acked_wall: float | None = None
    # The call's gRPC deadline as it arrived (seconds left; None: the caller set none).
    deadline_s: float | None = None
    wall: float = 0.0  # epoch seconds at which the request arrived

    @property
    def accepted(self) -> bool:
        """Stigma ACKed it (whether or not the ACK then reached Zigflow)."""
        return self.answer in (ACKED, ACK_LOST)


@dataclass
class TokenTamper:
    upstream: str
    listen: str = ""
    # The upstream is a proxy that keeps listening while Stigma is killed and restarted
    # (a chaos stack's Toxiproxy), so a refused connection there means the link itself
    # is down: the relay then answers UNAVAILABLE at once, as a direct channel to a
    # refusing address does, instead of holding the call (see _handle). Off when the
    # upstream is Stigma itself, whose restart also refuses connections for a while.
    refused_means_link_down: bool = False
    log: list[Tampered] = field(default_factory=list)
    # Raw tokens as forwarded, by idempotency key: in memory only, for replay scenarios.
    forwarded_tokens: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Every token Zigflow handed over and every one forwarded (damaged ones too), in
    # memory only: the needles of the log scan (harness/observe/token_scan.py).
    tokens: dict[bytes, None] = field(default_factory=dict, repr=False)
    # When each forwarded token (by fingerprint) was first handed to Stigma.
    _handed: dict[str, float] = field(default_factory=dict, repr=False)
    _transform: Transform | None = None
    _acks_to_lose: int = 0
    _server: grpc.aio.Server | None = None
    _channel: grpc.aio.Channel | None = None
    # Channels replaced by reconnect(), each closing once the calls on it have ended.
    _retired: list[tuple[grpc.aio.Channel, asyncio.Task[None]]] = field(default_factory=list)

    def handed_at(self, token_fp: str) -> float | None:
        """When the token with this fingerprint was first handed to Stigma through this
        relay (epoch seconds); None: never (a token of Stigma's own activities, say)."""
        return self._handed.get(token_fp)

    def set(self, transform: Transform | None) -> None:
        self._transform = transform

    def lose_acks(self, count: int) -> None:
        """The next ``count`` requests reach Stigma, which starts the agent and ACKs, and
        the ACK is lost on the way back: Zigflow gets UNAVAILABLE and retries the same
        key with a new token while the first agent runs (0 stops it)."""
        self._acks_to_lose = count

    def requests(self, zigflow_workflow_id: str, activity_id: str, attempt: int) -> list[Tampered]:
        """The StartAgent requests of this attempt of this Zigflow activity, as relayed."""
        return [
            r
            for r in self.log
            if r.zigflow_workflow_id == zigflow_workflow_id
            and r.zigflow_activity_id == activity_id
            and r.attempt == attempt
        ]

    def acked(self, zigflow_workflow_id: str, activity_id: str, attempt: int) -> bool:
        """Whether Stigma's ACK for this attempt of this Zigflow activity came back."""
        return any(
            r.acked_wall is not None
            for r in self.requests(zigflow_workflow_id, activity_id, attempt)
        )

    async def start(self) -> str:
        self._connect()
        self._server = grpc.aio.server(options=GRPC_SERVER_OPTIONS)
        handler = grpc.method_handlers_generic_handler(
            contract.STIGMA_SERVICE,
            {contract.START_AGENT: grpc.unary_unary_rpc_method_handler(self._handle)},
        )
        self._server.add_generic_rpc_handlers((handler,))
        # Port 0: the kernel picks one nobody holds, so no window to lose.
        port = self._server.add_insecure_port(f"{LOOPBACK}:0")
        self.listen = f"{LOOPBACK}:{port}"
        await self._server.start()
        return self.listen

    async def connected(self, timeout_s: float = 30.0) -> None:
        """Until the relay's connection to Stigma is up (Stigma serving)."""
        assert self._channel is not None
        await asyncio.wait_for(self._channel.channel_ready(), timeout_s)

    async def _upstream_refuses(self) -> bool:
        """Whether the upstream address refuses a connection now. Asked only while the
        relay's channel is not connected (a connected channel has nothing to learn)."""
        assert self._channel is not None
        if self._channel.get_state(try_to_connect=False) == grpc.ChannelConnectivity.READY:
            return False
        host, _, port = self.upstream.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), UPSTREAM_PROBE_TIMEOUT_S
            )
        except ConnectionRefusedError:
            return True
        except (OSError, TimeoutError):
            return False  # not a refusal: the call goes on and meets what a direct one would
        writer.close()
        return False

    def _connect(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.upstream, options=RELAY_CHANNEL_OPTIONS)
        self._forward = self._channel.unary_unary(
            contract.START_AGENT_PATH,
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )

    async def reconnect(self) -> None:
        """A fresh connection to Stigma, after the harness restarted it: the old one may
        sit in gRPC's reconnect backoff for seconds, a delay of the relay's own that
        Zigflow's connection (to the relay) would not have."""
        old = self._channel
        self._connect()
        if old is not None:
            # A call that reached the relay while Stigma was down waits on the old channel
            # (wait_for_ready, see _handle) and goes through it once Stigma is back, within
            # its own deadline. Closed at once, the channel would cancel that call with no
            # answer to Zigflow, which then waited out its whole ACK deadline (measured:
            # 5 s) on a hop a direct connection does not have.
            closing = asyncio.ensure_future(old.close(grace=contract.START_AGENT_DEADLINE_MAX_S))
            self._retired.append((old, closing))
        await self.connected()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=1)
        for old, closing in self._retired:
            closing.cancel()
            await old.close(grace=None)
        self._retired.clear()
        if self._channel is not None:
            await self._channel.close(grace=None)

    async def _handle(self, body: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        request = pb.StartAgentRequest.FromString(body)
        record = Tampered(
            request.idempotency_key,
            request.correlation.zigflow_attempt,
            fingerprint(request.callback_token),
            None,
            zigflow_workflow_id=request.correlation.zigflow_workflow_id,
            zigflow_activity_id=request.correlation.zigflow_activity_id,
            deadline_s=context.time_remaining(),
            wall=time.time(),
        )
        self.log.append(record)
        self.tokens[request.callback_token] = None
        outgoing: pb.StartAgentRequest | grpc.StatusCode = request
        if self._transform is not None:
            copy = pb.StartAgentRequest()
            copy.CopyFrom(request)
            outgoing = await self._transform(copy)
        if isinstance(outgoing, grpc.StatusCode):
            record.answer = outgoing.name
            await context.abort(outgoing, "tamper: request dropped before Stigma")
        assert isinstance(outgoing, pb.StartAgentRequest)
        record.forwarded_fp = fingerprint(outgoing.callback_token)
        self._handed.setdefault(record.forwarded_fp, time.time())
        self.tokens[outgoing.callback_token] = None
        self.forwarded_tokens[outgoing.idempotency_key] = outgoing.callback_token
        if self.refused_means_link_down and await self._upstream_refuses():
            record.answer = grpc.StatusCode.UNAVAILABLE.name
            await context.abort(grpc.StatusCode.UNAVAILABLE, "relay: upstream refused connecting")
        remaining = context.time_remaining()
        try:
            # wait_for_ready: a transparent hop adds no failure of its own (a channel still
            # backing off after Stigma restarted waits, within Zigflow's deadline). A call
            # in flight when Stigma dies still fails, as a direct one would: the channel
            # is connected before any scenario runs (start), so no first call can wait
            # through Stigma's death for its restart and hide a Zigflow that never retries.
            reply: bytes = await self._forward(
                outgoing.SerializeToString(), timeout=remaining, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as err:
            record.answer = err.code().name
            await context.abort(err.code(), err.details() or "")
        if self._acks_to_lose > 0:
            self._acks_to_lose -= 1
            record.answer = ACK_LOST
            await context.abort(grpc.StatusCode.UNAVAILABLE, "tamper: ACK lost after Stigma")
        record.answer = ACKED
        record.acked_wall = time.time()
        return reply


class Swap:
    """Swap the callback tokens of the next two requests (both held until both arrive)."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._first: tuple[pb.StartAgentRequest, asyncio.Future[bytes]] | None = None
        self._timeout_s = timeout_s

    async def __call__(self, request: pb.StartAgentRequest) -> pb.StartAgentRequest:
        if self._first is None:
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._first = (request, future)
            other_token = await asyncio.wait_for(future, self._timeout_s)
            request.callback_token = other_token
            return request
        first, future = self._first
        mine = request.callback_token
        request.callback_token = first.callback_token
        future.set_result(mine)
        return request


class StaleAttempt:
    """Drop each call's first attempt (Zigflow sees UNAVAILABLE and retries with a new
    token), then forward the retry carrying the first attempt's now-dead token."""

    def __init__(self) -> None:
        self._first: dict[str, bytes] = {}

    async def __call__(
        self, request: pb.StartAgentRequest
    ) -> pb.StartAgentRequest | grpc.StatusCode:
        key = request.idempotency_key
        if key not in self._first:
            self._first[key] = request.callback_token
            return grpc.StatusCode.UNAVAILABLE
        request.callback_token = self._first[key]
        return request


class _ParkedAttempts(Parking[int]):
    """StartAgent calls parked before Stigma, by their attempt
    (``correlation.zigflow_attempt``), until ``release()``."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()  # parked: the attempts, in arrival order
        self._timeout_s = timeout_s
        self._go = asyncio.Event()

    def release(self) -> None:
        self._go.set()

    async def _park(self, request: pb.StartAgentRequest) -> None:
        """Until released; TimeoutError once the bound has passed (Zigflow's own deadline
        on the call, at most 60 s, has ended it by then)."""
        async with self._arrived:
            self.parked.append(request.correlation.zigflow_attempt)
            self._arrived.notify_all()
        await asyncio.wait_for(self._go.wait(), self._timeout_s)


class HoldRetries(_ParkedAttempts):
    """Park every StartAgent of a retried attempt (``correlation.zigflow_attempt`` at
    least ``from_attempt``) before Stigma, until ``release()``; earlier attempts pass.
    Zigflow's retry has then started on the server, with a new token that has not yet
    reached Stigma: the window where Stigma still holds only the old attempt's token."""

    def __init__(self, from_attempt: int = 2, timeout_s: float = 60.0) -> None:
        self.from_attempt = from_attempt
        super().__init__(timeout_s)

    def not_arrived(self, missing: int) -> str:
        return (
            f"{missing} StartAgent call(s) of attempt >= {self.from_attempt} to reach "
            "the harness's relay (did Zigflow retry the timed-out attempt?)"
        )

    async def __call__(self, request: pb.StartAgentRequest) -> pb.StartAgentRequest:
        if request.correlation.zigflow_attempt >= self.from_attempt and not self._go.is_set():
            await self._park(request)
        return request


class LoseAttempt(_ParkedAttempts):
    """Park the StartAgent calls of one attempt (``correlation.zigflow_attempt``) before
    Stigma until ``release()``, then drop them (UNAVAILABLE, to a caller that may be
    gone); other attempts pass. With Zigflow killed while its call is parked, Stigma
    never gets that attempt's token: nobody can heartbeat or complete the attempt."""

    def __init__(self, attempt: int = 1, timeout_s: float = 60.0) -> None:
        self.attempt = attempt
        super().__init__(timeout_s)

    def not_arrived(self, missing: int) -> str:
        return f"{missing} StartAgent call(s) of attempt {self.attempt} to reach the relay"

    async def __call__(
        self, request: pb.StartAgentRequest
    ) -> pb.StartAgentRequest | grpc.StatusCode:
        if request.correlation.zigflow_attempt != self.attempt:
            return request
        with contextlib.suppress(TimeoutError):  # dropped either way
            await self._park(request)
        return grpc.StatusCode.UNAVAILABLE


def rewrite(fn: Callable[[bytes], bytes]) -> Transform:
    """A transform that rewrites the token with ``fn`` (corruption classes)."""

    async def transform(request: pb.StartAgentRequest) -> pb.StartAgentRequest:
        request.callback_token = fn(request.callback_token)
        return request

    return transform


def retarget_namespace(token: bytes, own_namespace: str, foreign: str) -> bytes:
    """The same token, naming another namespace: what a token minted in one namespace
    looks like when presented to another.

    Two formats: the time-skipping test server writes the namespace *name* first
    (Java writeUTF: 2-byte length, bytes); a real server's token is a protobuf whose
    field 1 is the namespace *id* (``foreign`` must then be that namespace's id)."""
    own = own_namespace.encode()
    if token[:2] == len(own).to_bytes(2, "big") and token[2 : 2 + len(own)] == own:
        name = foreign.encode()
        return len(name).to_bytes(2, "big") + name + token[2 + len(own) :]
    out, i = b"", 0
    while i < len(token):
        key, j = wire.read_varint(token, i)
        number, kind = key >> 3, key & 7
        if kind == wire.VARINT:
            _, end = wire.read_varint(token, j)
        elif kind == wire.LEN:
            size, start = wire.read_varint(token, j)
            end = start + size
            if number == 1:
                out += wire.field(1, foreign.encode())
                i = end
                continue
        elif kind == 1:  # 64-bit
            end = j + 8
        elif kind == 5:  # 32-bit
            end = j + 4
        else:
            raise ValueError(f"not a task token this harness knows (wire type {kind})")
        out += token[i:end]
        i = end
    return out
