"""Process faults as async context managers that always undo themselves.

Each records a start and a stop on the history's fault timeline, so a checker
can line operations up against what was done to the system.

    async with killed(stack, stack.stigma, history):      # SIGKILL now, restart on exit
        ...
    async with paused(stack.zigflow, history):            # SIGSTOP now, SIGCONT on exit
        ...
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator

from harness.observe.history import History
from harness.servers.procs import ManagedProcess
from harness.stack.deployed import DeployedService
from harness.stack.stack import Stack


@contextlib.asynccontextmanager
async def killed(
    stack: Stack,
    proc: ManagedProcess | DeployedService,
    history: History,
    sig: signal.Signals = signal.SIGKILL,
) -> AsyncIterator[ManagedProcess | DeployedService]:
    """Kill ``proc`` with ``sig`` (SIGKILL: no cleanup at all); restart it on exit. A
    deployed service is killed and brought back by its target's hooks."""
    if isinstance(proc, DeployedService):
        async with proc.killed(history):
            yield proc
        return
    incarnation = proc.incarnation
    await proc.kill(sig)
    history.fault(
        "start",
        f"kill:{sig.name}",
        proc.name,
        pid=proc.pid,
        incarnation=incarnation,
        exit_code=proc.exit_code(),
    )
    try:
        yield proc
    finally:
        await stack.restart(proc)
        history.fault(
            "stop", f"kill:{sig.name}", proc.name, pid=proc.pid, incarnation=proc.incarnation
        )


@contextlib.asynccontextmanager
async def paused(
    proc: ManagedProcess | DeployedService, history: History
) -> AsyncIterator[ManagedProcess | DeployedService]:
    """Freeze ``proc`` (SIGSTOP): its sockets stay open but nothing answers; SIGCONT on
    exit. A deployed service is paused and resumed by its target's hooks."""
    if isinstance(proc, DeployedService):
        async with proc.paused(history):
            yield proc
        return
    proc.send(signal.SIGSTOP)
    history.fault("start", "pause", proc.name, pid=proc.pid)
    try:
        yield proc
    finally:
        proc.send(signal.SIGCONT)
        history.fault("stop", "pause", proc.name, pid=proc.pid)
