"""Stigma that stops heartbeating when its heartbeat is answered NOT_FOUND, but lets the
agent run on: harmless under a Zigflow that waits for the cancellation to complete,
an agent nobody will ever read under one that does not (TRY_CANCEL, the SDKs' default)."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_deliver = activities.SystemActivities._deliver


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    outcome = await _deliver(self, completion, fail=fail, kind=kind)
    outcome.requester_closed = False
    return outcome


activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
