"""Detached processes known by pid and start time; their groups signalled, never names.

Each process is started in its own session (``start_new_session``), so its pid is
also its process group's id and a signal to the group reaches whatever it started
(the Java Stigma's launcher script and its JVM, say). A pid file holds the pid and the
process's start time; before any signal the start time is checked against
``/proc/PID/stat``, so a stale pid file (the process died, the pid was reused) is
never acted on.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL_S = 0.05  # how often a wait looks again; not a synchronisation delay
STOP_GRACE_S = 10.0  # SIGTERM to SIGKILL
KILLED_BOUND_S = 10.0  # a SIGKILLed group is gone well within this, or something is wrong


class DeployError(Exception):
    """An operation failed; the message says what and, when known, why (a log tail)."""


class WaitTimeout(DeployError):
    """A deadline passed; the message names what was still pending."""


def poll_until(check: Callable[[], T | None], *, timeout_s: float, pending: Callable[[], str]) -> T:
    """``check()`` until it returns something other than None, within ``timeout_s``.
    A check raising DeployError fails the wait at once (a process died: waiting more
    cannot help); the timeout names what is still pending."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"still waiting after {timeout_s:g} s: {pending()}")
        time.sleep(POLL_INTERVAL_S)  # the poll interval, not synchronisation


@dataclass(frozen=True)
class ProcStat:
    state: str  # R, S, D, T (stopped), Z (zombie) ...
    pgrp: int
    start_time: int  # clock ticks after boot (field 22)


def proc_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` of a process, or None when there is no such process."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # Field 2 is the command name in parentheses and may itself hold spaces or ")":
    # the fields after the *last* ")" are unambiguous. rest[0] is field 3.
    rest = text[text.rindex(")") + 2 :].split()
    try:
        return ProcStat(state=rest[0], pgrp=int(rest[2]), start_time=int(rest[19]))
    except (IndexError, ValueError):
        return None


def _live(stat: ProcStat | None) -> bool:
    # A zombie has exited: it only waits for its parent (or init) to reap it.
    return stat is not None and stat.state not in ("Z", "X")


@dataclass(frozen=True)
class Identity:
    """A process as the supervisor started it."""

    pid: int
    start_time: int

    def stat(self) -> ProcStat | None:
        """Its stat while it is still *this* process (same start time), else None."""
        stat = proc_stat(self.pid)
        return stat if stat is not None and stat.start_time == self.start_time else None

    def running(self) -> bool:
        return _live(self.stat())

    def paused(self) -> bool:
        stat = self.stat()
        return stat is not None and stat.state in ("T", "t")

    def group_members(self) -> list[int]:
        """Live processes of its group (its session: it is the leader). Only
        meaningful while the leader is ours, or just after (a group id is not handed
        out again while any member lives)."""
        members = []
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = proc_stat(int(entry.name))
                if _live(stat) and stat is not None and stat.pgrp == self.pid:
                    members.append(int(entry.name))
        return members


def identity_of(pid: int) -> Identity:
    stat = proc_stat(pid)
    if stat is None:  # pragma: no cover - a child we have not reaped always has a stat
        raise DeployError(f"pid {pid}: no /proc entry right after starting it")
    return Identity(pid, stat.start_time)


# -- pid files -------------------------------------------------------------------------


def write_pid_file(path: pathlib.Path, ident: Identity) -> None:
    """Line 1 the pid (``read pid < x.pid`` works), line 2 its start time. Written
    whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{ident.pid}\n{ident.start_time}\n")
    os.replace(tmp, path)


def read_pid_file(path: pathlib.Path) -> Identity | None:
    """The identity a pid file records; None when it is missing or unreadable (an
    unreadable one is never guessed at: signalling on a guess is what it prevents)."""
    try:
        lines = path.read_text().split()
        return Identity(int(lines[0]), int(lines[1]))
    except (OSError, ValueError, IndexError):
        return None


# -- starting and signalling -----------------------------------------------------------


def spawn(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: pathlib.Path,
    log_path: pathlib.Path,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` detached in its own session, stdout and stderr appended to
    ``log_path`` after a line marking this incarnation. Returns the process and the
    log's size before that line (where this incarnation's output begins)."""
    if shutil.which(argv[0], path=env.get("PATH")) is None and not os.access(argv[0], os.X_OK):
        raise DeployError(f"cannot start {name}: {argv[0]!r} not found")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        offset = log.tell()
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        log.write(f"--- deploy: {name} starting at {now}: {shlex.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                # Its own session: it outlives the supervisor's command, and a signal
                # to its group reaches its children too.
                start_new_session=True,
            )
        except OSError as err:
            raise DeployError(f"cannot start {name} ({argv[0]!r}): {err}") from err
    return proc, offset


def signal_group(ident: Identity, sig: signal.Signals) -> bool:
    """``sig`` to the group of ``ident`` if that process is still the one we started;
    False when it is not (gone, or its pid now belongs to another process)."""
    if ident.stat() is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(ident.pid, sig)
    return True


def _gone(ident: Identity, child: subprocess.Popen[bytes] | None) -> bool:
    if child is not None:
        child.poll()  # reap it if it is ours, or it stays a zombie
    return not ident.running() and not ident.group_members()


def stop(
    ident: Identity,
    what: str,
    *,
    grace_s: float = STOP_GRACE_S,
    child: subprocess.Popen[bytes] | None = None,
) -> bool:
    """SIGTERM the group, SIGKILL it if it is still there after ``grace_s``; until it is
    gone. False if it was not running. ``child``: the Popen when we are its parent (so
    it is reaped, not left a zombie)."""
    if ident.stat() is None or _gone(ident, child):
        return False
    signal_group(ident, signal.SIGTERM)
    # A paused (SIGSTOPped) group would keep the SIGTERM pending forever.
    signal_group(ident, signal.SIGCONT)
    try:
        poll_until(
            lambda: True if _gone(ident, child) else None,
            timeout_s=grace_s,
            pending=lambda: f"{what} (pid {ident.pid}) to exit after SIGTERM",
        )
        return True
    except WaitTimeout:
        pass
    kill(ident, what, child=child)
    return True


def kill(ident: Identity, what: str, *, child: subprocess.Popen[bytes] | None = None) -> bool:
    """SIGKILL the group and wait until it is gone; False if it was not running."""
    if ident.stat() is None or _gone(ident, child):
        return False
    # To the group even when its leader is already a zombie: members that outlived it
    # keep the group id, which is not handed out again while they live.
    signal_group(ident, signal.SIGKILL)
    poll_until(
        lambda: True if _gone(ident, child) else None,
        timeout_s=KILLED_BOUND_S,
        pending=lambda: f"{what} (pid {ident.pid}) to be gone after SIGKILL",
    )
    return True


def log_tail(path: pathlib.Path, since: int = 0, lines: int = 30) -> str:
    """The last ``lines`` of a log from byte ``since`` (one incarnation's output)."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
