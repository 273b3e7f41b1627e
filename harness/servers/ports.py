"""Free loopback ports for the components of one stack."""

from __future__ import annotations

import collections
import fcntl
import ipaddress
import os
import random
import socket
import tempfile
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Ports handed out by this process: never hand the same one out twice, even
# after the service that had it has stopped and released it.
_handed_out: set[int] = set()
_LOWEST = 10_000
# Every process of this user that chooses ports (xdist workers, nested pytest runs, the
# suite's mutant runs side by side) takes a lock on the port's file here before handing
# it out, and keeps it while the service is starting: a port chosen and not yet bound
# is invisible to another process's bind check, so without the lock two processes could
# choose it in the same second and one service would find it taken.
_CLAIMS = Path(tempfile.gettempdir()) / f"handshake-ports-{os.getuid()}"
# A claim is kept for this many later ones: by then its service has long bound the port
# (or is gone), and the bind check keeps it out; the open files stay few.
_CLAIMS_KEPT = 256
_claims: collections.deque[int] = collections.deque()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port that is free now and stays out of the kernel's way.

    A service binds the port a second or two after it is chosen. A port from
    the ephemeral range could, in that window, become the source port of any
    outgoing connection or the answer to some other ``bind(0)``; one below it
    is handed out by nobody but a process choosing it on purpose. Choosing at
    random keeps parallel xdist workers (and nested pytest runs) apart, and
    the servers the harness starts refuse to share a port (no SO_REUSEPORT),
    so a lost race is a readiness error naming the port, never two servers
    answering on one.
    """
    low, _high = _ephemeral_range()
    if low - _LOWEST > 1_000:
        for _ in range(200):
            port = random.randrange(_LOWEST, low)
            if port not in _handed_out and _bindable(port) and _claim(port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def _claim(port: int) -> bool:
    """Whether this process now holds the port's lock (no other process of this user
    chose it while its service may still be starting). The lock goes with the process
    or once ``_CLAIMS_KEPT`` later ports were claimed."""
    try:
        _CLAIMS.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(_CLAIMS / str(port), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return True  # no place for locks: the bind check alone, as before
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _claims.append(fd)
    while len(_claims) > _CLAIMS_KEPT:
        os.close(_claims.popleft())
    return True


# gRPC servers enable SO_REUSEPORT by default: a second server on a port
# already taken would then share it silently and answer half the calls.
GRPC_SERVER_OPTIONS: list[tuple[str, int]] = [("grpc.so_reuseport", 0)]

# The harness's relays (StartAgent, and Stigma's calls to Temporal) hold a channel to
# their upstream through a Toxiproxy link. After a link comes back, gRPC's default
# reconnect backoff (1 s, x1.6 per failed attempt, up to 120 s) would keep the relay's
# channel failing for up to ~10 s more after a 15 s outage: a delay of the harness's own
# hop, which the service's connection (to the relay, never broken) would not have. The
# service's own retries and backoff still decide when it gets through.
#
# They pass the server's answer on as it came: a server may answer with a long message
# in its trailers (the time-skipping server's errors carry a Java stack trace, ~15 KB).
# gRPC's default limits (8 KB soft, 16 KB hard; between the two a call is refused at
# random) would turn that into RESOURCE_EXHAUSTED at the harness's own hop, which
# the service then retries as transient: a fault the deployment does not have.
RELAY_METADATA_LIMIT = 1 << 20
RELAY_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.max_metadata_size", RELAY_METADATA_LIMIT),
    ("grpc.absolute_max_metadata_size", RELAY_METADATA_LIMIT),
]


def is_loopback(address: str) -> bool:
    """Whether HOST:PORT names this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refused(address: str, timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to HOST:PORT is refused: nothing listens there. Judged
    from the socket's error type; any other outcome (accepted, a timeout, a name that
    does not resolve) is not a refusal."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False
