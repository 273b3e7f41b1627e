"""A Zigflow that is nothing but its agent activity, under the seed plan's name
``ExecuteAgent``: no workflow, no echo. What a team's Go worker with only its
production activity looks like to the harness; it must pass at activity level."""

from __future__ import annotations

import sys
from typing import Any

from temporalio import activity

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow.plan import AgentCall

_Worker = zigflow.Worker


def _only_the_agent_activity(client: Any, **options: Any) -> Any:
    execute = options.pop("activities")[0]
    options.pop("workflows")

    @activity.defn(name="ExecuteAgent")
    async def execute_agent(call: AgentCall) -> Any:
        return await execute(call)

    return _Worker(client, activities=[execute_agent], **options)


zigflow.Worker = _only_the_agent_activity  # type: ignore[misc,assignment]

if __name__ == "__main__":
    sys.exit(zigflow.main())
