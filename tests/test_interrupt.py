"""Ctrl-C on a running gate: it stops within seconds, and every server and service it
started (Temporal servers, Toxiproxy, the services, xdist workers) is gone.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group, so the test
starts the gate in a group of its own and signals the group, as a terminal would.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from harness import cli
from harness.errors import ExitCode
from harness.servers.procs import sigint_restored
from harness.waits import eventually

ROOT = pathlib.Path(__file__).resolve().parent.parent
UP_BOUND_S = 120.0  # bounds on a hang, not measurements
STOP_BOUND_S = 45.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> dict[int, str]:
    """pid -> start time (field 22 of /proc/PID/stat, so a reused pid is not mistaken
    for the process seen before) of every process below ``pid``."""
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            start = _start_time(child)
            if start is not None:
                found[child] = start
                todo.append(child)
    return found


def _start_time(pid: int) -> str | None:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _cmdline(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


GATE = [sys.executable, "-m", "harness.cli", "gate", "-n", "2", "-q"]
# The same run as plain pytest (what `handshake gate` runs, from any directory).
PYTEST = [*cli.gate_command(["-n", "2", "-q"])]
# Scenarios with Toxiproxy links and restarts: the most servers and services at once.
SCENARIOS = ["--fault-matrix", "full", "-k", "fault_matrix or restarts"]
# Once the command has exited, nothing it started may still run (nor print) after this.
AFTER_EXIT_S = 1.0


@pytest.mark.parametrize(
    ("command", "interrupted"),
    [(GATE, ExitCode.INTERRUPTED), (PYTEST, pytest.ExitCode.INTERRUPTED)],
    ids=["handshake-gate", "pytest"],
)
async def test_ctrl_c_stops_the_run_and_everything_it_started(
    tmp_path: pathlib.Path, command: list[str], interrupted: int
) -> None:
    log = tmp_path / "gate.log"
    argv = sigint_restored([*command, *SCENARIOS, f"--handshake-out={tmp_path / 'out'}"])
    with log.open("w") as out:
        gate = await asyncio.create_subprocess_exec(
            *argv, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        # given: a run whose scenarios are running on both xdist workers, with their
        # servers and services
        async def services_up() -> dict[int, str] | None:
            below = _descendants(gate.pid)
            cmds = [_cmdline(p) for p in below]
            running = (
                any("temporal" in c for c in cmds)
                and any("toxiproxy" in c for c in cmds)
                # a stack on each worker (the workers themselves are bare `python -c`)
                and sum("reference_services.zigflow" in c for c in cmds) >= 2
            )
            return below if running and gate.returncode is None else None

        seen = await eventually(
            services_up,
            timeout_s=UP_BOUND_S,
            pending=lambda: f"the run's servers and services\n{log.read_text()[-2000:]}",
            interval_s=0.2,
        )
        # when: Ctrl-C, as a terminal sends it: to the whole foreground group
        seen |= _descendants(gate.pid)  # and whatever started since
        t0 = time.monotonic()
        os.killpg(gate.pid, signal.SIGINT)
        code = await asyncio.wait_for(gate.wait(), STOP_BOUND_S)
        gate_s = time.monotonic() - t0
        printed_at_exit = log.stat().st_size

        # then: within a second of the command's exit, everything it started is gone
        # (it waited for its xdist workers' teardown rather than leaving them behind)
        def left() -> dict[int, str]:
            return {p: _cmdline(p) for p, start in seen.items() if _start_time(p) == start}

        async def all_gone() -> bool | None:
            return True if not left() else None

        await eventually(
            all_gone,
            timeout_s=AFTER_EXIT_S,
            pending=lambda: (
                f"still running {AFTER_EXIT_S} s after the run exited: {left()}\n"
                f"{log.read_text()[-3000:]}"
            ),
            interval_s=0.05,
        )
        all_s = time.monotonic() - t0
        print(f"Ctrl-C: run exited in {gate_s:.1f} s, all {len(seen)} processes in {all_s:.1f} s")
        # and nothing printed after the prompt would be back (a teardown's warnings)
        after = log.read_text()[printed_at_exit:]
        assert not after, f"printed after the run had exited:\n{after}"
        assert code == interrupted, f"exit code {code}\n{log.read_text()[-3000:]}"
    finally:
        if gate.returncode is None:
            os.killpg(gate.pid, signal.SIGKILL)
            await gate.wait()
