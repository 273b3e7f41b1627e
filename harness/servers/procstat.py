"""CPU time and peak memory of the processes the harness started, read from /proc
(Linux; no psutil). Missing processes or files give None, never an error: a
benchmark must not die because a service exited."""

from __future__ import annotations

import contextlib
import os
import pathlib
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_MB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) / (1024.0 * 1024.0)


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system CPU seconds since the process started
    rss_mb: float  # resident set now
    peak_rss_mb: float  # VmHWM: the highest resident set so far


def usage(pid: int | None) -> Usage | None:
    if pid is None:
        return None
    proc = pathlib.Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        status = (proc / "status").read_text()
    except OSError:
        return None
    # Fields after the command name, which may itself hold spaces or parentheses.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    kb = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            kb[key] = int(value.split()[0])
    return Usage(
        round((utime + stime) / _TICKS, 2),
        round(kb.get("VmRSS", 0) / 1024.0, 1),
        round(kb.get("VmHWM", 0) / 1024.0, 1),
    )


def _stat(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (which may itself hold
    spaces or parentheses), or None when it is gone. Raw bytes, no text layer: a load
    run reads this for every process every second, as the load generator."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.rsplit(b")", 1)[1].split()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, unrounded (clock ticks); None when
    it is gone. The cheap reading for a series: /proc/<pid>/stat only."""
    reading = cpu_and_rss(pid)
    return None if reading is None else reading[0]


def cpu_and_rss(pid: int) -> tuple[float, float] | None:
    """CPU seconds so far (as cpu_seconds) and the resident set in MB now (VmRSS: the
    same counters), from the one read of /proc/<pid>/stat; None when it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE_MB


def descendants(roots: Mapping[str, int]) -> dict[str, set[int]]:
    """Each named root with every process below it (a service's own children, a
    Locust process's bridge), from one pass over /proc: about a millisecond for a
    hundred processes, so callers rescan every few seconds, not every reading."""
    parent: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            fields = _stat(entry.name)
            if fields is not None:
                parent[int(entry.name)] = int(fields[1])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[str, set[int]] = {}
    for name, root in roots.items():
        tree, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid not in tree:
                tree.add(pid)
                todo.extend(children.get(pid, ()))
        found[name] = tree
    return found


def delta(before: Usage | None, after: Usage | None, wall_s: float) -> dict[str, float | None]:
    """CPU used between two readings (seconds, and share of one core) and peak RSS."""
    if before is None or after is None:
        return {"cpu_s": None, "cpu_pct": None, "peak_rss_mb": None}
    cpu = round(after.cpu_s - before.cpu_s, 2)
    return {
        "cpu_s": cpu,
        "cpu_pct": round(100.0 * cpu / wall_s, 1) if wall_s > 0 else None,
        "peak_rss_mb": after.peak_rss_mb,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on (the report's environment section)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }
