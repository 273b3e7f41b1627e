"""A correct Stigma whose workflow returns nothing: no summary (agent outcome,
completion status and code, heartbeats). Production services need not report to the
harness; the gate judges what Temporal shows and says what it could not check."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import workflow

_run = workflow.StigmaWorkflow._run


async def _run_without_summary(self: Any, request: Any, completion_window_s: float) -> Any:
    await _run(self, request, completion_window_s)
    return None


workflow.StigmaWorkflow._run = _run_without_summary  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
