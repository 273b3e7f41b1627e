"""Stigma registered with the generated handler: an undecodable request then fails
inside grpcio as UNKNOWN (with an internal exception name), which callers retry."""

from __future__ import annotations

import sys
from typing import Any

from stigma.v1 import stigma_service_pb2_grpc as pb_grpc

from reference_services.stigma import __main__ as stigma


def add_to_server(servicer: Any, server: Any) -> None:
    pb_grpc.add_StigmaServiceServicer_to_server(servicer, server)


stigma.add_to_server = add_to_server  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(stigma.main())
