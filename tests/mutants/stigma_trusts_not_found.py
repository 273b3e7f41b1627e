"""Stigma that takes NOT_FOUND at face value: "token dead", without asking Zigflow's
record whether a retried attempt is waiting or an earlier call already delivered."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities


async def why_not_found(self: Any, completion: Any) -> tuple[str, str]:
    return "gone", "not checked"


activities.TemporalZigflowRecord.why_not_found = why_not_found  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
