"""Stigma whose "running" gauge only comes down on the success path: an execution that
delivered a failure or a cancellation by token ends, but stays counted as running (the
decrement sits on the happy branch). Its counters, its results and every call by token
are right; only the gauge drifts up by one per failed or cancelled agent, so a
dashboard shows agents running that are long done and a capacity alert fires on a
quiet worker.
"""

from __future__ import annotations

import sys
from typing import Any

from temporalio import activity

from reference_services.common import metrics
from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_deliver = activities.SystemActivities._deliver
_ended = metrics.stigma_workflow_ended
# Executions that delivered a failure or a cancellation (the activity runs in the same
# process as the workflow, whose metrics module is this one: imports passed through).
_off_the_happy_path: set[str] = set()


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    if fail or kind == "cancel":
        _off_the_happy_path.add(activity.info().workflow_id)
    return await _deliver(self, completion, fail=fail, kind=kind)


def ended(workflow_id: str) -> None:
    if workflow_id in _off_the_happy_path:
        return  # the bug: the failure path never takes it off the running set
    _ended(workflow_id)


activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]
metrics.stigma_workflow_ended = ended

if __name__ == "__main__":
    sys.exit(stigma.main())
