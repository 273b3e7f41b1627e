"""Zigflow whose StartAgent deadline is the activity's whole StartToClose (what a Go
activity passing its own context to the gRPC call gets): it has a deadline, but a
Stigma that never answers holds the attempt for a day instead of failing it fast."""

from __future__ import annotations

import os
import sys

from reference_services.zigflow import __main__ as zigflow

os.environ["ZIGFLOW_ACK_TIMEOUT_S"] = "86400"

if __name__ == "__main__":
    sys.exit(zigflow.main())
