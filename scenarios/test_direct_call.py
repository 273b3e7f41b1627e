"""Direct call (no token): the behaviour from before the handshake is kept."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver, agent_finished
from harness.drive.plan import DIRECT, call_agent, plan, succeeds
from harness.judge import checkers
from harness.judge.expect import holds
from harness.observe.history import History

pytestmark = pytest.mark.scenario


async def test_direct_call_moves_on_at_ack_and_agent_still_runs_to_its_end(
    driver: Driver, history: History
) -> None:
    # given: an agent held running until the harness releases it
    p = plan(call_agent("legacy", succeeds({"legacy": True}, hold=True), mode=DIRECT))
    # when: Zigflow runs the plan (the agent is still held), then the agent is released
    started = await driver.start(p)
    op = await driver.outcome(started)
    await driver.release([started])
    await agent_finished(driver, started)
    # then
    assert op.type == "ok", op.value
    holds(
        history,
        checkers.every_call_resolved(history),
        checkers.direct_call_moves_on_at_ack(history),
    )
