"""Zigflow that schedules the agent activity with a 5-minute StartToClose (a common
SDK-side default) whatever the plan asks: every agent that runs longer loses its token."""

from __future__ import annotations

import os
import sys
from typing import Any

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import workflow

_execute = workflow.ZigflowWorkflow._execute_agent


async def _execute_agent(self: Any, state: Any, call: Any, activity_id: str) -> Any:
    state.start_to_close_s = 300.0
    return await _execute(self, state, call, activity_id)


workflow.ZigflowWorkflow._execute_agent = _execute_agent  # type: ignore[method-assign]
# The patch lives in this process's module: the sandbox must share it, not re-import it.
os.environ["ZIGFLOW_WORKFLOW_SANDBOX"] = "passthrough"

if __name__ == "__main__":
    sys.exit(zigflow.main())
