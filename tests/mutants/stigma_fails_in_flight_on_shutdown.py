"""Stigma that "hands back" its work on SIGTERM: for each execution it started that is
still running, it fails Zigflow's activity by token (retryable, "shutting down") so that
Zigflow retries elsewhere. The retry finds the running execution, so the result still
arrives; but every deploy ends the attempt Temporal was keeping for each call in flight
(a retry, with its backoff, per call and deploy)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

# (client, workflow id, Zigflow's token) of each execution this process started
STARTED: list[tuple[Client, str, bytes]] = []

_start = server.TemporalStarter.start


async def start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    await _start(self, workflow_id, request, timeout_s)
    if request.token is not None:
        token = base64.b64decode(request.token.token_b64)
        STARTED.append((self._client, workflow_id, token))


server.TemporalStarter.start = start  # type: ignore[method-assign]


class HandBackOnStop:
    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self) -> None:
        await self._event.wait()
        for client, workflow_id, token in STARTED:
            with contextlib.suppress(Exception):
                described = await client.get_workflow_handle(workflow_id).describe()
                if described.status == WorkflowExecutionStatus.RUNNING:
                    await client.get_async_activity_handle(task_token=token).fail(
                        ApplicationError("stigma is shutting down")
                    )


_shutdown_requested = stigma.shutdown_requested
stigma.shutdown_requested = lambda: HandBackOnStop(_shutdown_requested())  # type: ignore[assignment,return-value]

if __name__ == "__main__":
    sys.exit(stigma.main())
