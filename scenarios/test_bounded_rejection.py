"""Bounded calls by token: a Temporal that does not answer one of Stigma's calls by
token (a server once answered a malformed token with UNKNOWN only after a long wait,
temporalio/temporal#4054) must cost that call its deadline, not the completion.

The harness plays that server at its relay in front of Temporal: it parks every call
by one token and answers none of them. Stigma must give each call up at its deadline
(at most ``contract.CALL_BY_TOKEN_DEADLINE_MAX_S``), retry within the completion
window, and meanwhile deliver other agents' results: a call that waits holds neither
a worker slot nor the agent's result of another execution. Once the server answers,
the result is delivered once, or the refusal recorded with its code.

The deadline is a gRPC deadline: real time on every server kind. On the time-skipping
server virtual time does not move while Zigflow's activity is pending (its lock), so
the scenarios take the same few real seconds on both kinds; nothing here waits on
Temporal's timers, except Zigflow's StartToClose for the damaged token (virtual time on
the time-skipping server, 3 real seconds on a real one). Where the kinds differ: the
damaged token's refusal is INVALID_ARGUMENT on a real server, INTERNAL on the
time-skipping one (which the SDKs' clients retry for their own short window first);
both are "token rejected".

Measured (reference Stigma before this bound): Python's SDK gives a call by token a
30 s deadline by default, Java's 10 s; the references set 3 s."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from harness import contract
from harness.drive.driver import Driver, Started
from harness.drive.plan import call_agent, plan, succeeds
from harness.errors import WaitTimeout
from harness.judge import checkers, token_calls
from harness.judge.expect import holds
from harness.judge.invariants import damaged_token_resolved, exactly_once
from harness.links.completion_relay import Held
from harness.links.tamper import TokenTamper, rewrite
from harness.observe.history import History

pytestmark = [pytest.mark.scenario, pytest.mark.stack(chaos=True)]

# How long past its deadline the harness waits for Stigma to give a call up and call
# again: the contract's bound on the retry, plus scheduling on a loaded 2-core machine.
SLACK_S = contract.CALL_BY_TOKEN_RETRY_WITHIN_S + 2.0
WAIT_S = contract.CALL_BY_TOKEN_DEADLINE_MAX_S + SLACK_S


async def _given_up_and_called_again(held: Held, history: History) -> None:
    """Until Stigma has given up the first parked call and called again by the same
    token (parked too); a Stigma that never does is judged by ``call_by_token_bounded``
    from what the relay recorded, not by this wait."""
    try:
        await held.abandoned(1, timeout_s=WAIT_S)
        await held.arrived(2, timeout_s=WAIT_S)
    except WaitTimeout as err:
        history.measurements["held_call_wait"] = str(err)


async def _meanwhile(driver: Driver, other: Started) -> bool:
    """The other call's outcome, recorded if it comes while the first call is held
    (``other_completions_not_blocked`` reads when). Whether it came."""
    op = await driver.outcome(other, WAIT_S)
    return op.type != "unknown"


# A call's deadline (3 s in the references) passes in real time, then the completion
# activity's retry backoff (1 s): the two tests below, and the refusal's client retry.
@pytest.mark.slow(4)
async def test_a_call_by_token_temporal_never_answers_is_given_up_retried_and_blocks_no_other(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.completion_relay()
    since = time.time()
    # given: Temporal answers none of the calls by one agent's token
    async with relay.hold(history, count=100, same_token=True) as held:
        held_call = await driver.start(plan(call_agent("unanswered", succeeds("held"))))
        await held.arrived(timeout_s=driver.timeout_s)
        # when: another agent finishes while that call waits
        other = await driver.start(plan(call_agent("other", succeeds("free"))))
        came, _ = await asyncio.gather(
            _meanwhile(driver, other), _given_up_and_called_again(held, history)
        )
        # (what the relay saw while the calls were held, not after: a call still waited
        # on is the evidence against a Stigma that never gives one up)
        relay.record(history, since, held)
    # then (Temporal answers again: the parked calls still waited on go on): the other
    # completion went through while the call was held; the held call was given up at
    # its deadline and retried; both resumed once with their agent's result
    await driver.outcomes([held_call] if came else [held_call, other])
    holds(
        history,
        token_calls.call_by_token_bounded(history),
        token_calls.other_completions_not_blocked(history, held_calls={held_call.call_id}),
        exactly_once(history),
        checkers.completion_outcome_is(history, "delivered"),
    )


def _start_to_close(driver: Driver) -> float:
    """Zigflow's StartToClose for a call whose token is no good: one time can pass (a
    day of virtual time), or a few real seconds."""
    return 24 * 3600.0 if driver.clock.can_skip else 3.0


@pytest.mark.slow(5)
@pytest.mark.server_kinds_differ(
    "tokens",
    why="the damaged token's refusal is INTERNAL on the time-skipping server, "
    "INVALID_ARGUMENT on a real one: token_rejected on both",
)
async def test_a_damaged_token_the_server_is_slow_to_refuse_is_recorded_within_the_bound(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    relay = driver.stack.completion_relay()
    since = time.time()
    # given: a token damaged on its way to Stigma, and a server that does not answer the
    # first call by it (then answers the next one at once: a refusal)
    tamper.set(rewrite(lambda token: b"\x0a\x07damaged" + token[: len(token) // 2]))
    async with relay.hold(history, count=1, same_token=True) as held:
        victim = await driver.start(
            plan(
                call_agent(
                    "slow_refusal",
                    succeeds("never"),
                    start_to_close_s=_start_to_close(driver),
                    max_attempts=1,
                )
            )
        )
        await held.arrived(timeout_s=driver.timeout_s)
        # when: Stigma's call waits on the silent server
        try:
            await held.abandoned(1, timeout_s=WAIT_S)
        except WaitTimeout as err:
            history.measurements["held_call_wait"] = str(err)
    # then: Stigma gave the call up at its deadline, called again and recorded the
    # refusal with its code, within the bound of the first call
    tamper.set(None)
    try:
        await driver.settled(victim, timeout_s=WAIT_S, stigma_only=True)
    except WaitTimeout as err:
        history.measurements["held_call_wait"] = str(err)
    relay.record(history, since, held)
    # (Zigflow's StartToClose then passes: virtual time on the time-skipping server)
    if driver.clock.can_skip:
        await driver.clock.advance(timedelta(seconds=_start_to_close(driver) + 60))
    await driver.outcome(victim)
    holds(
        history,
        token_calls.call_by_token_bounded(history),
        damaged_token_resolved(history, damaged_calls={victim.call_id}),
    )
