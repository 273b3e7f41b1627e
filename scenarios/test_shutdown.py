"""Shutdown with calls in flight: a rolling deploy's SIGTERM loses nothing.

A service told to stop (SIGTERM, not SIGKILL) while calls are in flight lets them go on
or leaves them to the next process: nothing lost, nothing completed twice, and it exits
by itself within the contract's bound (``contract.SHUTDOWN_BOUND_S``; the harness times
SIGTERM to exit and SIGKILLs past it, as a supervisor would). What was in flight is held
at the harness's relays (seen, not timed): Stigma's completion call by token before
Temporal has it, and a StartAgent whose start Temporal has while Stigma has not heard
so; the harness lets them go on once Stigma has stopped serving.

Runs on a real Temporal server (``stack(real_clock=True)``), as the kill specs do: a
workflow task parked on a stopped worker's sticky queue is moved to the normal queue
after its schedule-to-start timeout, which the time-skipping server does not do.
"""

from __future__ import annotations

import pytest

from harness import contract
from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.faults.processes import stopped
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.judge.shutdown import (
    PENDING,
    START,
    in_flight_kept_over_shutdown,
    stopped_while_result_pending,
    stopped_within_bound,
)
from harness.observe.history import History

pytestmark = [pytest.mark.scenario, pytest.mark.stack(real_clock=True)]

MAX_ATTEMPTS = 5  # a StartAgent whose ACK was lost with the process, and its retries


def _deployed(driver: Driver) -> None:
    if driver.stack.deployed:
        pytest.skip("a deployed target's graceful stop is its own (no hook to time it)")


# The restart, then the stopped worker's sticky queue (the references' 1 s), or (when the
# stopping process did not run it) the first workflow task of the start it finished,
# retried after the references' 3 s workflow task timeout.
@pytest.mark.slow(4)
async def test_stigma_stopped_with_calls_in_flight_loses_nothing_and_exits_in_bound(
    driver: Driver, history: History
) -> None:
    _deployed(driver)
    # given: an agent running (held by the harness), its call pending by token
    running = await driver.start(plan(call_agent("running", succeeds("ran", hold=True))))
    await driver.wait_agent([running], "held")
    async with (
        # and an agent finished, Stigma's completion by its token on its way to Temporal
        driver.completion_held(plan(call_agent("completing", succeeds("done")))) as (
            completing,
            completion,
        ),
        # and a StartAgent whose start is durable, its ACK not yet sent
        driver.start_held(plan(call_agent("starting", succeeds("started"))), at="reply") as (
            starting,
            start,
        ),
        # when: Stigma is told to stop (a rolling deploy)
        stopped(
            driver.stack,
            driver.stack.stigma,
            history,
            in_flight={
                running.call_id: {"kind": "agent", "attempt": 1},
                completing.call_id: {"kind": "completion", "attempt": 1},
                starting.call_id: {"kind": START, "attempt": 1},
            },
        ) as stopping,
    ):
        # and, once it has stopped taking new calls, the calls it had in flight go on
        await stopping.not_serving(driver.stack.stigma_target, contract.STIGMA_SERVICE)
        completion.release()
        start.release()
    # then: it exited within the bound; after its restart the running agent finishes and
    # every call resolves once, the agent run once, no pending attempt ended by the stop
    await driver.release([running])
    await driver.outcomes([running, completing, starting])
    holds(
        history,
        stopped_within_bound(history),
        in_flight_kept_over_shutdown(history),
        exactly_once(history, max_attempts=MAX_ATTEMPTS),
    )


@pytest.mark.slow(4)  # the restart, then the stopped worker's sticky queue (see above)
async def test_zigflow_stopped_with_result_pending_activities_resumes_them(
    driver: Driver, history: History
) -> None:
    _deployed(driver)
    # given: agents pending by token (result-pending activities), held by the harness;
    # Zigflow result-pending on them, not only ACKed (seen on its gauge when it has one)
    before = await driver.zigflow_pending_level()
    started = [
        await driver.start(plan(call_agent("pending", succeeds({"n": i}, hold=True))))
        for i in range(2)
    ]
    await driver.wait_result_pending(started, before)
    # when: Zigflow is told to stop (a rolling deploy), and has exited
    async with stopped(
        driver.stack,
        driver.stack.zigflow,
        history,
        in_flight={s.call_id: {"kind": PENDING, "attempt": 1} for s in started},
    ) as stopping:
        await stopping.exited()
        _, stopped_wall = history.now()
        # and the agents finish while it is down: Stigma's completions by token land
        await driver.release(started)
        for s in started:
            await driver.call_by_token_after(s, stopped_wall)
    # then: the restarted Zigflow resumes each call with its agent's result, in the
    # attempt that was pending: the stop failed, cancelled or retried none
    await driver.outcomes(started)
    holds(
        history,
        stopped_while_result_pending(history),
        stopped_within_bound(history),
        in_flight_kept_over_shutdown(history),
        exactly_once(history),
    )
