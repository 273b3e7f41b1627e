"""Free loopback ports for the components of one stack."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the OS just handed out on loopback.

    There is a window between closing this socket and the service binding it;
    parallel xdist workers each get distinct ephemeral ports, which is enough
    in practice, and a lost race shows up as a readiness error naming the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
