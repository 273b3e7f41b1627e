"""Stigma that ignores the heartbeat timeout Zigflow sends: it never heartbeats."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

_start = server.TemporalStarter.start


async def start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    request.heartbeat_every_s = None
    await _start(self, workflow_id, request, timeout_s)


server.TemporalStarter.start = start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
