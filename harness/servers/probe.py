"""Talk to a Stigma directly (any implementation): raw StartAgent calls and health."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness import contract
from harness.tls import ServiceTLS, service_channel


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    details: str


class StigmaProbe:
    def __init__(self, target: str, tls: ServiceTLS | None = None) -> None:
        self._channel = service_channel(
            target, tls, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
        )
        self._call = self._channel.unary_unary(
            contract.START_AGENT_PATH,
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )
        self._health = health_pb2_grpc.HealthStub(self._channel)

    async def start_agent_raw(self, body: bytes, timeout_s: float = 10.0) -> Answer:
        try:
            await self._call(body, timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            return Answer(err.code(), err.details() or "")
        return Answer(grpc.StatusCode.OK, "")

    async def serving(self) -> bool:
        reply = await self._health.Check(
            health_pb2.HealthCheckRequest(service=contract.STIGMA_SERVICE), timeout=5
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        await self._channel.close(grace=None)
