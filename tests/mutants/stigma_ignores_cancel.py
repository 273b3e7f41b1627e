"""Stigma that swallows the cancellation carried by a heartbeat response."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities
from reference_services.stigma.model import CompletionOutcome

_deliver = activities.SystemActivities._deliver


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    outcome = await _deliver(self, completion, fail=fail, kind=kind)
    if outcome.status == "cancel_requested":
        return CompletionOutcome("alive", token_fp=outcome.token_fp)
    return outcome


activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
