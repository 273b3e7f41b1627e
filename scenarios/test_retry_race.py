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
  The retry's StartAgent is parked until the old call has closed, so a machine too
  loaded to land the old call within the backoff still has Stigma call by the old token
  (then as ``retry-started``), never hand the failure to the retry's token first.
  Where the old call landed, by the server's own timestamps, is recorded
  (``measurements.old_call_landed``: "backoff" in every run on a machine that keeps
  up) and judged alike.

Every case runs in wall time (a 2 s StartToClose) on either server: on the time-skipping
server a virtual-time hop past attempt 1's timeout also carries the retry through its
backoff and start, and past Zigflow's own StartAgent deadline (5 s in the reference) while
the relay holds it. Both servers answered the old calls alike (NOT_FOUND, "invalid
activityID or activity already timed out or invoking workflow is completed").

- ``heartbeat`` (real server): attempt 1 times out by heartbeat (the harness refuses
  Stigma's heartbeats by its token at the relay), the retries' StartAgent calls are
  parked until Stigma's next heartbeat by the old token has met NOT_FOUND *and* the
  parked retry (attempt 2) has timed out by heartbeat in turn (the server lists attempt
  3): Stigma has had that heartbeat timeout to act on the NOT_FOUND before any newer
  token reaches it (no Stigma shows outside that it has acted: a correct one waits for
  the retry's token, calling nothing). Both retries' tokens then arrive, and Stigma must
  heartbeat the live one (attempt 3's) while the agent works on, or that attempt times
  out by heartbeat too. Both reference Stigmas stopped beating at that NOT_FOUND
  (fixed); a token arriving before Stigma acted on the NOT_FOUND hid it. The
  time-skipping server answers heartbeats by the timed-out attempt's token OK while the
  retry runs (observed), so there the old token never meets NOT_FOUND: this case runs
  on a real server only (``@pytest.mark.stack(real_clock=True)``).

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
from harness.links.tamper import HoldRetries, Tampered
from harness.observe.history import History
from harness.waits import eventually

pytestmark = pytest.mark.scenario

# Attempt 1's StartToClose, in wall time on every server: the time-skipping server does
# not skip while the harness holds its clock (and the held agent its activity), and a
# virtual-time hop would carry the retry through its start and past Zigflow's StartAgent
# deadline while the harness holds it. The retry has the same StartToClose, and within it
# the old call must land and close (its StartAgent parked meanwhile) and the retry get the
# result: 1 s left the Java Stigma, on a machine running two gates at once, 10 ms short.
START_TO_CLOSE_S = 2.0
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
    # (None on a deployed target: there nothing is held, and a retry's token that
    # reaches Stigma first fails the race's checker, as it would have here.)
    relay = driver.stack.relay
    # The retry's StartAgent waits at the relay until Stigma's call by the old token has
    # closed. On a machine that keeps up, that call lands in the backoff and nothing is
    # held. On a loaded one, the harness and Stigma may take longer than the backoff to
    # bring the agent's failure to Stigma's call: a retry whose token reached Stigma first
    # would take the failure by the new token, with no call by the old one (the race not
    # run; seen once in a loaded gate run). Held, the old call lands after the retry
    # started, before its token reached Stigma: recorded (``old_call_landed``), judged alike.
    retries = HoldRetries()
    if relay is not None:
        relay.set(retries)
    try:
        # given: an agent still working when attempt 1 times out; the retry waits out a
        # backoff of backoff_s (the plan's hint)
        started = await _start(driver, "fail", initial_interval_s=backoff_s)
        # when: attempt 1 times out (the server lists the retry, attempt 2, from then on:
        # scheduled, in backoff)
        await driver.wait_attempt(started, 2)
        # and the agent fails now, and Stigma fails the activity by the old token
        await driver.release([started])
        await driver.wait_stigma_activity_closed(started, contract.NAMES.stigma_fail_activity)
    finally:
        retries.release()
        if relay is not None:
            relay.set(None)
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


# The case waits out three of these in wall time (attempts 1 and 2 time out, 3 outlives
# its own), so it is as short as the property allows. Stigma beats every third of it
# (the contract): 0.67 s apart, or about 1.05 s on a server whose timers fire up to 1 s
# late (a cluster's default; the harness's dev server fires them on time), which leaves
# each beat's round trip ~0.9 s of the timeout, as in test_heartbeats.py. Stigma's next
# beat by attempt 1's token meets NOT_FOUND (measured, ``dead_beat_lead_s``) 0.1-0.5 s
# after the refusal ends (the refused beat is still in its client's retry, 100-500 ms
# apart), so 1 s or more before the parked retry (attempt 2) times out in turn and its
# token is let through: a Stigma acts on an answer within a workflow task (tens of ms).
# At 3 s the case took 10-13 s; the property is the same at any timeout with these
# margins.
HEARTBEAT_TIMEOUT_S = 2.0
# Attempt 1 times out by heartbeat (its beats refused), attempt 2 while parked before
# Stigma (nobody holds its token), attempt 3 is the live one Stigma must keep alive.
HEARTBEAT_ATTEMPTS = 3
# The retry backoff hint (Zigflow's first interval): a Zigflow that ignores it only makes
# the scenario longer.
HEARTBEAT_BACKOFF_S = 0.2


# A real server: the time-skipping one answers heartbeats by the timed-out attempt's token
# OK while the retry runs (observed), so the old token never meets NOT_FOUND.
@pytest.mark.stack(real_clock=True)
@pytest.mark.slow(8)  # three heartbeat timeouts: attempts 1 and 2 time out, 3 outlives its own
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
        call = call_agent(
            "beaten",
            succeeds({"raced": True}, hold=True),
            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
            max_attempts=HEARTBEAT_ATTEMPTS,
        )
        call["initial_interval_s"] = HEARTBEAT_BACKOFF_S
        started = await driver.start(plan(call))
        await driver.wait_pending([started])
        old = next(
            r.forwarded_fp or "" for r in relay.log if r.zigflow_workflow_id == started.call_id
        )
        # when: Stigma's heartbeats by attempt 1's token are lost (refused at the relay)
        # until attempt 1 times out by heartbeat; the retry's StartAgent is parked
        async with completions.refuse_heartbeats(history, {old}):
            await driver.wait_attempt(started, 2)
            await retries.arrived()
        # and Stigma's next heartbeat by the old token meets NOT_FOUND ...
        dead_beat = await eventually(
            lambda: _dead_beat(completions.heartbeats, old),
            timeout_s=driver.timeout_s,
            pending=lambda: "a heartbeat by attempt 1's token answered NOT_FOUND",
        )
        # ... and Stigma has had time to act on that answer before any newer token
        # reaches it. Nothing any Stigma shows outside says it has (a correct one waits
        # for the retry's token, calling nothing; one that gives up calls nothing either),
        # so the hold lasts a server event instead: the parked retry (attempt 2, whose
        # token nobody holds) times out by heartbeat, a heartbeat timeout after it
        # started, and the server lists attempt 3. Released at the NOT_FOUND itself, the
        # retry's token could reach Stigma before it had acted on the answer, and a Stigma
        # that stops beating at a NOT_FOUND while a retry is pending would pass.
        await driver.wait_attempt(started, HEARTBEAT_ATTEMPTS)
        history.measurements["dead_beat_lead_s"] = round(time.time() - dead_beat, 3)
        # Both retries' tokens reach Stigma now (attempt 2's dead, attempt 3's live).
        retries.release()
        live = await eventually(
            lambda: _attempt_start_agent(relay.log, started.call_id, HEARTBEAT_ATTEMPTS),
            timeout_s=driver.timeout_s,
            pending=lambda: f"attempt {HEARTBEAT_ATTEMPTS}'s StartAgent through the relay",
        )
        await driver.wait_pending([started])
    finally:
        retries.release()
        relay.set(None)
    # then: the live attempt is kept alive while the agent works on, past a heartbeat
    # timeout of its own: a beat by its token answered OK later than its heartbeat
    # timeout (and a margin) after its StartAgent reached the relay (the attempt had
    # started on the server by then). The server answers a beat by a timed-out attempt's
    # token NOT_FOUND (see above), so without Stigma's beats by the live token that
    # attempt would have timed out by then.
    alive_past = live.wall + HEARTBEAT_TIMEOUT_S + 0.5
    new = {live.forwarded_fp}
    beats = await eventually(
        lambda: _live_beats(completions.heartbeats, new, alive_past),
        timeout_s=driver.timeout_s,
        pending=lambda: (
            f"heartbeats by the retry's token over its {HEARTBEAT_TIMEOUT_S:g} s heartbeat "
            "timeout, one answered OK past it "
            f"(answers: {[b.answer for b in completions.heartbeats if b.token_fp in new]})"
        ),
    )
    history.measurements["live_attempt_beats"] = beats
    await driver.release([started])
    await driver.outcome(started)
    holds(history, exactly_once(history, max_attempts=HEARTBEAT_ATTEMPTS))


async def _dead_beat(beats: list[Relayed], token_fp: str | None) -> float | None:
    """When a heartbeat by this token was first seen answered NOT_FOUND."""
    return next((b.wall for b in beats if b.token_fp == token_fp and b.answer == "NOT_FOUND"), None)


async def _attempt_start_agent(log: list[Tampered], call_id: str, attempt: int) -> Tampered | None:
    """The StartAgent of this attempt of the call, once the relay forwarded it."""
    return next(
        (
            r
            for r in log
            if r.zigflow_workflow_id == call_id and r.attempt == attempt and r.forwarded_fp
        ),
        None,
    )


async def _live_beats(
    beats: list[Relayed], token_fps: set[str | None], alive_past_wall: float
) -> int | None:
    """How many heartbeats by these tokens were answered OK, once one of them was
    answered OK after ``alive_past_wall``."""
    ok = [b.wall for b in beats if b.token_fp in token_fps and b.answer == "OK"]
    return len(ok) if ok and max(ok) >= alive_past_wall else None
