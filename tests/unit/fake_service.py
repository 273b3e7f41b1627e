"""A stand-in for a deployed service in the hook tests: a process serving grpc.health.v1
SERVING (for the server and for Stigma's service name) on a loopback port until it is
killed, its pid in a file, so a kill hook can kill it and a start hook start it again.

    python -m tests.unit.fake_service PORT PIDFILE
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from harness import contract


async def serve(port: int, pidfile: pathlib.Path) -> None:
    # One per port (no SO_REUSEPORT): a second start while one serves fails to bind.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = health.aio.HealthServicer()
    for name in ("", contract.STIGMA_SERVICE):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")  # raises when the port is taken
    # Before serving: whoever sees it SERVING can read the pid to end it.
    await asyncio.to_thread(pidfile.write_text, str(os.getpid()))
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), pathlib.Path(sys.argv[2])))
