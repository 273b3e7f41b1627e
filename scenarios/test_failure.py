"""Failure path: the agent's error reaches Zigflow by token, once, without a retry storm."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, fails, plan, succeeds
from harness.judge import checkers, metrics_checks
from harness.judge.expect import holds
from harness.observe.history import History

pytestmark = pytest.mark.scenario


async def test_agent_failure_fails_zigflow_activity_with_its_type_and_message(
    driver: Driver, history: History
) -> None:
    # given: agents that fail with their own error types
    plans = [
        plan(call_agent("quota", fails("QuotaExceeded", "model quota exhausted for tenant t-7"))),
        plan(call_agent("parse", fails("InvalidDocument", "page 3: unreadable table"))),
    ]
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    # when
    ops = await driver.outcomes([await driver.start(p) for p in plans])
    # then
    holds(
        history,
        checkers.every_call_resolved(history),
        checkers.agent_failure_propagated(history),
    )
    assert all(op.type == "fail" for op in ops), [op.value for op in ops]
    # each failure counted once, by its error type's outcome (or: metrics not checked)
    holds(history, await observed.judged())


async def test_a_request_stigma_refuses_fails_at_once_and_is_not_retried(
    driver: Driver, history: History
) -> None:
    # given: an agent id Stigma's contract refuses (INVALID_ARGUMENT: a permanent
    # rejection), under the plan's default retry policy (5 attempts), so that a Zigflow
    # treating it as transient would visibly retry
    p = plan(call_agent("refused", succeeds("never runs"), agent_id="not a valid id!"))
    # when
    op = await driver.run(p)
    # then: failed on the first attempt, non-retryable, the refusal in the workflow's
    # failure chain
    holds(
        history,
        checkers.every_call_resolved(history),
        checkers.permanent_rejection_not_retried(history),
    )
    assert op.type == "fail", op.value
