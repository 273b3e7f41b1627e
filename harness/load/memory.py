"""Resident memory of processes we started, read from /proc (Linux; no psutil needed)."""

from __future__ import annotations

import pathlib


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` in MB; None when the process is gone or /proc is unreadable."""
    try:
        status = (pathlib.Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0  # the kernel reports kB
    return None
