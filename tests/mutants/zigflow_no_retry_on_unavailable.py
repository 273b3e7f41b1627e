"""Zigflow that treats an unreachable Stigma as a permanent error (no retry)."""

from __future__ import annotations

import sys

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import activities

activities.RETRYABLE_CODES = frozenset()

if __name__ == "__main__":
    sys.exit(zigflow.main())
