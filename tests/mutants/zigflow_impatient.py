"""Zigflow whose ACK deadline is shorter than the network's round trip."""

from __future__ import annotations

import os
import sys

from reference_services.zigflow import __main__ as zigflow

if __name__ == "__main__":
    os.environ["ZIGFLOW_ACK_TIMEOUT_S"] = "0.02"
    sys.exit(zigflow.main())
