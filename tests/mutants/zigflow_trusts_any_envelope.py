"""Zigflow that accepts whatever result arrives by token, without checking that the
envelope names this workflow and activity (swapped tokens go unnoticed)."""

from __future__ import annotations

import os
import sys
from typing import Any

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import workflow


def _trust(self: Any, result: Any, activity_id: str) -> None:
    return None


workflow.ZigflowWorkflow._check_envelope = _trust  # type: ignore[method-assign]
# The patch lives in this process's module: the sandbox must share it, not re-import it.
os.environ["ZIGFLOW_WORKFLOW_SANDBOX"] = "passthrough"

if __name__ == "__main__":
    sys.exit(zigflow.main())
