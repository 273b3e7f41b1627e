"""Crash points inside StartAgent: received -> durable start -> ACK.

The harness owns Stigma's hop to Temporal (``harness/links/completion_relay.py``), so it
can stop Stigma's start exactly where a crash hurts: before Temporal has the
workflow, after Temporal has it and before Stigma hears so, or refused outright
by Temporal. Whatever the window, nothing is lost, no agent runs twice, and
Zigflow's activity resolves with the agent's result. After every scenario the
harness also checks that no ACK went back before its start was durable
(``harness.judge.relay_checks``).

The kills run on a real Temporal server (``stack(real_clock=True)``), as the other kill
specs do.
"""

from __future__ import annotations

import grpc
import pytest

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.faults.processes import killed
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History

pytestmark = pytest.mark.scenario

MAX_ATTEMPTS = 5  # the attempt the crash broke, and its retries


@pytest.mark.stack(real_clock=True)
async def test_stigma_killed_before_its_start_is_durable_loses_nothing(
    driver: Driver, history: History
) -> None:
    # given: StartAgent received, Stigma's start of the agent's workflow on its way
    p = plan(call_agent("before", succeeds("once")))
    async with (
        driver.start_held(p, at="request") as (started, _),
        # when: Stigma dies before Temporal has the workflow
        killed(driver.stack, driver.stack.stigma, history),
    ):
        pass
    # then: Zigflow's retry reaches the restarted Stigma; one agent, one result
    await driver.outcome(started)
    holds(history, exactly_once(history, max_attempts=MAX_ATTEMPTS))


# The first workflow task, lost with Stigma, is retried after its timeout: the 3 s the
# references start their executions with (the contract's recommendation; the server's
# default is 10 s, within the outcome's timeout).
@pytest.mark.slow(4)
@pytest.mark.stack(real_clock=True)
async def test_stigma_killed_after_its_durable_start_before_the_ack_runs_the_agent_once(
    driver: Driver, history: History
) -> None:
    # given: Temporal has started the agent's workflow, Stigma has not heard so yet
    p = plan(call_agent("after", succeeds("once")))
    async with (
        driver.start_held(p, at="reply") as (started, _),
        # when: Stigma dies before it can ACK
        killed(driver.stack, driver.stack.stigma, history),
    ):
        pass
    # then: the retried attempt finds the running agent (no second run) and its
    # result reaches the live attempt
    await driver.outcome(started)
    holds(history, exactly_once(history, max_attempts=MAX_ATTEMPTS))


async def test_a_start_temporal_refuses_is_never_acked_and_the_retry_runs_the_agent(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.completion_relay()
    # given: Temporal refuses Stigma's next start (not a code any SDK retries itself)
    async with relay.refuse_starts(history, grpc.StatusCode.PERMISSION_DENIED):
        # when: Zigflow calls an agent
        started = await driver.start(plan(call_agent("refused", succeeds("once"))))
        await driver.wait_attempt(started, 2)
    # then: the refused attempt got no ACK (checked after the scenario), the retry ran
    # the agent once, and Zigflow has its result
    assert relay.refused(), "no start reached the relay to be refused"
    await driver.outcome(started)
    holds(history, exactly_once(history, max_attempts=MAX_ATTEMPTS))
