"""Observability: the services' Prometheus metrics tell the same story as the histories."""

from __future__ import annotations

import pytest

from harness import checkers, metrics_checks
from harness.driver import Driver
from harness.expect import holds
from harness.history import History
from harness.plan import DIRECT, call_agent, fails, plan, succeeds

pytestmark = pytest.mark.scenario


async def test_metrics_agree_with_history(driver: Driver, history: History) -> None:
    # given: the services export metrics (the stack gives each a loopback port)
    if set(driver.stack.metrics) != {"zigflow", "stigma"}:
        pytest.skip("the stack's services export no metrics endpoints")
    plans = [
        plan(call_agent("ok", succeeds(1))),
        plan(call_agent("ok", succeeds(2))),
        plan(call_agent("broken", fails("InvalidDocument", "page 3 unreadable"))),
        plan(call_agent("fire-and-forget", succeeds(3), mode=DIRECT)),
    ]
    # when: a mix of outcomes, with a snapshot of the metrics before and after
    async with metrics_checks.observed(history, driver.stack.metrics):
        started = [await driver.start(p) for p in plans]
        await driver.outcomes(started)
        await driver.agents_delivered(started[:3])
    # then
    holds(history, checkers.every_call_resolved(history))
    holds(history, metrics_checks.metrics_agree_with_history(history))
