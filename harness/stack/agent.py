"""The harness's agent: the ``run_agent`` activity Stigma schedules on the agent task queue.

Stigma's contract (docs handbook, "What the harness expects of the workflows"): for each
StartAgent its workflow runs the agent as one activity of type ``run_agent`` on the
agent task queue it is configured with, with arguments ``(agent_id: str, input:
bytes)``. The agent is ours, so its script (``harness/drive/plan.py`` ``AgentScript``)
lives here, not in Stigma, and the harness sees its agents directly: every attempt
is recorded (started, held, released, cancelled, finished) and drivers wait on
those records instead of polling Stigma.

An attempt is keyed by the workflow id of the Stigma execution that scheduled it
(``stigma-K``, K the idempotency key), which the driver can name for every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from harness import contract
from harness.errors import WaitTimeout

# A held or working agent heartbeats this often (the worker's throttle is set to it,
# so a cancellation reaches the agent within about this long).
BEAT_EVERY_S = 1.0
# Enough for the bench's and load runs' thousand agents in flight.
MAX_CONCURRENT_AGENTS = 2000


@dataclass
class AgentAttempt:
    """One attempt of one agent activity, as the harness ran it."""

    key: str  # workflow id of the Stigma execution that scheduled it
    activity_id: str  # Stigma's id for its run_agent activity
    attempt: int
    agent_id: str
    script: dict[str, Any]
    task_token: bytes = field(default=b"", repr=False)
    heartbeat_timeout_s: float | None = None  # as Stigma scheduled it
    # Which run of the Stigma execution scheduled it: a second run for the same key
    # (restarted, or started again) reuses activity ids, so only this tells them apart.
    run_id: str = ""
    # (event, epoch seconds): started, held, released, cancelled, finished
    events: list[tuple[str, float]] = field(default_factory=list)
    outcome: str = ""  # "" while running; succeeded | failed | cancelled | worker_shutdown

    @property
    def running(self) -> bool:
        return not self.outcome

    def saw(self, event: str) -> bool:
        return any(e == event for e, _ in self.events)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "activity_id": self.activity_id,
            "attempt": self.attempt,
            "agent_id": self.agent_id,
            "outcome": self.outcome,
            "heartbeat_timeout_s": self.heartbeat_timeout_s,
            "run_id": self.run_id,
            "events": [{"event": e, "wall": t} for e, t in self.events],
        }


def script_from_input(data: bytes) -> dict[str, Any]:
    """The script in an agent's input JSON (``{"script": {...}}``); {} if there is none."""
    try:
        value = json.loads(data.decode("utf-8")) if data else None
    except (ValueError, UnicodeDecodeError):
        return {}
    script = value.get("script") if isinstance(value, dict) else None
    return script if isinstance(script, dict) else {}


class Agents:
    """The harness's agents on one stack: the activity, its records, and release."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue
        self._attempts: dict[str, list[AgentAttempt]] = {}
        # Released keys stay released: an agent re-run after a restart (or started
        # only after its release) does not hold again.
        self._released: set[str] = set()
        self._release: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()

    # -- what the harness sees --------------------------------------------
    def attempts(self, key: str) -> list[AgentAttempt]:
        return list(self._attempts.get(key, []))

    def running(self) -> list[AgentAttempt]:
        return [a for runs in self._attempts.values() for a in runs if a.running]

    @property
    def started(self) -> int:
        """Agent attempts started so far, every key."""
        return sum(len(runs) for runs in self._attempts.values())

    def release(self, key: str) -> str:
        """Let the agent of ``key`` finish: "released" if an attempt was holding,
        else "remembered" (the agent has not held yet, or is gone; a later attempt
        will not hold)."""
        self._released.add(key)
        held = [a for a in self._attempts.get(key, []) if a.running and a.saw("held")]
        self._event(key).set()
        return "released" if held else "remembered"

    async def wait_for(
        self, ready: Callable[[], bool], timeout_s: float, pending: Callable[[], str]
    ) -> None:
        """Until ``ready()`` holds; checked on every change to the records."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout_s)
            except TimeoutError:
                raise WaitTimeout(f"after {timeout_s:.1f}s still waiting for {pending()}") from None

    def beatable(self) -> set[tuple[str, str]]:
        """(Stigma workflow id, activity id) of every attempt running now."""
        return {(a.key, a.activity_id) for a in self.running()}

    async def beat(self, running: set[tuple[str, str]]) -> None:
        """One heartbeat now, by token, for each of our attempts named (workflow id,
        activity id) in ``running``: lets a virtual clock move past an agent's
        heartbeat timeout without the agent looking dead (harness/faults/clock.py)."""
        for a in self.running():
            if (a.key, a.activity_id) in running and a.task_token:
                with contextlib.suppress(Exception):  # gone meanwhile: nothing to keep alive
                    await self.client.get_async_activity_handle(task_token=a.task_token).heartbeat()

    # -- the activity -------------------------------------------------------
    async def run_agent(self, agent_id: str, input: bytes) -> Any:
        info = activity.info()
        script = script_from_input(input)
        attempt = AgentAttempt(
            info.workflow_id or "",
            info.activity_id,
            info.attempt,
            agent_id,
            script,
            task_token=info.task_token,
            heartbeat_timeout_s=(
                info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else None
            ),
            run_id=info.workflow_run_id or "",
        )
        self._attempts.setdefault(attempt.key, []).append(attempt)
        await self._note(attempt, "started")
        try:
            result = await self._obey(attempt, agent_id, script)
        except ApplicationError:
            await self._end(attempt, "failed")
            raise
        except asyncio.CancelledError:
            await self._end(
                attempt, "worker_shutdown" if activity.is_worker_shutdown() else "cancelled"
            )
            raise
        await self._end(attempt, "succeeded")
        return result

    async def _obey(self, attempt: AgentAttempt, agent_id: str, script: dict[str, Any]) -> Any:
        if script.get("hold") and attempt.key not in self._released:
            await self._note(attempt, "held")
            release = self._event(attempt.key)
            while not release.is_set():
                activity.heartbeat()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(release.wait(), BEAT_EVERY_S)
            await self._note(attempt, "released")
        await _work(float(script.get("work_s") or 0.0))
        if script.get("outcome") == "failure":
            raise ApplicationError(
                str(script.get("error_message", "agent failed"))
                + "y" * int(script.get("error_size") or 0),
                type=str(script.get("error_type", "AgentError")),
                non_retryable=True,
            )
        output: dict[str, Any] = {"agent_id": agent_id, "value": script.get("output")}
        size = int(script.get("result_size") or 0)
        if size > 0:
            output["padding"] = "x" * size
        return output

    def _event(self, key: str) -> asyncio.Event:
        event = self._release.get(key)
        if event is None:
            event = self._release[key] = asyncio.Event()
            if key in self._released:
                event.set()
        return event

    async def _note(self, attempt: AgentAttempt, event: str) -> None:
        attempt.events.append((event, time.time()))
        async with self._changed:
            self._changed.notify_all()

    async def _end(self, attempt: AgentAttempt, outcome: str) -> None:
        attempt.outcome = outcome
        await self._note(attempt, "cancelled" if outcome == "cancelled" else "finished")


async def _work(seconds: float) -> None:
    """Spend ``seconds`` of wall time, heartbeating (simulated work, not a wait on
    anything the harness could observe)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        activity.heartbeat()
        await asyncio.sleep(min(0.5, left))


def _named(agents: Agents) -> Callable[[str, bytes], Awaitable[Any]]:
    """The agent activity under the contract's name, which a team may have renamed."""

    async def run_agent(agent_id: str, input: bytes) -> Any:
        return await agents.run_agent(agent_id, input)

    return activity.defn(name=contract.NAMES.stigma_agent_activity)(run_agent)


@contextlib.asynccontextmanager
async def serve_agents(client: Client, task_queue: str) -> AsyncIterator[Agents]:
    """A worker in the harness process serving the agent task queue, for one stack."""
    agents = Agents(client, task_queue)
    worker = Worker(
        client,
        task_queue=task_queue,
        activities=[_named(agents)],
        max_concurrent_activities=MAX_CONCURRENT_AGENTS,
        max_heartbeat_throttle_interval=timedelta(seconds=BEAT_EVERY_S),
        default_heartbeat_throttle_interval=timedelta(seconds=BEAT_EVERY_S),
        graceful_shutdown_timeout=timedelta(seconds=1),
    )
    async with worker:
        yield agents
