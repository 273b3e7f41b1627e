"""A service's grpc.health.v1, asked again and again while it starts or stops."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness import tls

SERVING = "SERVING"
NOT_LISTENING = "NOT_LISTENING"  # nothing answers at the address (UNAVAILABLE)

# The probe meets refused connections while the process starts, and each puts its
# channel in gRPC's reconnect backoff (1 s, then x1.6): a service that began serving
# just after a refusal was seen SERVING up to 2 s late (measured after restarts). A
# short backoff lets the probe's own poll interval decide.
PROBE_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
]


class Health:
    """One channel's health stub (``probe``)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = health_pb2_grpc.HealthStub(channel)

    async def status(self, service: str, timeout_s: float = 1.0) -> str:
        """What the server says of ``service`` (``SERVING``, ``NOT_SERVING``, ...), or
        ``NOT_LISTENING`` when nothing answers at the address; any other error (a slow
        answer) is raised, for the caller's wait to ask again."""
        try:
            reply = await self._stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                return NOT_LISTENING
            raise
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


@contextlib.asynccontextmanager
async def probe(target: str) -> AsyncIterator[Health]:
    """A health probe of ``target`` (HOST:PORT), its channel closed on leaving."""
    async with tls.service_channel(target, options=PROBE_CHANNEL_OPTIONS) as channel:
        yield Health(channel)
