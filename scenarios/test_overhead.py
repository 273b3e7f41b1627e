"""Handshake overhead samples for the report (no timed assertion: the gate judges
correctness; `make certify` judges the budget from these samples)."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.judge import checkers
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History

pytestmark = pytest.mark.scenario

SEQUENTIAL_CALLS = 30


async def test_sequential_handshakes_are_measured(driver: Driver, history: History) -> None:
    # given: trivial agents, one at a time, so each sample is one handshake alone
    for i in range(SEQUENTIAL_CALLS):
        # when
        await driver.run(plan(call_agent("noop", succeeds(i))))
    # then: every handshake is correct and yields an overhead sample
    holds(history, exactly_once(history))
    samples = checkers.overhead_samples_ms(history)
    assert len(samples) == SEQUENTIAL_CALLS, f"{len(samples)} samples for {SEQUENTIAL_CALLS} calls"
    assert all(s >= 0 for s in samples), f"negative overhead means a broken trace: {samples}"
