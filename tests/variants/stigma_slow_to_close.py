"""A correct Stigma whose execution closes long after its completion call landed: the
completion activity reports in CLOSE_DELAY_S later (heartbeating meanwhile), as when,
on a slow link, its attempts time out after the call landed and are retried with
backoff. Zigflow resumes at once; Stigma's record of the call comes later. The
harness must read that record once Stigma has closed, not judge it running."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from temporalio import activity

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

# Longer than the harness once waited for Stigma to close (15 s), well inside the
# gate's call timeout (60 s).
CLOSE_DELAY_S = 17
_deliver = activities.SystemActivities._deliver


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    outcome = await _deliver(self, completion, fail=fail, kind=kind)
    if kind == "":  # a completion or failure by token, not a heartbeat or cancellation
        for _ in range(CLOSE_DELAY_S):
            activity.heartbeat()
            await asyncio.sleep(1.0)  # the service's own slowness, not synchronisation
    return outcome


activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
