"""Stigma that schedules its agents without a heartbeat timeout: an agent lost with its
worker is only noticed at the agent's StartToClose (days), not within seconds."""

from __future__ import annotations

import sys
from typing import Any

from temporalio import workflow

from reference_services.stigma import __main__ as stigma

_execute_activity = workflow.execute_activity


def execute_activity(activity: Any, *args: Any, **kwargs: Any) -> Any:
    if activity == "run_agent":
        kwargs["heartbeat_timeout"] = None
    return _execute_activity(activity, *args, **kwargs)


# temporalio.workflow is passed through to the workflow sandbox, so this reaches
# StigmaWorkflow's calls.
workflow.execute_activity = execute_activity  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(stigma.main())
