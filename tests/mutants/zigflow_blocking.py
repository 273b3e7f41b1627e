"""Zigflow whose activity holds its worker slot while the agent runs (the design the
handshake replaces): it waits in the worker instead of going result-pending."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from temporalio import activity

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow.activities import ZigflowActivities
from reference_services.zigflow.plan import AgentCall


class BlockingActivities(ZigflowActivities):
    @activity.defn(name="ExecuteAgent")
    async def execute_agent(self, call: AgentCall) -> Any:
        try:
            return await super().execute_agent(call)
        except BaseException as err:
            if type(err).__name__ != "_CompleteAsyncError":
                raise
        await asyncio.Event().wait()  # blocks the slot until cancelled / timed out


zigflow.ZigflowActivities = BlockingActivities  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(zigflow.main())
