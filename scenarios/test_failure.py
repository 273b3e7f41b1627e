"""Failure path: the agent's error reaches Zigflow by token, once, without a retry storm."""

from __future__ import annotations

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, fails, plan, succeeds
from harness.judge import checkers, metrics_checks
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.links.completion_relay import Relayed
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
    holds(history, exactly_once(history))
    assert all(op.type == "fail" for op in ops), [op.value for op in ops]
    # each failure counted once, by its error type's outcome, and the failed agents no
    # longer counted running or pending (or: metrics not checked)
    holds(history, await observed.judged(), await observed.gauges_settled())


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


async def test_a_failure_whose_reply_was_lost_is_recognised_as_delivered_not_a_dead_token(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.completion_relay()
    # given: an agent that fails, and Stigma's fail-by-token call parked at the harness's
    # relay after Temporal took it (Zigflow's activity has failed) and before Stigma hears
    p = plan(call_agent("reply-lost", fails("QuotaExceeded", "model quota exhausted")))
    async with driver.completion_held(p, at="reply", then_forward=False) as (started, held):
        # when: that reply is lost (leaving this block drops it): Stigma's client retries
        # the call, and Temporal answers the retry NOT_FOUND, its own failure being there
        pass
    op = await driver.outcome(started)
    # then: the window was hit as intended: the call landed, and its retry met NOT_FOUND
    lost = held.calls[0]
    assert isinstance(lost, Relayed)
    answers = [c.answer for c in relay.completions if c.token_fp == lost.token_fp]
    assert answers[:2] == ["reply_dropped", "NOT_FOUND"], (
        f"calls by this token answered {answers}: expected the landed call's reply dropped, "
        "then a retry answered NOT_FOUND (the fault did not hit the window it targets)"
    )
    # and Zigflow failed once with the agent's error, and Stigma, reading Zigflow's own
    # history, records the failure as delivered earlier: not a dead token, not retried on
    assert op.type == "fail", op.value
    holds(
        history,
        exactly_once(history),
        checkers.completion_outcome_is(history, "delivered_earlier"),
    )
