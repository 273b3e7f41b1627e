"""Zigflow configured with Stigma's direct address: in a chaos or tamper stack it never
goes through Toxiproxy's stigma_grpc link nor the harness's relay, so no fault on that
path can reach it. The scenarios must error, not pass."""

from __future__ import annotations

import os
import sys

from reference_services.zigflow import __main__ as zigflow

# What a team's deployment config does when it points at the service, not the proxy.
os.environ["ZIGFLOW_STIGMA_TARGET"] = os.environ["STIGMA_LISTEN"]

if __name__ == "__main__":
    sys.exit(zigflow.main())
