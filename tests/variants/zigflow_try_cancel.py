"""A Zigflow workflow with the SDKs' default activity cancellation (TRY_CANCEL, Go's and
Python's default): cancelling the workflow requests the agent activity's cancellation and
ends at once, without waiting for Stigma to confirm. A correct design as long as Stigma
stops the agent when its heartbeat by token is answered "cancelled" or "not found"."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ActivityCancellationType

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import workflow as zigflow_workflow
from reference_services.zigflow.plan import AgentCall, State


async def _execute_agent(self: Any, state: State, call: AgentCall, activity_id: str) -> Any:
    return await workflow.execute_activity(
        "ExecuteAgent",
        call,
        activity_id=activity_id,
        start_to_close_timeout=timedelta(seconds=state.start_to_close_s),
        heartbeat_timeout=(
            timedelta(seconds=state.heartbeat_timeout_s) if state.heartbeat_timeout_s else None
        ),
        retry_policy=zigflow_workflow._retry_policy(state),
        cancellation_type=ActivityCancellationType.TRY_CANCEL,
    )


zigflow_workflow.ZigflowWorkflow._execute_agent = _execute_agent  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(zigflow.main())
