"""Zigflow whose pending gauge never comes down: the metric forgets resolved activities
(the dashboard shows agents stuck that are long done)."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.common import metrics
from reference_services.zigflow import __main__ as zigflow

_real = metrics.agent_activity_resolved


def _resolved_but_still_pending(key: str, *args: Any, **kwargs: Any) -> None:
    _real(key, *args, **kwargs)
    metrics._state.pending.add(key)  # the bug: the resolved activity stays counted
    metrics._publish()


metrics.agent_activity_resolved = _resolved_but_still_pending

if __name__ == "__main__":
    sys.exit(zigflow.main())
