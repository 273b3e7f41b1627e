"""A retried Zigflow attempt for a key Stigma already runs: the retry's token joins the
running execution; the agent is not started again, in that run or in a new one."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History

pytestmark = pytest.mark.scenario


async def test_a_retry_after_a_lost_ack_reattaches_and_runs_no_second_agent(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.relay
    assert relay is not None, "the gate's stacks relay StartAgent"
    # given: Stigma starts the agent and ACKs, but the ACK is lost on its way to Zigflow
    relay.lose_acks(1)
    try:
        started = await driver.start(plan(call_agent("retried", succeeds("once", hold=True))))
        await driver.wait_agent([started], "held")
        # when: Zigflow's retry (attempt 2, a new token) reaches Stigma and is ACKed
        await driver.wait_attempt(started, 2)
        await driver.wait_pending([started])
    finally:
        relay.lose_acks(0)
    await driver.release([started])
    await driver.outcome(started)
    # then: one agent, in every run of the key's execution, its result delivered once
    # to the live attempt
    holds(history, exactly_once(history, max_attempts=5))
