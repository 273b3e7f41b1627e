"""Restarts: the token is durable in Temporal, so killing either service loses nothing.

Runs on a real Temporal server (``@pytest.mark.stack(real_clock=True)``): see the ``stack``
fixture for why."""

from __future__ import annotations

import pytest

from harness import contract
from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.errors import FaultNotReached
from harness.faults.processes import killed, paused
from harness.judge import checkers, metrics_checks
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.links.tamper import LoseAttempt
from harness.observe.history import History

pytestmark = [pytest.mark.scenario, pytest.mark.stack(real_clock=True)]

RECOVERY_BOUND_S = 30.0  # a bound on a restarted Stigma's recovery, not a measurement


# The restart, then the dead worker's sticky queue: its schedule-to-start timeout (the
# references' 1 s, the contract's recommendation; a service on the Python SDK's default
# waits 10 s, within the outcome's timeout).
@pytest.mark.slow(4)
async def test_stigma_killed_after_ack_before_agent_starts_still_delivers_once(
    driver: Driver, history: History
) -> None:
    # given: agents ACKed and durable in Stigma, held by the harness before their work
    started = [
        await driver.start(plan(call_agent("long", succeeds({"n": i}, hold=True))))
        for i in range(3)
    ]
    await driver.wait_pending(started)
    # when: Stigma dies without any cleanup, comes back, and the agents then finish
    async with killed(driver.stack, driver.stack.stigma, history):
        pass
    t_restarted = history.now()[0]
    await driver.release(started)
    await driver.outcomes(started)
    history.measurements["recovery_s"] = round(history.now()[0] - t_restarted, 2)
    # then
    holds(history, exactly_once(history))


@pytest.mark.slow(4)  # the restart, then the dead worker's sticky queue (see above)
async def test_zigflow_killed_while_agents_pending_resumes_after_restart(
    driver: Driver, history: History
) -> None:
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    # given: agents pending by token, Zigflow result-pending on them (test_shutdown.py)
    before = await driver.zigflow_pending_level()
    started = [
        await driver.start(plan(call_agent("long", succeeds({"n": i}, hold=True))))
        for i in range(3)
    ]
    await driver.wait_result_pending(started, before)
    # when: the Zigflow worker is killed, the agents finish while it is down, then it restarts
    async with killed(driver.stack, driver.stack.zigflow, history):
        await driver.release(started)
        await driver.agents_delivered(started)
    t_restarted = history.now()[0]
    await driver.outcomes(started)
    history.measurements["recovery_s"] = round(history.now()[0] - t_restarted, 2)
    # then: nothing lost, every workflow resumed with its agent's result
    holds(history, exactly_once(history))
    # and the restarted Zigflow counts nothing pending, Stigma nothing running (gauges:
    # counters start afresh in a new process, so only these are judged; or: metrics not
    # checked)
    holds(history, await observed.gauges_settled())


# The plan's heartbeat timeout on the agent call: the one thing that notices an attempt
# whose worker died before any token reached Stigma (nothing heartbeats it, nothing will
# complete it); without one the attempt waits out its StartToClose, the design's 24 h.
LOST_ATTEMPT_HEARTBEAT_TIMEOUT_S = 2.0
MAX_ATTEMPTS = 3
# A bound on the retry's coming, not a measurement: the heartbeat timeout, the retry's
# backoff and the restarted Zigflow's poll, on a loaded machine.
RETRY_BOUND_S = 30.0


@pytest.mark.slow(4)  # the heartbeat timeout, then the retry's backoff, in wall time
async def test_zigflow_killed_before_stigma_had_the_token_retries_after_heartbeat_timeout(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.relay
    assert relay is not None, "the gate's stacks relay StartAgent"
    lost = LoseAttempt(attempt=1)
    relay.set(lost)
    try:
        # given: Zigflow's attempt 1 has sent StartAgent, parked before Stigma
        started = await driver.start(
            plan(
                call_agent(
                    "orphaned",
                    succeeds("after the retry"),
                    heartbeat_timeout_s=LOST_ATTEMPT_HEARTBEAT_TIMEOUT_S,
                    max_attempts=MAX_ATTEMPTS,
                )
            )
        )
        await lost.arrived()
        # when: Zigflow is killed with the call in flight, and the call is lost with it:
        # Stigma never gets attempt 1's token
        async with killed(driver.stack, driver.stack.zigflow, history):
            killed_at = history.faults[-1].wall
            lost.release()
        await driver.wait_attempt(started, 2, timeout_s=RETRY_BOUND_S)
    finally:
        lost.release()
        relay.set(None)
    await driver.outcome(started)
    span = history.calls[started.call_id].zigflow.activities[0]  # type: ignore[union-attr]
    # Attempt 1 times out by heartbeat whether or not Zigflow dies (nothing beats for it
    # while the call is parked), so the kill proves something only if it came first:
    # within the timeout of the activity's scheduling, which precedes its start.
    if killed_at - span.scheduled_at >= LOST_ATTEMPT_HEARTBEAT_TIMEOUT_S:
        raise FaultNotReached(
            f"{history.name}: Zigflow was killed {killed_at - span.scheduled_at:.1f} s after "
            f"attempt 1 was scheduled, past its {LOST_ATTEMPT_HEARTBEAT_TIMEOUT_S:.0f} s "
            "heartbeat timeout: the attempt may have timed out before the kill met it"
        )
    history.measurements["kill_after_schedule_s"] = round(killed_at - span.scheduled_at, 2)
    if span.started_at is not None:  # the retry's start (a real server records it)
        history.measurements["heartbeat_timeout_s"] = LOST_ATTEMPT_HEARTBEAT_TIMEOUT_S
        history.measurements["retry_started_after_kill_s"] = round(span.started_at - killed_at, 2)
    # then: attempt 1 ended by its heartbeat timeout (a fast failure would mean the call
    # ended before the kill, and the kill met nothing), the restarted Zigflow's retry
    # handed Stigma a new token, one agent ran, and the workflow got its result once
    holds(
        history,
        checkers.retried_after_timeout(history, "HEARTBEAT"),
        exactly_once(history, max_attempts=MAX_ATTEMPTS),
    )


async def test_temporal_restarted_mid_agent_accepts_the_token_issued_before(
    driver: Driver, history: History
) -> None:
    if driver.stack.temporal.process is None:
        pytest.skip("an external cluster cannot be restarted by the harness")
    # given: agents pending by tokens issued by this server process
    started = [
        await driver.start(plan(call_agent("long", succeeds({"n": i}, hold=True))))
        for i in range(2)
    ]
    await driver.wait_pending(started)
    # and both agents running (held in the harness): a kill while an agent's task is
    # still being handed to its worker can lose that hand-over on the dev server, and the
    # task then waits out its heartbeat timeout (minutes), which is not what this spec is
    # about
    await driver.wait_agent(started, "held")
    # when: Temporal itself is killed (SIGKILL) and restarted on the same database
    history.fault("start", "kill:SIGKILL", "temporal")
    await driver.stack.restart_temporal()
    history.fault("stop", "kill:SIGKILL", "temporal")
    t_restarted = history.now()[0]
    await driver.release(started)
    await driver.outcomes(started)
    history.measurements["recovery_s"] = round(history.now()[0] - t_restarted, 2)
    # then: the completions with pre-restart tokens succeeded, exactly once
    holds(history, exactly_once(history))


async def test_stigma_killed_before_the_ack_is_retried_with_a_new_token(
    driver: Driver, history: History
) -> None:
    # The harness's StartAgent relay (not on a deployed target) shows the request in
    # Stigma's hands before the kill: its connection to Stigma up before the freeze, the
    # request passed on after it. Otherwise the kill can come before Zigflow has sent it,
    # the restarted Stigma ACKs attempt 1, and the scenario proves nothing.
    relay = driver.stack.relay
    if relay is not None:
        await relay.connected()
    # given: Stigma frozen, so Zigflow's StartAgent reaches it but is never answered
    async with paused(driver.stack.stigma, history):
        started = await driver.start(plan(call_agent("early", succeeds("after retry"))))
        await driver.wait_in_flight(started, contract.NAMES.zigflow_agent_activity, side="zigflow")
        if relay is not None:
            await driver.wait_handed_to_stigma(started, attempt=1)
        # when: Stigma dies before it could ACK (or start anything), then comes back
        async with killed(driver.stack, driver.stack.stigma, history):
            pass
    await driver.outcome(started)
    if relay is not None and driver.acked_by_stigma(started, attempt=1):
        raise FaultNotReached(
            f"{history.name}: Stigma ACKed attempt 1, so the kill did not meet the request "
            "in its hands and the retry with a new token was never exercised"
        )
    # then: Zigflow retried with a new token, one agent ran, the live attempt got it
    holds(history, exactly_once(history, max_attempts=5))


@pytest.mark.slow(4)  # the restart, then the dead worker's sticky queue (see above)
async def test_stigma_killed_mid_agent_delivers_the_agents_result_once(
    driver: Driver, history: History
) -> None:
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    # given: an agent running (in the harness, on Stigma's agent task queue), its
    # Stigma execution waiting for it
    started = await driver.start(plan(call_agent("busy", succeeds("worked", hold=True))))
    await driver.wait_agent([started], "held")
    # when: Stigma is killed, the agent finishes while Stigma is down, Stigma restarts
    async with killed(driver.stack, driver.stack.stigma, history):
        await driver.release([started])
        await driver.wait_agent([started], "finished")
    t_restarted = history.now()[0]
    # The result waits on the killed worker's sticky queue until Temporal moves it to the
    # normal queue after the worker's sticky schedule-to-start timeout (the references'
    # 1 s; the Python SDK's default 10 s): recovery takes that long, within the bound.
    await driver.outcome(started, timeout_s=max(driver.timeout_s, RECOVERY_BOUND_S))
    history.measurements["recovery_s"] = round(history.now()[0] - t_restarted, 2)
    # then: Stigma scheduled the agent with a heartbeat timeout (a lost agent would be
    # noticed) and the agent ran once, to its end, in the harness; the restarted Stigma
    # picked its result up and Zigflow got it once
    holds(
        history,
        checkers.agents_heartbeat_watched(history),
        checkers.agent_ran_once(history),
        exactly_once(history),
    )
    # and the restarted Stigma, which replayed the execution to its end, counts it
    # running no more (or: metrics not checked)
    holds(history, await observed.gauges_settled())


# Stigma's 3 s heartbeat timeout on its completion activity and its 1 s retry backoff,
# then the dead worker's sticky queue (the references' 1 s; SDK defaults 5-10 s)
@pytest.mark.slow(6)
@pytest.mark.parametrize(
    "landed",
    [False, True],
    ids=["before-the-call-landed", "after-the-call-landed"],
)
async def test_stigma_killed_mid_completion_completes_exactly_once(
    driver: Driver, history: History, landed: bool
) -> None:
    # given: an agent that finished, with Stigma's completion call in flight (parked at
    # the harness's relay in front of Temporal: seen, not timed)
    p = plan(call_agent("done", succeeds("result")))
    async with (
        driver.completion_held(p, then_forward=landed) as (started, held),
        # when: Stigma is killed mid-completion (the call then lands on Temporal, or is
        # lost with the process) and restarted
        killed(driver.stack, driver.stack.stigma, history),
    ):
        held.release(forward=landed)
    t_restarted = history.now()[0]
    await driver.outcome(started)
    history.measurements["recovery_s"] = round(history.now()[0] - t_restarted, 2)
    # then: the completion was retried by the new process and Zigflow got it once
    holds(history, exactly_once(history))
