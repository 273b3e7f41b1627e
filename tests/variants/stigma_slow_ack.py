"""A correct Stigma that is slow to ACK: 300 ms between its durable start and the ACK
(a cold JVM takes 180-260 ms). Every spec must pass against it: "after the ACK" has to
be observed, not inferred from the durable start that precedes it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

ACK_DELAY_S = 0.3
_real = server.TemporalStarter.start


async def _start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    await _real(self, workflow_id, request, timeout_s)
    await asyncio.sleep(ACK_DELAY_S)  # the service's own latency, not synchronisation


server.TemporalStarter.start = _start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
