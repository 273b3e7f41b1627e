"""Zigflow whose worker heartbeats its own pending activity by token ("keep-alive"):
the activity then never notices that the agent's holder (Stigma) died."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from temporalio import activity

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow.activities import ZigflowActivities
from reference_services.zigflow.plan import AgentCall

_KEEPALIVES: set[asyncio.Task[None]] = set()


async def _keepalive(handle: Any) -> None:
    while True:
        await asyncio.sleep(0.5)
        try:
            await handle.heartbeat()
        except Exception:
            return


class SelfHeartbeating(ZigflowActivities):
    @activity.defn(name="ExecuteAgent")
    async def execute_agent(self, call: AgentCall) -> Any:
        handle = activity.client().get_async_activity_handle(task_token=activity.info().task_token)
        try:
            return await super().execute_agent(call)
        except BaseException as err:
            if type(err).__name__ == "_CompleteAsyncError":
                task = asyncio.get_running_loop().create_task(_keepalive(handle))
                _KEEPALIVES.add(task)
            raise


zigflow.ZigflowActivities = SelfHeartbeating  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(zigflow.main())
