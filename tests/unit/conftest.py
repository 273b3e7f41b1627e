"""Shared fakes for the unit tests: a recording WorkflowStarter and an in-process Stigma server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import pytest_asyncio
from stigma.v1 import stigma_service_pb2_grpc as pb_grpc

from reference_services.stigma.model import AgentRequest
from reference_services.stigma.server import StigmaServicer, WorkflowStarter

LOOPBACK = "127.0.0.1"
# Never route loopback test traffic through an HTTP proxy from the environment.
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]


@dataclass
class StartCall:
    workflow_id: str
    request: AgentRequest
    timeout_s: float | None


@dataclass
class FakeStarter:
    """Records every start; raises ``error`` (when set) after recording."""

    calls: list[StartCall] = field(default_factory=list)
    error: BaseException | None = None

    async def start(self, workflow_id: str, request: AgentRequest, timeout_s: float | None) -> None:
        self.calls.append(StartCall(workflow_id, request, timeout_s))
        if self.error is not None:
            raise self.error


ServeStigma = Callable[[WorkflowStarter], Awaitable[grpc.aio.Channel]]


@pytest_asyncio.fixture
async def serve_stigma() -> AsyncIterator[ServeStigma]:
    """Factory: start StigmaServicer(starter) on 127.0.0.1:<free port>, return a channel to it."""
    running: list[tuple[grpc.aio.Server, grpc.aio.Channel]] = []

    async def start(starter: WorkflowStarter) -> grpc.aio.Channel:
        server = grpc.aio.server(options=CHANNEL_OPTIONS)
        pb_grpc.add_StigmaServiceServicer_to_server(StigmaServicer(starter), server)
        port = server.add_insecure_port(f"{LOOPBACK}:0")
        assert port > 0
        await server.start()
        channel = grpc.aio.insecure_channel(f"{LOOPBACK}:{port}", options=CHANNEL_OPTIONS)
        running.append((server, channel))
        return channel

    yield start
    for server, channel in running:
        await channel.close()
        await server.stop(None)
