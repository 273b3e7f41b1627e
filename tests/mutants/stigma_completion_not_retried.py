"""Stigma that never retries a completion call ("completion is not idempotent, so
call it once"): a completion lost with a killed worker is never made."""

from __future__ import annotations

import sys
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from reference_services.stigma import __main__ as stigma

_execute_activity = workflow.execute_activity


def execute_activity(activity: Any, *args: Any, **kwargs: Any) -> Any:
    if activity in ("complete_zigflow_activity", "fail_zigflow_activity"):
        kwargs["retry_policy"] = RetryPolicy(maximum_attempts=1)
    return _execute_activity(activity, *args, **kwargs)


# temporalio.workflow is passed through to the workflow sandbox, so this reaches
# StigmaWorkflow's calls.
workflow.execute_activity = execute_activity  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(stigma.main())
