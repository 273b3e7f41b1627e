"""Stigma that looks for its own earlier *result* in Zigflow's history after a NOT_FOUND,
but not for its own earlier *failure*: a fail-by-token call that landed and whose reply
was lost is recorded as a dead token, although Zigflow has the failure."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_real = activities.delivered_earlier


def _results_only(
    events: Iterable[HistoryEvent], completion: Any, converter: Any
) -> tuple[str, str] | None:
    kept = [ev for ev in events if not ev.HasField("activity_task_failed_event_attributes")]
    return _real(kept, completion, converter)


activities.delivered_earlier = _results_only

if __name__ == "__main__":
    sys.exit(stigma.main())
