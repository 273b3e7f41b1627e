"""Zigflow that counts a failed attempt as a failed agent activity: the activity bumps
the "failed" counter whenever StartAgent fails, though Temporal retries the attempt and
the call later completes (dashboards then show failures no caller ever saw)."""

from __future__ import annotations

import sys

from reference_services.common import metrics
from reference_services.zigflow import __main__ as zigflow

_real = metrics.start_agent_error


def _error_counted_as_failure(code: str, retryable: bool) -> None:
    _real(code, retryable)
    metrics._count(metrics.ZIGFLOW_FAILED, {"mode": "handshake", "error_type": "StigmaUnavailable"})


metrics.start_agent_error = _error_counted_as_failure

if __name__ == "__main__":
    sys.exit(zigflow.main())
