"""A stateful model of the handshake (Hypothesis ``RuleBasedStateMachine``).

Rules start agents (succeeding or failing, held or not, with a good or a damaged
token), release held agents (also while Stigma is cut off from Temporal through
Toxiproxy), kill and restart Stigma (real servers only) and move time past every
StartToClose; after each step
every call the model says must have ended is checked against what really happened,
and at the end the history's checkers judge the whole run. A failure prints the
steps, shrunk to a short reproduction.

Runs on the tamper stack: the token relay is how a damaged token is delivered,
and every link goes through Toxiproxy. The kill rule is enabled on real servers
only (``make certify``'s dev row, an external cluster): on the time-skipping
server a killed worker's sticky workflow task is never redelivered, so a kill
there would test the test server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from stigma.v1 import stigma_service_pb2 as pb

from harness.drive.driver import Driver, Started
from harness.drive.plan import activity_id, call_agent, fails, plan, succeeds
from harness.drive.strategies import live
from harness.faults.processes import killed
from harness.judge import checkers
from harness.judge.expect import holds
from harness.judge.invariants import every_call_accounted_for
from harness.links.network import Network
from harness.links.tamper import TokenTamper, Transform
from harness.observe.failures import ACTIVITY, APPLICATION, Failure
from harness.observe.history import History
from harness.waits import hold_for

pytestmark = [pytest.mark.scenario, pytest.mark.stack(chaos=True)]

T = TypeVar("T")
START_TO_CLOSE_S = 3600.0  # virtual on the time-skipping server; short on a real one
REAL_START_TO_CLOSE_S = 4.0
# How long Stigma is cut off from Temporal: twice the reference Stigmas' client retry
# window for one call by token (0.8 s, COMPLETION_RPC_RETRY in their sources), so a call
# in flight when the link goes down fails out of the client while it is down.
OUTAGE_S = 1.6
# The type the model's failing agents raise (the harness's own script, passed through
# Stigma to Zigflow): how an agent's error is told apart from any other failure.
AGENT_ERROR_TYPE = "ModelError"


@dataclass
class ModelCall:
    """What the model knows of one call and expects of it."""

    started: Started
    n: int  # the agent's number: its output is {"n": n}
    outcome: str  # "success" | "failure"
    held: bool
    damaged: bool
    was_held: bool = False
    timed_out: bool = False  # time passed its StartToClose before anybody completed it
    resolved: bool = False
    # Pending while Stigma was SIGKILLed on a real server: its recovery (~10 s, the dead
    # worker's cached executions wait out the sticky schedule-to-start timeout) may
    # outlast the short real-clock StartToClose, so a timeout is as correct as a
    # delivery; a wrong result, a lost call or a duplicate never is (the checkers).
    outlived_a_kill: bool = False
    # Not yet ACKed when Stigma was killed: its one attempt may meet the dead Stigma.
    unacked_at_kill: bool = False
    # Held on a real server: its short StartToClose runs in wall time while the agent
    # is held and the machine runs the other rules, so the release may come after it
    # and a timeout is as correct as a delivery (the late completion is then a dead
    # token; a wrong result or a duplicate never is: the checkers). The time-skipping
    # server, whose clock moves only when a rule moves it, holds it to the exact outcome.
    held_in_wall_time: bool = False

    @property
    def acceptable(self) -> set[str]:
        ok = {self.expected}
        if self.outlived_a_kill or self.held_in_wall_time:
            ok.add("timeout")
        if self.unacked_at_kill:
            ok.add("unreachable")
        return ok

    @property
    def expected(self) -> str:
        """The Zigflow workflow's end: ok, fail (agent error), or fail (timeout)."""
        if self.damaged or self.timed_out:
            return "timeout"
        return "ok" if self.outcome == "success" else "agent_error"

    @property
    def can_end_now(self) -> bool:
        """Ends without time moving: delivered by token, nothing held back."""
        return not self.held and not self.damaged


@pytest_asyncio.fixture(loop_scope="session")
async def session_loop() -> asyncio.AbstractEventLoop:
    """The loop the session's stacks live on: the machine's sync rules run their
    async steps on it (Hypothesis' stateful rules cannot be coroutines)."""
    return asyncio.get_running_loop()


class HandshakeModel(RuleBasedStateMachine):
    base_driver: Driver
    record: History  # the test's history: every example's operations end up here
    tamper: TokenTamper
    loop: asyncio.AbstractEventLoop
    network: Network
    # Shared by every example's machine (ids are unique): the relay's transform is
    # installed once, so no machine can swap another's out from under it.
    damaged_keys: set[str]

    calls = Bundle("calls")

    def __init__(self) -> None:
        super().__init__()
        # A history per example: the checkers judge this example alone (an earlier
        # example's failure must not be reported again by every later one).
        self.history = History(f"{self.record.name}#{len(self.record.calls)}")
        base = self.base_driver
        self.driver = Driver(base.stack, self.history, timeout_s=base.timeout_s, clock=base.clock)
        self.model: list[ModelCall] = []

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    @property
    def _timeout_s(self) -> float:
        return START_TO_CLOSE_S if self.driver.clock.can_skip else REAL_START_TO_CLOSE_S

    # -- rules ------------------------------------------------------------
    @rule(
        target=calls,
        outcome=st.sampled_from(["success", "failure"]),
        held=st.booleans(),
        damaged=st.booleans(),
    )
    def start_agent(self, outcome: str, held: bool, damaged: bool) -> ModelCall:
        held = held and not damaged  # a damaged call's fate is sealed at StartAgent
        n = len(self.model)
        script = (
            succeeds({"n": n}, hold=held)
            if outcome == "success"
            else fails(AGENT_ERROR_TYPE, f"agent {n} failed", hold=held)
        )
        call_id = f"zig-model-{n}-{uuid.uuid4().hex[:10]}"
        if damaged:
            self.damaged_keys.add(call_id)
        p = plan(call_agent(f"m{n}", script, start_to_close_s=self._timeout_s, max_attempts=1))
        started = self._run(self.driver.start(p, f="model", call_id=call_id))
        if held:
            self._run(self.driver.wait_pending([started]))
        call = ModelCall(
            started,
            n,
            outcome,
            held,
            damaged,
            was_held=held,
            held_in_wall_time=held and not self.driver.clock.can_skip,
        )
        self.model.append(call)
        return call

    @rule(call=calls)
    def release(self, call: ModelCall) -> None:
        if call.held and not call.resolved:
            self._run(self.driver.release([call.started]))
            call.held = False

    @precondition(lambda self: any(not c.resolved for c in self.model))
    @rule()
    def time_passes_every_start_to_close(self) -> None:
        # First let every call that can end by itself end (the model's order: a
        # delivered result must not race the clock), and every damaged token be
        # judged by Stigma; then move time past the StartToClose of the rest.
        self._settle()
        for c in self.model:
            if c.damaged and not c.resolved:
                self._run(self.driver.settled(c.started))
        # On a real clock each StartToClose passes by itself, counted from its call's
        # start: the outcome waits below see it pass (a sleep from here would overshoot).
        if self.driver.clock.can_skip:
            self._run(self.driver.clock.advance(timedelta(seconds=self._timeout_s + 60)))
        for c in self.model:
            if not c.resolved:
                c.timed_out = True  # held: nobody completed it in time
                self._resolve(c)

    @precondition(lambda self: any(c.held for c in self.model))
    @rule()
    def held_agents_finish_while_stigma_is_cut_off_from_temporal(self) -> None:
        # Stigma's server and worker lose Temporal (starts, polls, completions) while
        # the held agents are let go; longer than Stigma's client retry, so completion
        # attempts fail and are retried by the activity's own policy after the heal.
        # (Seen at the completion relay: a damaged token's call whose client was
        # retrying INTERNAL when the link went down meets the dead link, comes out of
        # the client ~0.8 s in, and the worker's report of the failed attempt meets the
        # dead link too until the heal.)
        held = [c for c in self.model if c.held]

        async def outage() -> None:
            async with self.network.down(self.history, "stigma_temporal"):
                await self.driver.release([c.started for c in held])
                await hold_for(OUTAGE_S, "past Stigma's completion-client retry window")

        self._run(outage())
        for c in held:
            c.held = False

    @precondition(lambda self: bool(self.model) and not self.driver.clock.can_skip)
    @rule()
    def stigma_killed_and_restarted(self) -> None:
        # Real servers only: the time-skipping server never redelivers a workflow task
        # parked on a SIGKILLed worker's sticky queue (docs handbook, "Time and process control").
        async def kill() -> None:
            async with killed(self.driver.stack, self.driver.stack.stigma, self.history):
                pass

        relay = self.driver.stack.relay
        for c in self.model:
            if not c.resolved:
                c.outlived_a_kill = True
                act = activity_id(0, c.started.plan["states"][0])
                c.unacked_at_kill = relay is None or not relay.acked(c.started.call_id, act, 1)
        self._run(kill())

    # -- checks -----------------------------------------------------------
    def _resolve(self, c: ModelCall) -> None:
        op = self._run(self.driver.outcome(c.started))
        c.resolved = True
        got = _kind(op.type, op.value)
        assert got in c.acceptable, (
            f"{c.started.call_id}: model expected {' or '.join(sorted(c.acceptable))}, "
            f"Zigflow ended {got}: {op.value}"
        )
        if got == "ok":
            output = op.value["states"][0]["result"]["output"]
            assert output == {"agent_id": "stand-in", "value": {"n": c.n}}, (
                f"{c.started.call_id}: model expected agent {c.n}'s output, Zigflow got {output}"
            )

    def _settle(self) -> None:
        for c in self.model:
            if not c.resolved and c.can_end_now:
                self._resolve(c)

    @invariant()
    def every_call_that_can_end_has_ended_as_modelled(self) -> None:
        self._settle()

    def teardown(self) -> None:
        try:
            self._finish()
        finally:
            self.record.ops += self.history.ops
            self.record.faults += self.history.faults
            self.record.calls.update(self.history.calls)
            self.record.checks += self.history.checks

    def _finish(self) -> None:
        if any(not c.resolved for c in self.model):
            self.time_passes_every_start_to_close()
        # Agents still held (their Zigflow side timed out) finish now: their late
        # completion must be recorded as a dead token, and nothing is left running.
        held = [c.started for c in self.model if c.held]
        self._run(self.driver.release(held))
        for c in self.model:
            # A call whose StartAgent a kill cut off before Stigma's durable start has no
            # Stigma execution to wait for: its Zigflow side closing settles it.
            self._run(self.driver.settled(c.started, stigma_only=not c.unacked_at_kill))
            self._run(self.driver.collect(c.started))
        if not self.model:
            return  # an example that started nothing has nothing to judge
        damaged = {c.started.call_id for c in self.model if c.started.call_id in self.damaged_keys}
        holds(
            self.history,
            every_call_accounted_for(self.history),
            checkers.damaged_token_handled(self.history, damaged_calls=damaged),
        )


def damage_these(keys: set[str]) -> Transform:
    """The relay's transform: the token of a call whose id is in ``keys`` arrives as garbage."""

    async def damage(request: pb.StartAgentRequest) -> pb.StartAgentRequest:
        if request.idempotency_key.split("/")[0] in keys:
            request.callback_token = b"not-a-token:" + request.callback_token[:8]
        return request

    return damage


def _kind(op_type: str, value: Any) -> str:
    """ok, timeout (a timeout anywhere in the failure's cause chain, whatever its
    message says), agent_error (the agent's own error type in the chain), or else the
    failure described."""
    if op_type == "ok":
        return "ok"
    if op_type != "fail":
        return op_type
    failure = Failure.from_dict(value)
    if failure.is_timeout:
        return "timeout"
    if any(link.type == AGENT_ERROR_TYPE for link in failure.links(APPLICATION)):
        return "agent_error"
    gave_up = any(
        link.retry_state == "MAXIMUM_ATTEMPTS_REACHED" for link in failure.links(ACTIVITY)
    )
    root = failure.root_application
    if gave_up and root is not None and not root.non_retryable:
        return "unreachable"  # the agent activity's attempts all met retryable errors
    return f"fail: {failure.describe()}"


@pytest.mark.server_kinds_differ(
    "tokens",
    "calls",
    why="the servers answer a damaged token with different codes (INTERNAL or NOT_FOUND on "
    "the time-skipping server, INVALID_ARGUMENT on a real one), and the kill rule is enabled "
    "on real servers only, so the examples drawn there are other programs (other calls)",
)
@pytest.mark.slow(7)
def test_the_handshake_behaves_like_its_model(
    driver: Driver,
    tamper: TokenTamper,
    network: Network,
    history: History,
    session_loop: asyncio.AbstractEventLoop,
) -> None:
    damaged_keys: set[str] = set()
    tamper.set(damage_these(damaged_keys))
    machine = type(
        "Machine",
        (HandshakeModel,),
        {
            "base_driver": driver,
            "tamper": tamper,
            "network": network,
            "loop": session_loop,
            "record": history,
            "damaged_keys": damaged_keys,
        },
    )
    settings = live(gate_examples=3, nightly_examples=50)
    settings = type(settings)(settings, stateful_step_count=6)
    run_state_machine_as_test(machine, settings=settings)
