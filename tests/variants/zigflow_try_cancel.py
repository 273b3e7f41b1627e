"""A Zigflow workflow with the SDKs' default activity cancellation (TRY_CANCEL, Go's and
Python's default): cancelling the workflow requests the agent activity's cancellation and
ends at once, without waiting for Stigma to confirm. A correct design as long as Stigma
stops the agent when its heartbeat by token is answered "cancelled" or "not found"."""

from __future__ import annotations

import sys

from temporalio.workflow import ActivityCancellationType

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow.workflow import ZigflowWorkflow

ZigflowWorkflow.agent_cancellation = ActivityCancellationType.TRY_CANCEL

if __name__ == "__main__":
    sys.exit(zigflow.main())
