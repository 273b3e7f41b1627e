"""Zigflow that ignores direct mode: it always hands over its token and waits."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from temporalio import activity

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow.activities import ZigflowActivities
from reference_services.zigflow.plan import AgentCall


class AlwaysHandshake(ZigflowActivities):
    @activity.defn(name="ExecuteAgent")
    async def execute_agent(self, call: AgentCall) -> Any:
        return await super().execute_agent(dataclasses.replace(call, mode="handshake"))


zigflow.ZigflowActivities = AlwaysHandshake  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(zigflow.main())
