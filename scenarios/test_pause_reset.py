"""An operator pauses, unpauses or resets Zigflow's pending agent activity.

Temporal lets an operator pause, unpause or reset a running activity (``temporal
activity pause|unpause|reset``; the API's PauseActivity, UnpauseActivity, ResetActivity).
For an activity completed asynchronously, the holder of the token hears of it only
through a heartbeat's answer: ``activity_paused`` or ``activity_reset`` set, with
``cancel_requested`` not set. What the dev server does (observed, Temporal CLI 1.9.1,
server 1.32.0), for a running attempt:

- pause: the pending activity is listed PAUSE_REQUESTED, paused; heartbeats by the token
  are answered OK with ``activity_paused``; a completion by that token is taken
  (scheduled, started, completed) and the workflow gets the result;
- unpause: the flags clear; a completion by the token is taken;
- reset (with or without ``reset_heartbeat``): no new attempt while it runs; heartbeats
  are answered ``activity_reset``; a completion by the old token is taken;
- a cancellation reported by the token after a pause or a reset (no cancellation was
  requested) is refused INVALID_ARGUMENT.

So neither is a cancellation: Stigma keeps the agent, keeps heartbeating, and delivers
its result by the same token, once. The SDKs raise one error for all three flags
(Python's AsyncActivityCancelledError; Java's manual completion client its
ActivityCompletionException family), and both reference Stigmas took a pause or a reset
for a cancellation: Python's stopped the agent and reported a cancellation that the
server refused, leaving Zigflow's activity to its timeout (fixed); Java's took the
answer for a transient error (fixed).

The time-skipping server does not implement these calls (UNIMPLEMENTED): these specs
run on a real server (``stack(real_clock=True)``). Each holds its agent until Stigma's
heartbeats after the operator's action have been seen at the relay in front of
Temporal, then releases it: no timeout is waited out.
"""

from __future__ import annotations

import time

import pytest

from harness.drive.driver import Driver, Started
from harness.drive.plan import call_agent, plan, succeeds
from harness.judge import token_calls
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.links.completion_relay import HEARTBEAT
from harness.observe.history import History

pytestmark = [pytest.mark.scenario, pytest.mark.stack(real_clock=True)]

# Stigma beats every third of it: beats come often, and a Stigma that stops beating is
# seen stopping within a beat or two (no wait on the timeout itself).
HEARTBEAT_TIMEOUT_S = 2.0


async def _pending(driver: Driver, name: str) -> Started:
    started = await driver.start(
        plan(
            call_agent(
                name,
                succeeds({"kept": name}, hold=True),
                heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
                max_attempts=1,
            )
        )
    )
    await driver.wait_pending([started])
    return started


async def _beats_on(
    driver: Driver, started: Started, action_wall: float, flags: tuple[str, ...], since: float
) -> float:
    """Until Stigma's next heartbeat by the token after the action has been answered
    with ``flags`` (and no cancellation requested), and Stigma's next call by it after
    that; returns that answer's wall time. A Stigma whose next call is not a heartbeat
    (it took the answer for a cancellation) is judged at once: what it did is the
    evidence."""
    told = await driver.call_by_token_after(started, action_wall, heartbeat_flags=flags)
    after = await driver.call_by_token_after(started, told.wall)
    if after.method != HEARTBEAT:
        driver.record_calls_by_token(since)
        holds(driver.history, token_calls.operator_pause_is_not_cancel(driver.history))
    return told.wall


async def _delivered(driver: Driver, history: History, started: Started, since: float) -> None:
    """Release the agent; Zigflow resumes with its result, once, by the same token."""
    await driver.release([started])
    await driver.outcome(started)
    driver.record_calls_by_token(since)
    holds(
        history,
        exactly_once(history),
        token_calls.operator_pause_is_not_cancel(history),
    )


async def test_a_paused_activity_keeps_its_agent_and_gets_the_result_once(
    driver: Driver, history: History
) -> None:
    since = time.time()
    # given: a pending agent at work, Stigma heartbeating by token
    started = await _pending(driver, "paused")
    # when: an operator pauses Zigflow's activity
    paused = await driver.pause_zigflow_activity(started)
    # then: Stigma heard "paused" (no cancellation) on a heartbeat and beat on
    await _beats_on(driver, started, paused, ("paused",), since)
    # and the agent, still running, delivers its result by the same token
    await _delivered(driver, history, started, since)


async def test_an_unpaused_activity_keeps_its_agent_and_gets_the_result_once(
    driver: Driver, history: History
) -> None:
    since = time.time()
    # given: a pending agent whose Zigflow activity an operator paused, Stigma beating on
    started = await _pending(driver, "unpaused")
    paused = await driver.pause_zigflow_activity(started)
    told = await _beats_on(driver, started, paused, ("paused",), since)
    # when: the operator unpauses it
    unpaused = await driver.unpause_zigflow_activity(started)
    # then: Stigma's heartbeats are answered without "paused" again (its next call by
    # the token, beat or result, is judged with the rest)
    await driver.call_by_token_after(started, max(unpaused, told), heartbeat_flags=())
    await _delivered(driver, history, started, since)


async def test_a_reset_activity_keeps_its_agent_and_gets_the_result_once(
    driver: Driver, history: History
) -> None:
    since = time.time()
    # given: a pending agent at work, Stigma heartbeating by token
    started = await _pending(driver, "reset")
    # when: an operator resets Zigflow's activity, its heartbeat details too (the server
    # answers the same without them: no new attempt while this one runs)
    reset = await driver.reset_zigflow_activity(started, reset_heartbeat=True)
    # then: Stigma heard "reset" (no cancellation) and beat on
    await _beats_on(driver, started, reset, ("reset",), since)
    await _delivered(driver, history, started, since)
