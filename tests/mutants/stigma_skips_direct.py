"""Stigma that ACKs a direct call (no token) without ever running the agent."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

_real = server.TemporalStarter.start


async def _start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    if request.token is None:
        return  # "fire and forget" that forgets
    await _real(self, workflow_id, request, timeout_s)


server.TemporalStarter.start = _start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
