"""Stigma that ACKs at once and starts the agent's workflow in the background: quick,
and fine until that start fails (the agent is then lost, Zigflow waits for nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

_real = server.TemporalStarter.start
_background: set[asyncio.Task[None]] = set()


async def _start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    async def later() -> None:
        with contextlib.suppress(Exception):  # the ACK is gone: nobody to tell
            await _real(self, workflow_id, request, timeout_s)

    task = asyncio.get_running_loop().create_task(later())
    _background.add(task)
    task.add_done_callback(_background.discard)


server.TemporalStarter.start = _start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
