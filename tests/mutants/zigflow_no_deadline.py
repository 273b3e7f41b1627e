"""Zigflow that calls StartAgent without a deadline: fine while connections close on
failure, a day-long hang when an ACK is lost on one that stays open."""

from __future__ import annotations

import sys
from typing import Any

import grpc
from stigma.v1 import stigma_service_pb2_grpc as pb_grpc

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import activities


async def _no_deadline(self: Any, request: Any, timeout_s: float) -> None:
    if self._stub is None:
        self._channel = grpc.aio.insecure_channel(self._target)
        self._stub = pb_grpc.StigmaServiceStub(self._channel)
    await self._stub.StartAgent(request)  # the bug: no timeout=


activities.GrpcStigmaClient.start_agent = _no_deadline  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(zigflow.main())
