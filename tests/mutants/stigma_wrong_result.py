"""Stigma that completes the Zigflow activity with a result other than the agent's."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_real = activities.SystemActivities._deliver


async def _deliver(self: Any, completion: Any, *, fail: bool) -> Any:
    if isinstance(completion.result, dict):
        completion.result["output"] = {"agent_id": "someone-else", "value": "stale"}
    return await _real(self, completion, fail=fail)


activities.SystemActivities._deliver = _deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
