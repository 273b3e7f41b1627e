"""Stigma that answers a retried attempt for a key it already runs by starting the
execution again as a new run (terminate-and-restart, id reuse allowing duplicates)
instead of attaching the new token: the agent runs a second time, and the newest run,
the only one a lookup by id shows, looks perfect."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server


async def _attach(self: Any, workflow_id: str, request: Any, rpc_timeout: timedelta | None) -> None:
    await self._client.start_workflow(
        "StigmaWorkflow",
        args=[request, self._window],
        id=workflow_id,
        task_queue=self._task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        rpc_timeout=rpc_timeout,
    )


server.TemporalStarter._attach = _attach  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
