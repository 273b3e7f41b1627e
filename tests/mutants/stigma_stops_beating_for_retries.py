"""Stigma that stops heartbeating at the first heartbeat answered NOT_FOUND, without asking
Zigflow's record whether a retried attempt is pending: after a heartbeat timeout, the
retry's token attaches to an execution that no longer beats, and the live attempt times
out by heartbeat too while the agent works on. (Both reference Stigmas did this before
#22 item 3.) Completions still look for the retry, so every earlier scenario passes."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_deliver = activities.SystemActivities._deliver


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    outcome = await _deliver(self, completion, fail=fail, kind=kind)
    if kind == "heartbeat":
        outcome.retry_pending = False
    return outcome


activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
