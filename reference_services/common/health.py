"""Standard gRPC health service (grpc.health.v1), the services' readiness signal."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

OVERALL = ""


class Health:
    """Reports NOT_SERVING until ``ready()`` and again from ``stopping()``."""

    def __init__(self, *service_names: str) -> None:
        self._servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
        self._names = (OVERALL, *service_names)

    def register(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def _set(self, status: int) -> None:
        for name in self._names:
            await self._servicer.set(name, status)

    async def not_ready(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def ready(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.SERVING)

    async def stopping(self) -> None:
        await self._servicer.enter_graceful_shutdown()
