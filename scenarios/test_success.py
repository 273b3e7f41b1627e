"""Success path: Zigflow resumes with exactly the agent's result, once."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, echo, plan, succeeds
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History

pytestmark = pytest.mark.scenario


async def test_zigflow_resumes_with_exactly_the_agents_result_once(
    driver: Driver, history: History
) -> None:
    # given: concurrent calls whose agents produce distinct outputs (crossed wires would show)
    plans = [
        plan(call_agent("summarize", succeeds({"call": i, "answer": i * 7}))) for i in range(5)
    ]
    # when
    started = [await driver.start(p) for p in plans]
    await driver.outcomes(started)
    # then
    holds(history, exactly_once(history))


async def test_plan_continues_after_each_handshake(driver: Driver, history: History) -> None:
    # given: a plan with two agent calls (one with a large result) around a plain state
    p = plan(
        call_agent("extract", succeeds("first", result_size=200_000)),
        echo("bookkeeping", {"step": 2}),
        call_agent("review", succeeds({"verdict": "approve"})),
    )
    # when
    op = await driver.run(p)
    # then
    holds(history, exactly_once(history))
    assert op.type == "ok", op.value
    assert [s["status"] for s in op.value["states"]] == ["ok", "ok", "ok"]
