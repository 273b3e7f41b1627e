"""Process faults as async context managers that always undo themselves.

Each records a start and a stop on the history's fault timeline, so a checker
can line operations up against what was done to the system.

    async with killed(stack, stack.stigma, history):      # SIGKILL now, restart on exit
        ...
    async with paused(stack.zigflow, history):            # SIGSTOP now, SIGCONT on exit
        ...
    async with stopped(stack, stack.stigma, history) as stopping:  # SIGTERM now: a deploy
        await stopping.not_serving(...)                    # exit awaited, timed, restarted
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import contract
from harness.errors import ConfigError
from harness.observe.history import History
from harness.servers import health
from harness.servers.procs import ManagedProcess
from harness.stack.deployed import DeployedService
from harness.stack.stack import Stack
from harness.waits import eventually


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


# Scheduling on a loaded 2-core machine, on top of the contract's bound: how much longer
# the harness waits for a stopping service before it SIGKILLs it (as a deploy's
# supervisor would at the end of its grace period).
SHUTDOWN_KILL_SLACK_S = 2.0
# Where ``stopped`` records each shutdown in a history's measurements.
SHUTDOWNS = "shutdowns"


@dataclass
class Stopping:
    """A service told to stop (SIGTERM), as ``stopped`` yields it."""

    proc: ManagedProcess
    history: History
    bound_s: float
    record: dict[str, Any]
    _sent: float = field(default_factory=time.monotonic)

    async def not_serving(self, target: str, service: str) -> None:
        """Until ``target``'s grpc.health.v1 no longer answers SERVING for ``service``
        (NOT_SERVING, or nothing listens): the service has taken the signal and stopped
        taking new calls. A service that keeps serving until it exits is seen at its exit;
        one that neither stops serving nor exits is given up on at the kill deadline (its
        shutdown is then judged over the bound)."""
        deadline = self._sent + self.bound_s + SHUTDOWN_KILL_SLACK_S
        async with health.probe(target) as checks:

            async def stopped_serving() -> bool | None:
                if not self.proc.running() or time.monotonic() >= deadline:
                    return True
                # NOT_SERVING, or nothing listens any more (it closed its server); a
                # slow answer is asked again.
                return True if await checks.status(service) != health.SERVING else None

            await eventually(
                stopped_serving,
                timeout_s=self.bound_s + 2 * SHUTDOWN_KILL_SLACK_S,
                pending=lambda: f"{self.proc.name} to stop serving after SIGTERM",
            )
        self.record["not_serving_s"] = round(time.monotonic() - self._sent, 3)

    async def exited(self) -> None:
        """Until the process has exited by itself, or (past the contract's bound and the
        slack) SIGKILLed by the harness; records how long it took and its exit code."""
        if "exit_code" in self.record:
            return
        wait_s = max(0.0, self._sent + self.bound_s + SHUTDOWN_KILL_SLACK_S - time.monotonic())
        try:
            await asyncio.wait_for(self.proc.exited(), wait_s)
            self.record["stopped_s"] = round(time.monotonic() - self._sent, 3)
            self.record["killed"] = False
        except TimeoutError:
            self.record["stopped_s"] = None
            self.record["killed"] = True
        await self.proc.kill(signal.SIGKILL)  # reaps its group (and it, if it hung on)
        self.record["exit_code"] = self.proc.exit_code()


@contextlib.asynccontextmanager
async def stopped(
    stack: Stack,
    proc: ManagedProcess | DeployedService,
    history: History,
    *,
    bound_s: float = contract.SHUTDOWN_BOUND_S,
    in_flight: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[Stopping]:
    """SIGTERM ``proc`` now (a rolling deploy's stop); the block runs while it shuts down.
    On leaving, waits until it has exited (SIGKILL past ``bound_s`` and the slack, as a
    supervisor would), records the shutdown in ``history.measurements[SHUTDOWNS]``
    (how long SIGTERM to exit took, by itself or killed, its exit code, and the calls the
    scenario had ``in_flight``: call id -> what was in flight and at which attempt of
    Zigflow's activity, for ``harness.judge.shutdown``), then restarts it."""
    if isinstance(proc, DeployedService):
        raise ConfigError("a deployed service's graceful stop is its target's (no hook for it)")
    record: dict[str, Any] = {
        "service": proc.name,
        "signal": "SIGTERM",
        "bound_s": bound_s,
        "in_flight": {call_id: dict(what) for call_id, what in (in_flight or {}).items()},
    }
    history.measurements.setdefault(SHUTDOWNS, []).append(record)
    incarnation = proc.incarnation
    stopping = Stopping(proc, history, bound_s, record)
    proc.send(signal.SIGTERM)
    history.fault("start", "stop:SIGTERM", proc.name, pid=proc.pid, incarnation=incarnation)
    try:
        yield stopping
    finally:
        await stopping.exited()
        await stack.restart(proc)
        history.fault(
            "stop",
            "stop:SIGTERM",
            proc.name,
            pid=proc.pid,
            incarnation=proc.incarnation,
            exit_code=record["exit_code"],
            stopped_s=record["stopped_s"],
        )
