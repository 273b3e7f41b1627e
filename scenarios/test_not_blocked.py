"""Not blocked: agents pending by token hold no worker slot."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.judge import checkers
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History

pytestmark = pytest.mark.scenario

AGENTS = 50  # on a Zigflow worker with 2 activity slots (the stack's default)


async def test_fifty_pending_agents_do_not_block_a_two_slot_worker(
    driver: Driver, history: History
) -> None:
    assert driver.stack.config.zigflow_max_concurrent_activities == 2
    # given: 50 agents that stay running until released
    started = [
        await driver.start(plan(call_agent("hold", succeeds({"n": i}, hold=True))))
        for i in range(AGENTS)
    ]
    await driver.wait_pending(started)
    # when: the same worker is asked for more agent calls while all 50 are pending
    probe = await driver.run(
        plan(*(call_agent(f"probe-{i}", succeeds({"probe": i})) for i in range(3))), f="probe"
    )
    await driver.release(started)
    await driver.outcomes(started)
    # then
    assert probe.type == "ok", probe.value
    holds(
        history,
        exactly_once(history),
        checkers.worker_not_blocked(history, pending_at_least=AGENTS),
    )
