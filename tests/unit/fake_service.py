"""A stand-in for a deployed service in the hook tests: a process serving grpc.health.v1
SERVING (for the server and for Stigma's service name) on a loopback port until it is
killed, its pid in a file, so a kill hook can kill it and a start hook start it again.

    python -m tests.unit.fake_service PORT PIDFILE [CERT KEY]

With CERT and KEY (PEM files) it serves only TLS, as a deployed Stigma may.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from harness import contract


async def serve(
    port: int, pidfile: pathlib.Path, tls: tuple[pathlib.Path, pathlib.Path] | None = None
) -> None:
    # One per port (no SO_REUSEPORT): a second start while one serves fails to bind.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = health.aio.HealthServicer()
    for name in ("", contract.STIGMA_SERVICE):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"127.0.0.1:{port}"
    if tls is None:
        server.add_insecure_port(address)  # raises when the port is taken
    else:
        cert, key = (path.read_bytes() for path in tls)
        server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    # Before serving: whoever sees it SERVING can read the pid to end it.
    await asyncio.to_thread(pidfile.write_text, str(os.getpid()))
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    pem = (pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])) if len(sys.argv) > 4 else None
    asyncio.run(serve(int(sys.argv[1]), pathlib.Path(sys.argv[2]), pem))
