"""Zigflow that treats every StartAgent error as transient ("just retry"), a permanent
rejection (INVALID_ARGUMENT) included: a bad request is sent again on every attempt."""

from __future__ import annotations

import sys

import grpc

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import activities

activities.RETRYABLE_CODES = frozenset(grpc.StatusCode)

if __name__ == "__main__":
    sys.exit(zigflow.main())
