"""Zigflow that ignores direct mode: it always hands over its token and waits."""

from __future__ import annotations

import sys
from typing import Any

from temporalio import activity

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import activities
from reference_services.zigflow.plan import AgentCall

_real = activities.ZigflowActivities.execute_agent


@activity.defn(name="execute_agent")
async def _execute_agent(self: Any, call: AgentCall) -> Any:
    call.mode = "handshake"
    return await _real(self, call)


activities.ZigflowActivities.execute_agent = _execute_agent  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(zigflow.main())
