"""Stigma that "drains" on SIGTERM by waiting until every execution it started has
closed, agents included, before it stops: an agent runs for minutes or hours, the
deploy's supervisor SIGKILLs it at the end of its grace period, mid-call, every time."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from temporalio.client import Client

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

STARTED: list[tuple[Client, str]] = []  # (client, workflow id) of each execution it started

_start = server.TemporalStarter.start


async def start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    await _start(self, workflow_id, request, timeout_s)
    STARTED.append((self._client, workflow_id))


server.TemporalStarter.start = start  # type: ignore[method-assign]


class DrainOnStop:
    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self) -> None:
        await self._event.wait()
        for client, workflow_id in STARTED:
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(workflow_id).result()


_shutdown_requested = stigma.shutdown_requested
stigma.shutdown_requested = lambda: DrainOnStop(_shutdown_requested())  # type: ignore[assignment,return-value]

if __name__ == "__main__":
    sys.exit(stigma.main())
