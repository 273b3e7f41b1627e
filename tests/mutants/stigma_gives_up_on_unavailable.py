"""Stigma that takes UNAVAILABLE on a call by token as final ("the client already retried
it for us"): once its client's own retry window runs out it records a dead token and
stops, although Zigflow's activity still waits for the result."""

from __future__ import annotations

import sys

from temporalio.service import RPCStatusCode

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

activities.DEAD = frozenset({RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE})

if __name__ == "__main__":
    sys.exit(stigma.main())
