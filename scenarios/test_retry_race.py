"""A completion racing a retry: attempt 1 of Zigflow's agent activity times out while its
agent is finishing, and Zigflow's retry (a new attempt, a new token) is under way when
Stigma's call by the old token reaches Temporal.

The old token names an attempt that no longer exists: Temporal answers NOT_FOUND (observed
on the time-skipping and dev servers alike, for complete and fail by token, whether the
retry is in backoff or has started). Stigma must record that call as superseded
(``token_dead`` with NOT_FOUND, one call, not retried, never "delivered"), and the agent's
result, or its failure, must reach the live attempt exactly once.

The interleavings (the StartAgent relay parks the retry's StartAgent before Stigma,
``HoldRetries``; the relay in front of Temporal parks Stigma's call by the old token,
``CompletionRelay.hold``):

- ``retry-started`` (complete and fail by token): the retry has started on the server, its
  token not yet at Stigma, when the old call lands; the retry's token arrives after
  Stigma recorded the old call dead. Forced by the relays.
- ``retry-attached`` (complete): the retry's token has reached Stigma (its StartAgent
  ACKed) while the old call was in flight; the old call then lands. Forced by the relays.
- ``in-backoff`` (fail by token): the old call lands while the retry waits out its
  backoff (the server lists attempt 2 as scheduled, not started), the case
  temporal#5877 leaves open for calls by id. Not forced: the backoff is the plan's
  ``initial_interval_s`` (2 s), a hint the reference Zigflows and the harness's
  activity-level workflow honour, and the agent fails as soon as the retry is listed.
  Where the old call landed, by the server's own timestamps, is recorded
  (``measurements.old_call_landed``: "backoff" in every run so far) and judged alike.

Every case runs in wall time (a 1 s StartToClose) on either server: on the time-skipping
server a virtual-time hop past attempt 1's timeout also carries the retry through its
backoff and start, and past Zigflow's own StartAgent deadline (5 s in the reference) while
the relay holds it. Both servers answered the old calls alike (NOT_FOUND, "invalid
activityID or activity already timed out or invoking workflow is completed").

- ``heartbeat`` (real server): attempt 1 times out by heartbeat (the harness refuses
  Stigma's heartbeats by its token at the relay), the retry's StartAgent is parked until
  Stigma's next heartbeat by the old token has met NOT_FOUND; the retry's token then
  arrives, and Stigma must heartbeat *it* while the agent works on, or the live attempt
  times out by heartbeat too. Both reference Stigmas stopped beating at that NOT_FOUND
  (fixed). The time-skipping server answers heartbeats by the timed-out attempt's token
  OK while the retry runs (observed), so there the old token never meets NOT_FOUND:
  this case runs on a real server only (``@pytest.mark.stack(real_clock=True)``).

Not covered here: a retry that never comes (``test_timeout.py``: max_attempts=1, the
dead token recorded once).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness import contract
from harness.drive.driver import Driver, Started
from harness.drive.plan import AgentScript, call_agent, fails, plan, succeeds
from harness.judge import checkers
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.links.completion_relay import Relayed
from harness.links.tamper import HoldRetries
from harness.observe.history import History
from harness.waits import eventually

pytestmark = pytest.mark.scenario

# Attempt 1's StartToClose, in wall time on every server: the time-skipping server does
# not skip while the harness holds its clock (and the held agent its activity), and a
# virtual-time hop would carry the retry through its start and past Zigflow's StartAgent
# deadline while the harness holds it.
START_TO_CLOSE_S = 1.0
# Attempts: the one that times out and the live retry. A third would be a second retry,
# which no correct pair needs here.
MAX_ATTEMPTS = 2


def _script(outcome: str) -> AgentScript:
    if outcome == "complete":
        return succeeds({"raced": True}, hold=True)
    return fails("RacedFailure", "the agent failed while its attempt timed out", hold=True)


def _call_activity(outcome: str) -> str:
    names = contract.NAMES
    return names.stigma_complete_activity if outcome == "complete" else names.stigma_fail_activity


async def _start(driver: Driver, outcome: str, **state: Any) -> Started:
    driver.history.measurements["start_to_close_s"] = START_TO_CLOSE_S
    call = call_agent(
        "raced", _script(outcome), start_to_close_s=START_TO_CLOSE_S, max_attempts=MAX_ATTEMPTS
    )
    call.update(state)
    started = await driver.start(plan(call))
    await driver.wait_pending([started])
    return started


@pytest.mark.slow(3)  # attempt 1's StartToClose and the retry's backoff, in wall time
@pytest.mark.parametrize("outcome", ["complete", "fail"])
async def test_old_token_call_after_the_retry_started_is_dead_and_the_retry_gets_it_once(
    driver: Driver, history: History, outcome: str
) -> None:
    relay = driver.stack.relay
    assert relay is not None, "the gate's stacks relay StartAgent"
    retries = HoldRetries()
    relay.set(retries)
    try:
        # given: an agent still working when attempt 1 times out; the retry (attempt 2,
        # a new token) has started, its StartAgent parked before Stigma
        started = await _start(driver, outcome)
        await retries.arrived()
        # when: the agent finishes now, and Stigma calls by the only token it has
        await driver.release([started])
        await driver.wait_stigma_activity_closed(started, _call_activity(outcome))
        # and then the retry's token reaches Stigma
        retries.release()
    finally:
        retries.release()
        relay.set(None)
    await driver.outcome(started)
    # then: the old call ended NOT_FOUND, recorded as such, once; the live attempt got
    # the agent's outcome once
    holds(
        history,
        exactly_once(history, max_attempts=MAX_ATTEMPTS),
        checkers.superseded_call_recorded(history),
    )


@pytest.mark.slow(3)
async def test_old_token_call_landing_after_the_retry_attached_is_dead_and_the_retry_gets_it(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.relay
    assert relay is not None, "the gate's stacks relay StartAgent"
    retries = HoldRetries()
    relay.set(retries)
    try:
        async with driver.stack.completion_relay().hold(history) as old_call:
            # given: attempt 1 timed out, the retry's StartAgent parked before Stigma
            started = await _start(driver, "complete")
            await retries.arrived()
            # when: the agent finishes, Stigma's call by the old token is in flight
            # (parked before Temporal) ...
            await driver.release([started])
            await old_call.arrived()
            # ... and the retry's token reaches Stigma and is ACKed meanwhile
            retries.release()
            await driver.wait_pending([started])
        # (leaving the block lets the old call land)
    finally:
        retries.release()
        relay.set(None)
    await driver.outcome(started)
    # then
    holds(
        history,
        exactly_once(history, max_attempts=MAX_ATTEMPTS),
        checkers.superseded_call_recorded(history),
    )


@pytest.mark.slow(4)  # attempt 1's StartToClose, then the retry's backoff, in wall time
async def test_old_token_failure_during_the_retry_backoff_is_dead_and_the_retry_gets_it_once(
    driver: Driver, history: History
) -> None:
    backoff_s = 2.0
    # given: an agent still working when attempt 1 times out; the retry waits out a
    # backoff of backoff_s (the plan's hint)
    started = await _start(driver, "fail", initial_interval_s=backoff_s)
    # when: attempt 1 times out (the server lists the retry, attempt 2, from then on:
    # scheduled, in backoff)
    await driver.wait_attempt(started, 2)
    # and the agent fails now, and Stigma fails the activity by the old token
    await driver.release([started])
    await driver.wait_stigma_activity_closed(started, contract.NAMES.stigma_fail_activity)
    await driver.outcome(started)
    # The old call landed before the retry started, by the server's own clock (a Zigflow
    # that ignores the backoff hint may have started it first: recorded, judged alike).
    history.measurements["old_call_landed"] = _landed(history, started)
    # then
    holds(
        history,
        exactly_once(history, max_attempts=MAX_ATTEMPTS),
        checkers.superseded_call_recorded(history),
    )


def _landed(history: History, started: Started) -> str:
    """ "backoff" when Stigma's first call by token closed before Zigflow's last attempt
    started (the server's timestamps), else "started"."""
    call = history.calls[started.call_id]
    span = call.zigflow.activities[0] if call.zigflow else None
    act = span.activity_id if span else ""
    kinds = (contract.NAMES.stigma_complete_activity, contract.NAMES.stigma_fail_activity)
    first = min(
        (
            a
            for run in call.stigma_runs.get(act, [])
            for a in run.activities
            if a.activity_type in kinds
        ),
        key=lambda a: a.scheduled_at,
        default=None,
    )
    if span is None or span.started_at is None or first is None or first.closed_at is None:
        return "unknown"
    return "backoff" if first.closed_at < span.started_at else "started"


# Long enough for the retry's attempt to outlive the harness parking its StartAgent (until
# Stigma's next beat by the old token, up to ~2.5 s after the refusal ends: the SDK's
# retries of a refused beat, then the beat activity's own retry).
HEARTBEAT_TIMEOUT_S = 3.0


# A real server: the time-skipping one answers heartbeats by the timed-out attempt's token
# OK while the retry runs (observed), so the old token never meets NOT_FOUND.
@pytest.mark.stack(real_clock=True)
@pytest.mark.slow(8)  # attempt 1's heartbeat timeout, then the retry's, outlived by beating
async def test_after_a_heartbeat_timeout_the_retry_is_kept_alive_and_gets_the_result_once(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.relay
    assert relay is not None, "the gate's stacks relay StartAgent"
    completions = driver.stack.completion_relay()
    retries = HoldRetries()
    relay.set(retries)
    try:
        # given: an agent at work under a heartbeat timeout, Stigma heartbeating by token
        started = await driver.start(
            plan(
                call_agent(
                    "beaten",
                    succeeds({"raced": True}, hold=True),
                    heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
                    max_attempts=MAX_ATTEMPTS,
                )
            )
        )
        await driver.wait_pending([started])
        old = next(
            r.forwarded_fp or "" for r in relay.log if r.zigflow_workflow_id == started.call_id
        )
        # when: Stigma's heartbeats by attempt 1's token are lost (refused at the relay)
        # until attempt 1 times out by heartbeat; the retry's StartAgent is parked
        async with completions.refuse_heartbeats(history, {old}):
            await driver.wait_attempt(started, 2)
            await retries.arrived()
        # The retry's attempt had started on the server by now (its StartAgent is Zigflow's
        # retry at work): its own heartbeat timeout runs from before this moment.
        retry_started_by = time.time()
        # and Stigma's next heartbeat by the old token meets NOT_FOUND ...
        await eventually(
            lambda: _dead_beat(completions.heartbeats, old),
            timeout_s=driver.timeout_s,
            pending=lambda: "a heartbeat by attempt 1's token answered NOT_FOUND",
        )
        # ... before the retry's token reaches it
        retries.release()
        await driver.wait_pending([started])
    finally:
        retries.release()
        relay.set(None)
    # then: the live attempt is kept alive while the agent works on, past a heartbeat
    # timeout of its own: a beat by the retry's token answered OK later than its heartbeat
    # timeout (and a margin) after the retry had started. The server answers a beat by a
    # timed-out attempt's token NOT_FOUND (see above), so without Stigma's beats by the new
    # token (while parked, and after) that attempt would have timed out by then.
    alive_past = retry_started_by + HEARTBEAT_TIMEOUT_S + 0.5
    new = {r.forwarded_fp for r in relay.log if r.zigflow_workflow_id == started.call_id} - {old}
    beats = await eventually(
        lambda: _live_beats(completions.heartbeats, new, alive_past),
        timeout_s=driver.timeout_s,
        pending=lambda: (
            f"heartbeats by the retry's token over its {HEARTBEAT_TIMEOUT_S:.0f} s heartbeat "
            "timeout, one answered OK past it "
            f"(answers: {[b.answer for b in completions.heartbeats if b.token_fp in new]})"
        ),
    )
    history.measurements["live_attempt_beats"] = beats
    await driver.release([started])
    await driver.outcome(started)
    holds(history, exactly_once(history, max_attempts=MAX_ATTEMPTS))


async def _dead_beat(beats: list[Relayed], token_fp: str | None) -> bool | None:
    return True if any(b.token_fp == token_fp and b.answer == "NOT_FOUND" for b in beats) else None


async def _live_beats(
    beats: list[Relayed], token_fps: set[str | None], alive_past_wall: float
) -> int | None:
    """How many heartbeats by these tokens were answered OK, once one of them was
    answered OK after ``alive_past_wall``."""
    ok = [b.wall for b in beats if b.token_fp in token_fps and b.answer == "OK"]
    return len(ok) if ok and max(ok) >= alive_past_wall else None
