"""Seeing a kill land (harness.target.kill_seen) against a real grpc.health.v1 server in
this process: the Watch opened before the kill ends with the server, or says it no longer
serves; one that goes on serving is a kill that did not land."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from harness.errors import FaultNotReached, NotReadyError
from harness.servers.ports import free_port
from harness.target.kill_seen import KillWatch

pytestmark = pytest.mark.unit

NAME = "stigma.v1.StigmaService"


class Served:
    def __init__(self, server: grpc.aio.Server, servicer: health.aio.HealthServicer, address: str):
        self.server = server
        self.servicer = servicer
        self.address = address


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    await servicer.set(NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    await server.start()
    yield Served(server, servicer, address)
    await server.stop(None)


async def _gone(served: Served) -> None:
    await served.server.stop(None)  # the process the stream was on is gone


async def _stopping(served: Served) -> None:
    await served.servicer.set(NAME, health_pb2.HealthCheckResponse.NOT_SERVING)


@pytest.mark.parametrize(
    ("kill", "seen_as"),
    [(_gone, "the stream ended"), (_stopping, "it said NOT_SERVING")],
    ids=["process-gone", "stopping-on-a-signal"],
)
async def test_a_kill_that_lands_is_seen(
    served: Served, kill: Callable[[Served], Awaitable[None]], seen_as: str
) -> None:
    watch = await KillWatch.open("stigma", served.address, NAME, timeout_s=5)
    try:
        await kill(served)
        seen = await watch.landed(timeout_s=5)
    finally:
        await watch.close()
    assert seen.startswith(seen_as), seen


async def test_a_kill_that_did_not_land_is_fault_not_reached(served: Served) -> None:
    watch = await KillWatch.open("stigma", served.address, NAME, timeout_s=5)
    try:
        # A restart of another process (a status set again) is not this one going down.
        await served.servicer.set(NAME, health_pb2.HealthCheckResponse.SERVING)
        with pytest.raises(FaultNotReached, match=f"at {served.address} before it still says"):
            await watch.landed(timeout_s=0.5)
    finally:
        await watch.close()


async def test_nothing_serving_before_the_kill_is_not_ready() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(NotReadyError, match=f"{address} does not answer a Watch before the kill"):
        await KillWatch.open("zigflow", address, "", timeout_s=2)


async def test_a_service_not_serving_before_the_kill_is_not_ready(served: Served) -> None:
    await served.servicer.set(NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    with pytest.raises(NotReadyError, match="says NOT_SERVING before the kill"):
        await KillWatch.open("stigma", served.address, NAME, timeout_s=5)
