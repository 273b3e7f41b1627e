"""The client side of a scenario: start Zigflow plans, await outcomes, record everything."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.filter.v1 import WorkflowExecutionFilter
from temporalio.api.workflowservice.v1 import (
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityRequest,
)
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from harness import contract, wire
from harness.drive.plan import HANDSHAKE, activity_id
from harness.errors import ConfigError
from harness.faults.clock import Clock, TimeSkippingClock, WallClock
from harness.links.completion_relay import HEARTBEAT, TOKEN_CALLS, Held, Relayed
from harness.observe import failures, metrics, traces
from harness.observe.history import Call, History, Op
from harness.servers.probe import Answer, StigmaProbe
from harness.stack.agent import AgentAttempt
from harness.stack.stack import Stack
from harness.tokens import redact
from harness.waits import eventually

# history.measurements key: an operator's actions on Zigflow's activity, each with the
# call's tokens (fingerprints), as the driver made them.
OPERATOR_ACTIONS = "operator_actions"
# The outside signs that Zigflow itself has gone result-pending (contract metrics, both
# optional), in the order they are read: the count of attempts that went result-pending
# (any Zigflow can keep it, also one that is only its activity), then the gauge of
# activities ACKed and not yet resolved.
RESULT_PENDING_COUNTER = "zigflow_agent_activities_result_pending_total"
PENDING_GAUGE = "zigflow_agent_activities_pending"
RESULT_PENDING_METRICS = (RESULT_PENDING_COUNTER, PENDING_GAUGE)
# history.measurements key: how the driver saw Zigflow result-pending on the calls a
# fault is meant for: {"seen_by": SEEN_BY_METRIC, "metric": ..., "level": ...} or
# {"seen_by": SEEN_BY_ACK} (a Zigflow with neither metric: only the ACK is known).
RESULT_PENDING_SEEN = "result_pending_seen"
SEEN_BY_METRIC = "metric"
SEEN_BY_ACK = "ack"


@dataclass(frozen=True)
class PendingReading:
    """One reading of the first of ``RESULT_PENDING_METRICS`` that Zigflow exports."""

    metric: str
    value: float


def clock_for(stack: Stack) -> Clock:
    """Virtual time on the time-skipping server, wall time anywhere else."""
    if stack.temporal.time_skipping:
        return TimeSkippingClock(
            stack.client, beater=stack.agents, watched=stack.time_skipping_watched
        )
    return WallClock()


@dataclass
class Started:
    call_id: str
    handle: WorkflowHandle[Any, Any]
    plan: dict[str, Any]


@dataclass(frozen=True)
class Sent:
    """A StartAgent the harness sent Stigma itself (not Zigflow): its idempotency key
    and Stigma's answer."""

    key: str
    answer: Answer

    @property
    def stigma_workflow_id(self) -> str:
        """The id of the execution Stigma starts for it (if it starts one)."""
        return contract.stigma_workflow_id(self.key)


class Driver:
    def __init__(
        self, stack: Stack, history: History, *, timeout_s: float = 60.0, clock: Clock | None = None
    ) -> None:
        self.stack = stack
        self.history = history
        self.timeout_s = timeout_s
        self.clock: Clock = clock or clock_for(stack)

    # -- when -------------------------------------------------------------
    async def start(
        self, plan: dict[str, Any], *, f: str = "plan", call_id: str | None = None
    ) -> Started:
        # On a deployed target the run's id is in every id (its leftovers are found by it).
        run = f"{self.stack.run_id}-" if self.stack.deployed else ""
        call_id = call_id or f"zig-{run}{f}-{uuid.uuid4().hex[:12]}"
        self.history.invoke(call_id, f, plan)
        handle = await self.stack.client.start_workflow(
            self.stack.plan_workflow,
            self.stack.plan_input(plan),
            id=call_id,
            task_queue=self.stack.plan_task_queue,
        )
        started = Started(call_id, handle, plan)
        self.clock.watch([call_id])
        self.clock.watch(
            self.stigma_workflow_id(started, i)
            for i, state in enumerate(plan["states"])
            if state.get("kind", "call_agent") == "call_agent"
        )
        return started

    async def outcome(self, started: Started, timeout_s: float | None = None) -> Op:
        """Wait for the Zigflow workflow to close; ``unknown`` if it does not in time."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            value = await asyncio.wait_for(started.handle.result(), timeout_s)
            op = self.history.complete(started.call_id, "ok", value)
        except WorkflowFailureError as err:
            # Temporal's structured failure (kind, application type, timeout type, the
            # chain of causes), the same whatever language the Zigflow is written in;
            # its message is kept for people, not for deciding.
            failure = failures.from_error(err.cause, self.stack.client.data_converter)
            op = self.history.complete(started.call_id, "fail", failure.to_dict())
        except TimeoutError:
            op = self.history.complete(
                started.call_id, "unknown", {"reason": f"no outcome within {timeout_s:.0f}s"}
            )
        except RPCError as err:  # e.g. the cluster lost the workflow (NOT_FOUND)
            op = self.history.complete(
                started.call_id,
                "unknown",
                {"reason": f"cannot read the outcome: {err.status.name}: {err.message}"},
            )
        await self.collect(started)
        return op

    async def run(
        self, plan: dict[str, Any], *, f: str = "plan", timeout_s: float | None = None
    ) -> Op:
        return await self.outcome(await self.start(plan, f=f), timeout_s)

    async def outcomes(
        self, started: Iterable[Started], timeout_s: float | None = None
    ) -> list[Op]:
        return list(await asyncio.gather(*(self.outcome(s, timeout_s) for s in started)))

    async def still_open(
        self,
        started: Iterable[Started],
        within_s: float,
        *,
        stuck: Callable[[Started], Awaitable[bool]] | None = None,
    ) -> list[Started]:
        """The calls whose workflow is still running after ``within_s``, or sooner: when
        all have closed, or when every one still running is ``stuck`` (seen, e.g.
        ``agent_task_not_taken``). Records nothing: the outcomes are still to be judged."""
        waiting = list(started)
        deadline = time.monotonic() + within_s
        while waiting:
            descs = await asyncio.gather(*(s.handle.describe() for s in waiting))
            waiting = [
                s
                for s, d in zip(waiting, descs, strict=True)
                if d.status is None or d.status.name == "RUNNING"
            ]
            if not waiting or time.monotonic() >= deadline:
                break
            if stuck is not None and all(await asyncio.gather(*(stuck(s) for s in waiting))):
                break
            await asyncio.sleep(0.05)  # poll interval, not synchronisation
        return waiting

    def agent_task_not_taken(
        self, grace_s: float, state_index: int = 0
    ) -> Callable[[Started], Awaitable[bool]]:
        """A predicate for ``still_open``: the call's Zigflow agent activity has been
        STARTED at the server for ``grace_s`` (this driver's observation) at an attempt
        whose StartAgent never reached the harness's relay. Zigflow's first act in the
        activity is that call, so its worker never got the task: the server handed it
        out and the delivery was lost (a toxic on Zigflow's link to Temporal), and only
        the attempt's timeout brings it back. Always False without a StartAgent relay."""
        relay = self.stack.relay
        first_seen: dict[tuple[str, int], float] = {}

        async def stuck(s: Started) -> bool:
            if relay is None:
                return False
            attempt = await self._activity_attempt(s, state_index)
            if attempt is None:
                return False
            want = activity_id(state_index, s.plan["states"][state_index])
            if relay.requests(s.call_id, want, attempt):
                return False
            since = first_seen.setdefault((s.call_id, attempt), time.monotonic())
            return time.monotonic() - since >= grace_s

        return stuck

    # -- Stigma's execution of each call_agent state ------------------------
    def idempotency_key(self, started: Started, state_index: int = 0) -> str:
        """The key Zigflow sends for the call's agent state, every attempt (the contract's
        ``{workflow_id}/{run_id}/{activity_id}``)."""
        run_id = started.handle.result_run_id or started.handle.run_id
        act = activity_id(state_index, started.plan["states"][state_index])
        return f"{started.call_id}/{run_id}/{act}"

    def stigma_workflow_id(self, started: Started, state_index: int) -> str:
        return contract.stigma_workflow_id(self.idempotency_key(started, state_index))

    def _stigma(self, started: Started, state_index: int) -> WorkflowHandle[Any, Any]:
        """The call's Stigma execution for one agent state."""
        return self.stack.client.get_workflow_handle(self.stigma_workflow_id(started, state_index))

    async def _until(
        self,
        ready: Callable[[], Awaitable[bool]],
        timeout_s: float | None,
        pending: Callable[[], str],
        interval_s: float = 0.05,
    ) -> None:
        """Poll ``ready`` until it says yes, within ``timeout_s`` (the driver's own when
        None); ``pending`` says what is still awaited if it never does. Every 50 ms, as
        ``eventually``: a wait outlasts what it waits for by half an interval on
        average, a few describe calls a second cost the servers nothing measurable."""

        async def probe() -> bool | None:
            return True if await ready() else None

        await eventually(
            probe,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            pending=pending,
            interval_s=interval_s,
        )

    async def wait_pending(
        self, started: list[Started], state_index: int = 0, timeout_s: float | None = None
    ) -> None:
        """Until every call's Zigflow activity is pending and Stigma has ACKed its attempt
        (seen at the stack's relay; without one, Stigma's execution running)."""
        await self._wait_each(
            started, state_index, timeout_s, self._is_pending, "not yet pending (ACKed)"
        )

    async def zigflow_pending_level(self, metric: str | None = None) -> PendingReading | None:
        """What the first of ``RESULT_PENDING_METRICS`` Zigflow exports reads now
        (``metric``: that one only), or None when Zigflow exports no metrics, or none of
        these (they are optional)."""
        address = self.stack.topology.zigflow_metrics_listen
        if not address:
            return None
        try:
            samples = await metrics.scrape(address)
        except OSError:  # nothing listens there: a Zigflow without metrics
            return None
        names = metrics.names(samples)
        for name in (metric,) if metric else RESULT_PENDING_METRICS:
            if name in names:
                return PendingReading(name, metrics.total(samples, name))
        return None

    async def wait_result_pending(
        self, started: list[Started], before: PendingReading | None, timeout_s: float | None = None
    ) -> None:
        """``wait_pending`` (the ACKs went back through the relay), then until Zigflow
        has gone result-pending on them, its own step after the ACK, which a busy Zigflow
        can take a while to reach. A fault meant for result-pending activities (a stop, a
        kill) that lands between the two meets activities still running, and proves
        nothing about result-pending ones. Seen on the metric ``before`` was read from
        (``zigflow_pending_level``, read before the calls started) risen by these calls;
        a Zigflow with neither metric shows no such sign, and then only the ACK is known.
        Which it was goes to the history's ``RESULT_PENDING_SEEN`` measurement."""
        await self.wait_pending(started, timeout_s=timeout_s)
        if before is None:
            self.history.measurements[RESULT_PENDING_SEEN] = {
                "seen_by": SEEN_BY_ACK,
                "calls": len(started),
            }
            return
        want = before.value + len(started)
        level: float | None = before.value

        async def risen() -> bool:
            nonlocal level
            now = await self.zigflow_pending_level(before.metric)
            level = now.value if now is not None else None
            return level is not None and level >= want

        await self._until(
            risen,
            timeout_s,
            lambda: (
                f"Zigflow's {before.metric} to read {want:g} ({len(started)} call(s) ACKed "
                f"since it read {before.value:g}); it reads {level}"
            ),
        )
        self.history.measurements[RESULT_PENDING_SEEN] = {
            "seen_by": SEEN_BY_METRIC,
            "calls": len(started),
            "metric": before.metric,
            "level": want,
        }

    async def wait_agent_running(
        self, started: list[Started], state_index: int = 0, timeout_s: float | None = None
    ) -> None:
        """Until every call's Zigflow activity has started and Stigma's execution for it
        runs, whether or not an ACK reached Zigflow (e.g. the ACK is being dropped)."""

        async def running(s: Started, index: int) -> bool:
            return await self._activity_attempt(s, index) is not None and (
                await self._agent_running(s, index)
            )

        await self._wait_each(started, state_index, timeout_s, running, "not yet running")

    async def _wait_each(
        self,
        started: list[Started],
        state_index: int,
        timeout_s: float | None,
        ready: Callable[[Started, int], Awaitable[bool]],
        what: str,
    ) -> None:
        waiting = {s.call_id: s for s in started}

        async def all_ready() -> bool:
            for call_id, s in list(waiting.items()):
                if await ready(s, state_index):
                    del waiting[call_id]
            return not waiting

        await self._until(
            all_ready,
            timeout_s,
            lambda: f"{len(waiting)} agent call(s) {what}: " + ", ".join(sorted(waiting)[:5]),
        )

    async def _activity_attempt(self, s: Started, state_index: int) -> int | None:
        """The attempt of the call's agent activity running in Zigflow, if one is."""
        desc = await s.handle.describe()
        want = activity_id(state_index, s.plan["states"][state_index])
        for p in desc.raw_description.pending_activities:
            if (
                p.activity_id == want
                and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            ):
                return int(p.attempt)
        return None

    async def _agent_running(self, s: Started, state_index: int) -> bool:
        return await _status(self._stigma(s, state_index)) == "RUNNING"

    async def _is_pending(self, s: Started, state_index: int) -> bool:
        attempt = await self._activity_attempt(s, state_index)
        if attempt is None:
            return False
        relay = self.stack.relay
        if relay is not None:
            # Seen, not inferred: this attempt's ACK went back through the harness's relay.
            want = activity_id(state_index, s.plan["states"][state_index])
            return relay.acked(s.call_id, want, attempt)
        # Without a relay (bench, load), the nearest evidence: Stigma's execution runs.
        # It exists from the durable start on, which precedes the ACK.
        return await self._agent_running(s, state_index)

    async def wait_handed_to_stigma(
        self, started: Started, *, attempt: int = 1, state_index: int = 0
    ) -> None:
        """Until the harness's StartAgent relay has passed this attempt's request on to
        Stigma (over a connection that is up), so that a fault on Stigma from now on
        meets the request in Stigma's hands, not one Zigflow has yet to send."""
        relay = self.stack.relay
        if relay is None:
            raise ConfigError("only a stack with a StartAgent relay sees the handover")
        want = activity_id(state_index, started.plan["states"][state_index])

        async def handed() -> bool:
            return any(
                r.forwarded_fp is not None for r in relay.requests(started.call_id, want, attempt)
            )

        await self._until(
            handed,
            None,
            lambda: (
                f"StartAgent attempt {attempt} of {started.call_id} to reach Stigma "
                "through the harness's relay"
            ),
            0.01,
        )

    def acked_by_stigma(self, started: Started, *, attempt: int, state_index: int = 0) -> bool:
        """Whether Stigma's ACK of this attempt's StartAgent came back through the relay."""
        relay = self.stack.relay
        if relay is None:
            raise ConfigError("only a stack with a StartAgent relay sees the ACK")
        want = activity_id(state_index, started.plan["states"][state_index])
        return relay.acked(started.call_id, want, attempt)

    async def release(self, started: Iterable[Started], state_index: int = 0) -> None:
        """Let the harness's held agents finish. An agent that is not holding (not
        started yet, or its Stigma execution is gone) is remembered as released: a
        later or re-run attempt does not hold. Recorded on the fault timeline."""
        for s in started:
            status = self.stack.agents.release(self.stigma_workflow_id(s, state_index))
            self.history.fault("stop", "hold", s.call_id, state=state_index, agent=status)

    # -- a call's calls to Temporal parked at the harness's relay in front of it ----
    @contextlib.asynccontextmanager
    async def completion_held(
        self, plan: dict[str, Any], *, at: str = "request", then_forward: bool = True
    ) -> AsyncIterator[tuple[Started, Held]]:
        """Start ``plan`` with its agent's completion call by token parked at the relay in
        front of Temporal (``at``: before Temporal has it, or after, before Stigma hears
        so), entering once it has arrived; on exit it goes on (``then_forward``) or is
        dropped (``CompletionRelay.hold``). Recorded on the fault timeline."""
        async with self.stack.completion_relay().hold(
            self.history, at=at, then_forward=then_forward
        ) as held:
            started = await self.start(plan)
            await held.arrived()
            yield started, held

    @contextlib.asynccontextmanager
    async def start_held(
        self, plan: dict[str, Any], *, at: str
    ) -> AsyncIterator[tuple[Started, Held]]:
        """Start ``plan`` with Stigma's start of the agent's workflow parked at the relay
        in front of Temporal (``at``: "request", not yet durable; "reply", durable and
        not yet known to Stigma), entering once it has arrived; on exit it is dropped
        (``CompletionRelay.hold_starts``)."""
        async with self.stack.completion_relay().hold_starts(self.history, at=at) as held:
            started = await self.start(plan)
            await held.arrived()
            yield started, held

    # -- the harness's own agents (harness/stack/agent.py) ------------------------
    def agent_attempts(self, started: Started, state_index: int = 0) -> list[AgentAttempt]:
        """Every attempt of the call's agent the harness has run, in order."""
        return self.stack.agents.attempts(self.stigma_workflow_id(started, state_index))

    async def wait_agent(
        self,
        started: Iterable[Started],
        event: str,
        state_index: int = 0,
        *,
        attempt: int = 1,
        timeout_s: float | None = None,
    ) -> None:
        """Until each call's agent has an attempt (numbered ``attempt`` or later) that saw
        ``event``: "started", "held", "released", "cancelled" or "finished"."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        calls = list(started)

        def missing() -> list[str]:
            return [
                s.call_id
                for s in calls
                if not any(
                    a.attempt >= attempt and a.saw(event)
                    for a in self.agent_attempts(s, state_index)
                )
            ]

        await self.stack.agents.wait_for(
            lambda: not missing(),
            timeout_s,
            lambda: f"agent {event} (attempt >= {attempt}) for " + ", ".join(missing()[:5]),
        )

    async def wait_in_flight(
        self,
        started: Started,
        activity_type: str,
        *,
        side: str = "stigma",
        state_index: int = 0,
        timeout_s: float | None = None,
    ) -> None:
        """Until an activity of ``activity_type`` is running (STARTED) in the call's Zigflow
        workflow (side="zigflow") or in its Stigma execution (side="stigma")."""
        handle = (
            self.stack.client.get_workflow_handle(started.call_id)
            if side == "zigflow"
            else self._stigma(started, state_index)
        )

        async def running() -> bool:
            desc = await handle.describe()
            return any(
                p.activity_type.name == activity_type
                and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                for p in desc.raw_description.pending_activities
            )

        await self._until(
            running, timeout_s, lambda: f"{activity_type} to be running in {handle.id}", 0.05
        )

    async def wait_attempt(
        self, started: Started, attempt: int, state_index: int = 0, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """Until the call's Zigflow agent activity is at ``attempt`` or later; returns (and
        records) the failure of the previous attempt as the server reports it."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        want = activity_id(state_index, started.plan["states"][state_index])
        seen: dict[str, Any] = {}

        async def probe() -> dict[str, Any] | None:
            desc = await started.handle.describe()
            for p in desc.raw_description.pending_activities:
                if p.activity_id == want and p.attempt >= attempt:
                    failure = p.last_failure
                    info = (
                        failure.application_failure_info
                        if failure.HasField("application_failure_info")
                        else None
                    )
                    seen.update(
                        attempt=p.attempt,
                        failure_type=info.type if info else "",
                        failure_message=failure.message,
                    )
                    return seen
            return None

        result = await eventually(
            probe,
            timeout_s=timeout_s,
            pending=lambda: f"{started.call_id}/{want} to reach attempt {attempt}",
        )
        self.history.measurements.setdefault("observed_retries", []).append(
            {"call": started.call_id, **result}
        )
        return result

    async def wait_stigma_activity_closed(
        self,
        started: Started,
        activity_type: str,
        state_index: int = 0,
        timeout_s: float | None = None,
    ) -> None:
        """Until the call's Stigma execution has closed one activity of ``activity_type``
        (e.g. its first completion call has returned)."""
        handle = self._stigma(started, state_index)
        await self._until(
            lambda: self._closed_one(handle, activity_type),
            timeout_s,
            lambda: f"{activity_type} to close in {handle.id}",
        )

    async def wait_stigma_attempt_over(
        self,
        started: Started,
        activity_type: str,
        state_index: int = 0,
        timeout_s: float | None = None,
    ) -> None:
        """Until the first attempt of the call's Stigma activity of ``activity_type`` is
        over: Temporal is retrying it (a later attempt pending) or it closed. An error its
        call met has then come out of the client's own retry loop into Stigma's code, and
        what that code made of it (retry, or take it as final) is on Temporal's record."""
        handle = self._stigma(started, state_index)

        async def over() -> bool:
            desc = await handle.describe()
            return any(
                p.activity_type.name == activity_type and p.attempt >= 2
                for p in desc.raw_description.pending_activities
            ) or await self._closed_one(handle, activity_type)

        await self._until(
            over, timeout_s, lambda: f"{activity_type}'s first attempt to end in {handle.id}"
        )

    async def _closed_one(self, handle: WorkflowHandle[Any, Any], activity_type: str) -> bool:
        """Whether Stigma's execution ``handle`` has closed an activity of that type."""
        history = await handle.fetch_history()
        trace = traces.read(history, self.stack.client.data_converter, traces.StigmaTrace)
        return any(a.status != "open" for a in trace.of_type(activity_type))

    async def wait_zigflow_activity_closed(
        self, started: Started, state_index: int = 0, timeout_s: float | None = None
    ) -> None:
        """Until the call's Zigflow agent activity is no longer pending on the server."""
        want = activity_id(state_index, started.plan["states"][state_index])

        async def closed() -> bool:
            desc = await started.handle.describe()
            return all(p.activity_id != want for p in desc.raw_description.pending_activities)

        await self._until(closed, timeout_s, lambda: f"{started.call_id}/{want} to close")

    async def settled(
        self,
        started: Started,
        state_index: int = 0,
        timeout_s: float | None = None,
        *,
        stigma_only: bool = False,
    ) -> None:
        """Until the call's Stigma execution has closed or its Zigflow workflow has
        (whichever side ends first: a refused StartAgent never starts Stigma); with
        ``stigma_only``, until Stigma's execution has closed."""
        agent = self._stigma(started, state_index)

        async def closed() -> bool:
            return await _closed_now(agent) or (
                not stigma_only and await _closed_now(started.handle)
            )

        await self._until(
            closed,
            timeout_s,
            lambda: (
                f"{started.call_id}: "
                + (
                    "Stigma's execution not closed"
                    if stigma_only
                    else "neither Stigma nor Zigflow closed"
                )
            ),
        )

    async def cancel(self, started: Iterable[Started]) -> None:
        """Ask Temporal to cancel these Zigflow workflows (as an operator would)."""
        for s in started:
            await s.handle.cancel()
            self.history.fault("start", "cancel", s.call_id)

    async def agents_delivered(
        self, started: list[Started], state_index: int = 0, timeout_s: float | None = None
    ) -> None:
        """Until every call's Stigma execution has closed (its completion call is done)."""
        waiting = {self.stigma_workflow_id(s, state_index) for s in started}

        async def all_closed() -> bool:
            for wf in list(waiting):
                if await _closed_now(self.stack.client.get_workflow_handle(wf)):
                    waiting.discard(wf)
            return not waiting

        await self._until(
            all_closed,
            timeout_s,
            lambda: (
                f"{len(waiting)} Stigma execution(s) still running: "
                + ", ".join(sorted(waiting)[:3])
            ),
        )

    # -- an operator acting on Zigflow's pending activity (temporal activity ...) --
    # Temporal's PauseActivity, UnpauseActivity and ResetActivity (server 1.27 and
    # later; the time-skipping server answers UNIMPLEMENTED: real-clock specs only). The
    # action and the tokens of the call (as the StartAgent relay forwarded them) are
    # recorded (``measurements[OPERATOR_ACTIONS]``, and on the fault timeline), for
    # ``harness.judge.token_calls.operator_pause_is_not_cancel``.
    async def pause_zigflow_activity(self, started: Started, state_index: int = 0) -> float:
        """Pause the call's Zigflow agent activity, as an operator would; returns when
        the server took it (wall time)."""
        service = self.stack.client.workflow_service
        await service.pause_activity(
            PauseActivityRequest(
                **self._operator_target(started, state_index),
                reason="the harness plays an operator pausing the activity",
            )
        )
        return self._operator_action(started, state_index, "pause")

    async def unpause_zigflow_activity(self, started: Started, state_index: int = 0) -> float:
        """Unpause the call's Zigflow agent activity; returns when the server took it."""
        service = self.stack.client.workflow_service
        await service.unpause_activity(
            UnpauseActivityRequest(
                **self._operator_target(started, state_index),
            )
        )
        return self._operator_action(started, state_index, "unpause")

    async def reset_zigflow_activity(
        self, started: Started, state_index: int = 0, *, reset_heartbeat: bool = False
    ) -> float:
        """Reset the call's Zigflow agent activity (its attempts and timeouts; with
        ``reset_heartbeat`` its heartbeat details too); returns when the server took it."""
        service = self.stack.client.workflow_service
        await service.reset_activity(
            ResetActivityRequest(
                **self._operator_target(started, state_index),
                reset_heartbeat=reset_heartbeat,
            )
        )
        return self._operator_action(started, state_index, "reset", reset_heartbeat=reset_heartbeat)

    def _operator_target(self, started: Started, state_index: int) -> dict[str, Any]:
        """The fields every operator request names: which activity, and who acts."""
        return {
            "namespace": self.stack.client.namespace,
            "execution": self._execution(started),
            "id": self._activity_id(started, state_index),
            "identity": "handshake-harness operator",
        }

    def _execution(self, started: Started) -> WorkflowExecution:
        return WorkflowExecution(
            workflow_id=started.call_id,
            run_id=started.handle.result_run_id or started.handle.run_id or "",
        )

    @staticmethod
    def _activity_id(started: Started, state_index: int) -> str:
        return activity_id(state_index, started.plan["states"][state_index])

    def _operator_action(
        self, started: Started, state_index: int, action: str, **detail: Any
    ) -> float:
        wall = time.time()
        act = self._activity_id(started, state_index)
        self.history.fault("start", f"operator_{action}", started.call_id, activity=act, **detail)
        self.history.measurements.setdefault(OPERATOR_ACTIONS, []).append(
            {
                "call": started.call_id,
                "activity_id": act,
                "action": action,
                "wall": wall,
                "token_fps": self._token_fps(started, state_index),
                **detail,
            }
        )
        return wall

    def _token_fps(self, started: Started, state_index: int) -> list[str]:
        """Fingerprints of the tokens Stigma was handed for the call's agent state, every
        attempt's (the StartAgent relay forwarded them)."""
        relay = self.stack.relay
        assert relay is not None, "only a stack with a StartAgent relay sees the tokens"
        key = self.idempotency_key(started, state_index)
        fps = [r.forwarded_fp for r in relay.log if r.idempotency_key == key and r.forwarded_fp]
        return list(dict.fromkeys(fps))

    async def call_by_token_after(
        self,
        started: Started,
        after_wall: float,
        *,
        heartbeat_flags: tuple[str, ...] | None = None,
        state_index: int = 0,
        timeout_s: float | None = None,
    ) -> Relayed:
        """Until Stigma's next call by the call's token (seen at the relay in front of
        Temporal, answered) after ``after_wall``: a heartbeat, or whatever Stigma called
        instead (a cancellation by token). With ``heartbeat_flags``, until a heartbeat
        whose answer carried exactly these flags (("paused",), ("reset",), () for none)
        or any call that is not a heartbeat."""
        completions = self.stack.completion_relay()
        fps = set(self._token_fps(started, state_index))

        async def probe() -> Relayed | None:
            calls = [*completions.heartbeats, *completions.completions]
            for call in sorted(calls, key=lambda c: c.wall):
                if call.token_fp not in fps or call.wall <= after_wall or not call.answer:
                    continue
                if (
                    call.method != HEARTBEAT
                    or heartbeat_flags is None
                    or call.flags == heartbeat_flags
                ):
                    return call
            return None

        what = (
            f"a heartbeat answered {'+'.join(heartbeat_flags) or 'without flags'}"
            if heartbeat_flags is not None
            else "a call"
        )
        return await eventually(
            probe,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            interval_s=0.05,
            pending=lambda: (
                f"{what} by {started.call_id}'s token after the operator's action (calls "
                f"by it since: {self._calls_since(fps, after_wall)})"
            ),
        )

    def _calls_since(self, fps: set[str], after_wall: float) -> list[str]:
        completions = self.stack.completion_relay()
        return [
            f"{c.method} {c.answer or 'unanswered'}{' ' + '+'.join(c.flags) if c.flags else ''}"
            for c in sorted(
                [*completions.heartbeats, *completions.completions], key=lambda c: c.wall
            )
            if c.token_fp in fps and c.wall > after_wall
        ][:10]

    def record_calls_by_token(self, since_wall: float) -> None:
        """Put Stigma's calls by Zigflow's tokens since ``since_wall`` (completions,
        cancellations and heartbeats with their answers' flags), as the relay in front of
        Temporal saw them, into ``measurements[TOKEN_CALLS]`` for the checkers."""
        completions = self.stack.completion_relay()
        calls = [*completions.heartbeats, *completions.completions]
        self.history.measurements[TOKEN_CALLS] = [
            c.record()
            for c in sorted(calls, key=lambda c: c.wall)
            if c.wall >= since_wall and not c.own_task
        ]

    # -- Stigma addressed by the harness itself (not by Zigflow) --------------
    def forwarded_token(self, started: Started, state_index: int = 0) -> bytes:
        """The token Stigma received for the call's agent state (its first StartAgent), as
        the stack's StartAgent relay forwarded it (relay and tamper stacks only)."""
        relay = self.stack.relay
        assert relay is not None, "only a stack with a StartAgent relay keeps the tokens"
        key = self.idempotency_key(started, state_index)
        assert key in relay.forwarded_tokens, f"{key}: no StartAgent was forwarded to Stigma"
        return relay.forwarded_tokens[key]

    async def probe_stigma(self, body: bytes) -> Answer:
        """Send Stigma one StartAgent request, as raw bytes, straight to its address (past
        Zigflow and any relay); returns its answer (a gRPC status code and details)."""
        probe = StigmaProbe(self.stack.stigma_target, self.stack.stigma_tls)
        try:
            return await probe.start_agent_raw(body)
        finally:
            await probe.close()

    async def replay_token(self, token: bytes, *, output: Any) -> Sent:
        """Hand Stigma ``token`` again, as a replay would: a new StartAgent of the
        harness's own (a fresh idempotency key, an agent scripted to succeed with
        ``output``) carrying it."""
        key = f"replay-{uuid.uuid4().hex}"
        body = wire.start_agent_request(
            agent_id=b"replay",
            input_=json.dumps({"script": {"output": output}}).encode(),
            token=token,
            key=key.encode(),
        )
        return Sent(key, await self.probe_stigma(body))

    async def stigma_result(self, sent: Sent, timeout_s: float | None = None) -> Any:
        """Until Stigma's execution for a StartAgent the harness sent has closed; its
        result (Stigma's summary, optional evidence: None when it gives none). Raises
        TimeoutError if it is still open after ``timeout_s``."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        handle = self.stack.client.get_workflow_handle(sent.stigma_workflow_id)
        return await asyncio.wait_for(handle.result(), timeout_s)

    # -- then: join with Temporal's own record ----------------------------
    async def collect(self, started: Started) -> Call:
        call = self.history.calls[started.call_id]
        client = self.stack.client
        converter = client.data_converter
        try:
            zig = await started.handle.fetch_history()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return call  # nothing left to read: the checkers will say what is missing
        call.zigflow = traces.read(zig, converter, traces.WorkflowTrace)
        call.raw_histories[zig.workflow_id] = redact(zig.to_json_dict())
        # Stigma's records are read once they have closed, within the call's own timeout.
        settle_by = time.monotonic() + self.timeout_s
        for index, state in enumerate(started.plan["states"]):
            if state.get("kind", "call_agent") != "call_agent":
                continue
            act = activity_id(index, state)
            if call.zigflow.activity(act) is None:
                continue
            wf_id = self.stigma_workflow_id(started, index)
            call.agents[act] = [a.to_json() for a in self.stack.agents.attempts(wf_id)]
            agent = client.get_workflow_handle(wf_id)
            span = call.zigflow.activity(act)
            by_token = span is not None and span.status in ("completed", "failed", "canceled")
            if state.get("mode", HANDSHAKE) == HANDSHAKE and by_token:
                # Zigflow resumes at the completion call; Stigma records that call's
                # outcome when its completion activity closes, which can be much later:
                # on a slow link that activity's attempts time out after the call landed
                # and it is retried, with backoff, until an attempt reports in time
                # (seen: the Java Stigma still open 15 s after Zigflow resumed, under
                # latency and slicing). Still open at the bound, the checkers say so.
                await _closed(agent, max(0.0, settle_by - time.monotonic()))
            try:
                hist = await agent.fetch_history()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            newest = traces.read(hist, converter, traces.StigmaTrace)
            call.stigma[act] = newest
            call.raw_histories[hist.workflow_id] = redact(hist.to_json_dict())
            runs = {newest.run_id: newest}
            ran = {a["run_id"] for a in call.agents[act] if a.get("run_id")}
            for run_id in sorted((await self._run_ids(wf_id)) | ran):
                if run_id in runs:
                    continue
                try:
                    older = await client.get_workflow_handle(wf_id, run_id=run_id).fetch_history()
                except RPCError as err:
                    if err.status == RPCStatusCode.NOT_FOUND:
                        continue  # retention already dropped it
                    raise
                runs[run_id] = traces.read(older, converter, traces.StigmaTrace)
                call.raw_histories[f"{wf_id}#{run_id}"] = redact(older.to_json_dict())
            call.stigma_runs[act] = sorted(runs.values(), key=lambda t: t.started_at)
        return call

    async def _run_ids(self, workflow_id: str) -> set[str]:
        """Every run of ``workflow_id`` the server lists: a lookup by id alone gives only
        the newest. The visibility query where the server has one (dev server, clusters),
        else the open and closed lists (the time-skipping server implements only those).
        Runs visibility has not indexed yet are still found through the harness's own
        agent records (collect)."""
        client = self.stack.client
        query = f"WorkflowId = '{workflow_id}'"
        try:
            return {w.run_id async for w in client.list_workflows(query)}
        except RPCError as err:
            if err.status != RPCStatusCode.UNIMPLEMENTED:
                raise
        service = client.workflow_service
        only = WorkflowExecutionFilter(workflow_id=workflow_id)
        deadline = time.monotonic() + LIST_RETRY_S
        while True:
            try:
                opened = await service.list_open_workflow_executions(
                    ListOpenWorkflowExecutionsRequest(
                        namespace=client.namespace, execution_filter=only
                    )
                )
                closed = await service.list_closed_workflow_executions(
                    ListClosedWorkflowExecutionsRequest(
                        namespace=client.namespace, execution_filter=only
                    )
                )
            except RPCError as refused:
                # The time-skipping server's list endpoints now and then throw inside
                # the server while executions change under them (UNKNOWN, grpc-java's
                # "Application error processing RPC"; seen once in ~300 gate runs of
                # these lists). A read, so asked again, within a bound; any other code
                # is the server's answer.
                if refused.status != RPCStatusCode.UNKNOWN or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.1)  # the interval of a bounded retry
                continue
            return {i.execution.run_id for i in [*opened.executions, *closed.executions]}


# How long a run listing the server failed to make (UNKNOWN) is asked again: far more
# than the one retry it has needed, far less than a scenario's call timeout.
LIST_RETRY_S = 10.0


async def _status(handle: WorkflowHandle[Any, Any]) -> str | None:
    """The workflow's status now ("RUNNING", "COMPLETED", ...), None while the server
    has no such workflow (not started yet) or no status for it."""
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return desc.status.name if desc.status is not None else None


async def _closed_now(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow has closed, however it closed (not: not started yet)."""
    return await _status(handle) not in (None, "RUNNING")


async def _closed(handle: WorkflowHandle[Any, Any], timeout_s: float) -> None:
    """Wait until a workflow has closed, however it closed; give up quietly after timeout_s
    (the checkers then see it still running and say so)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(handle.result(), timeout_s)


async def agent_finished(
    driver: Driver, started: Started, state_index: int = 0, timeout_s: float | None = None
) -> Call:
    """Wait for the Stigma execution behind one state to close, then re-collect."""
    timeout_s = driver.timeout_s if timeout_s is None else timeout_s
    handle = driver.stack.client.get_workflow_handle(
        driver.stigma_workflow_id(started, state_index)
    )
    await _closed(handle, timeout_s)
    return await driver.collect(started)
