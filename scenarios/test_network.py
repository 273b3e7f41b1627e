"""Network chaos with real Toxiproxy on every link.

The services reach each other only through proxies (``stack(chaos=True)``):
stigma_grpc (Zigflow -> Stigma), zigflow_temporal, stigma_temporal. A lost ACK
or a lost completion reply is where designs like this run an agent twice or
lose its result; these specs make such faults routine.
"""

from __future__ import annotations

import contextlib
import random
import time

import pytest

from harness import contract
from harness.drive.driver import Driver, Started
from harness.drive.plan import DIRECT, activity_id, call_agent, fails, plan, succeeds
from harness.judge import checkers, metrics_checks
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.links.completion_relay import Relayed
from harness.links.network import LINKS, STREAMS, Network
from harness.observe import failures, metrics
from harness.observe.failures import Failure
from harness.observe.history import History
from harness.waits import eventually, hold_for

pytestmark = [pytest.mark.scenario, pytest.mark.stack(chaos=True)]


async def _earlier_attempt_failure(started: Started) -> Failure:
    """The failure of the agent activity's previous attempt, as the server reports it
    for the pending activity (the structured Failure, not its message)."""
    want = activity_id(0, started.plan["states"][0])
    desc = await started.handle.describe()
    for pending in desc.raw_description.pending_activities:
        if pending.activity_id == want:
            return failures.from_proto(pending.last_failure)
    return Failure()


@pytest.mark.slow(6)
async def test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal(
    driver: Driver, network: Network, history: History
) -> None:
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    # given: the Zigflow -> Stigma link is down
    async with network.down(history, "stigma_grpc"):
        # when: Zigflow calls an agent
        started = await driver.start(plan(call_agent("a", succeeds("after heal"))))
        # then (meanwhile): the attempt failed fast as retryable instead of going pending
        retry = await driver.wait_attempt(started, 2)
        earlier = await _earlier_attempt_failure(started)
    await driver.outcome(started)
    # Judged by Temporal's record, not by what Zigflow calls the error: attempt 2 was
    # reached while the link was down, after a failure that was not a timeout.
    assert retry["attempt"] >= 2, retry
    holds(
        history,
        checkers.retried_after_failing_fast(history, observed={started.call_id: earlier}),
        exactly_once(history, max_attempts=5),
    )
    # counters count calls, not attempts: one completed, no failure for the failed
    # attempts; no failed attempt left counted pending (or: metrics not checked)
    await driver.agents_delivered([started])
    holds(history, await observed.judged(), await observed.gauges_settled())


async def test_latency_jitter_and_slicing_on_every_link_keep_the_handshake_correct(
    driver: Driver, network: Network, history: History, chaos_rng: random.Random
) -> None:
    # given: a seeded schedule of latency with jitter (both ways) and slicing on every link
    async with contextlib.AsyncExitStack() as faults:
        for link in LINKS:
            for stream in STREAMS:
                await faults.enter_async_context(
                    network.toxic(
                        history,
                        link,
                        "latency",
                        stream=stream,
                        latency=chaos_rng.randint(5, 60),
                        jitter=chaos_rng.randint(0, 30),
                    )
                )
            await faults.enter_async_context(
                network.toxic(
                    history,
                    link,
                    "slicer",
                    stream="downstream",
                    average_size=chaos_rng.randint(16, 256),
                    size_variation=8,
                    delay=chaos_rng.randint(0, 500),
                )
            )
        # when: concurrent calls, successes and failures mixed
        plans = [
            plan(call_agent(f"c{i}", succeeds({"i": i}, result_size=chaos_rng.choice([0, 10_000]))))
            for i in range(4)
        ]
        plans.append(plan(call_agent("f", fails("Flaky", "scripted failure"))))
        ops = await driver.outcomes([await driver.start(p) for p in plans])
    # then
    assert [op.type for op in ops] == ["ok"] * 4 + ["fail"], [op.value for op in ops]
    holds(history, exactly_once(history))


@pytest.mark.slow(5)
async def test_zigflow_cut_off_from_temporal_resumes_after_heal(
    driver: Driver, network: Network, history: History
) -> None:
    # given: agents pending by token
    started = [
        await driver.start(plan(call_agent("p", succeeds({"n": i}, hold=True)))) for i in range(3)
    ]
    await driver.wait_pending(started)
    # when: the Zigflow worker loses Temporal while the agents finish and complete
    async with network.down(history, "zigflow_temporal"):
        await driver.release(started)
        await driver.agents_delivered(started)
        await hold_for(3.0, "a cut long enough for the worker's polls to fail and back off")
    # then: the agents were unaffected, and Zigflow resumes once the link heals
    await driver.outcomes(started)
    holds(history, exactly_once(history))


async def test_ack_lost_after_stigma_started_the_agent_one_run_reaches_the_live_attempt(
    driver: Driver, network: Network, history: History
) -> None:
    # given: an established Zigflow -> Stigma connection (a direct call opens it: with
    # replies dropped, a new HTTP/2 connection could not even finish its handshake)
    await driver.run(plan(call_agent("warm-up", succeeds(None), mode=DIRECT)))
    # and Stigma's replies to Zigflow are dropped; its requests get through
    async with network.toxic(history, "stigma_grpc", "timeout", stream="downstream", timeout=0):
        started = await driver.start(plan(call_agent("acked", succeeds("once", hold=True))))
        await driver.wait_agent_running([started])  # no ACK reached Zigflow
        # when: Zigflow's attempt gives up on the ACK, and the agent finishes before any
        # retry can reach Stigma (its first delivery, to the dead token, answers NOT_FOUND)
        async with network.down(history, "stigma_grpc"):
            await driver.wait_attempt(started, 2)
            await driver.release([started])
            await driver.wait_stigma_activity_closed(
                started, contract.NAMES.stigma_complete_activity
            )
    # then: after the heal a retried attempt re-attaches a live token; one run, delivered once
    await driver.outcome(started)
    holds(
        history,
        exactly_once(history, max_attempts=5),
        checkers.redelivered_to_live_attempt(history),
    )


@pytest.mark.slow(3)  # Stigma's client retry window (0.8 s in the references), then its retry
async def test_completion_link_down_past_the_sdk_retry_window_completes_once_after_heal(
    driver: Driver, network: Network, history: History
) -> None:
    relay = driver.stack.completion_relay()
    stigma_metrics = driver.stack.metrics.get("stigma")
    transient_before = await _transient_calls(stigma_metrics)
    since = time.time()

    def into_dead_link() -> list[str]:
        return [c.answer for c in relay.completions if c.wall >= since and not c.own_task]

    # given: an agent that finished, Stigma's completion call in flight (parked at the
    # harness's relay in front of Temporal; Stigma reaches Temporal through the relay,
    # then the link, so the relay sees every call Stigma makes into the dead link)
    async with (
        driver.completion_held(plan(call_agent("late", succeeds("v")))) as (started, held),
        # when: Stigma loses Temporal, and its call goes on into the dead link ...
        network.down(history, "stigma_temporal"),
    ):
        held.release()
        # ... for longer than its client retries one call, whatever that window is (the
        # SDK's ~10 s by default, the reference Stigmas' 0.8 s): until the error has come
        # out of the client into Stigma's code. Crossed by what Stigma observed, not by a
        # wall-clock guess at its window: its worker reporting the completion activity's
        # attempt failed (the report reaches the relay, and meets the dead link too), or,
        # sooner, Stigma counting the call transient (stigma_completion_calls_total
        # {outcome="transient"}, where it exports it; its worker's report first waits
        # out the SDK's own retries of the attempt's last heartbeat).
        seen = await eventually(
            lambda: _out_of_the_client(relay.completions, since, stigma_metrics, transient_before),
            timeout_s=driver.timeout_s,
            pending=lambda: (
                "Stigma to take its completion call as failed while Temporal is unreachable "
                "(its worker reporting the completion activity's attempt failed, or its "
                "metrics counting the call transient; its calls by token into the dead "
                f"link: {into_dead_link()})"
            ),
        )
    history.measurements["completion_call_failed_seen_as"] = seen
    # then: completed exactly once after the heal
    await driver.outcome(started)
    holds(history, exactly_once(history))


async def _transient_calls(address: str | None) -> float | None:
    """Stigma's count of calls by token that failed transiently (None: not exported)."""
    if address is None:
        return None
    try:
        samples = await metrics.scrape(address, timeout_s=2.0)
    except OSError:
        return None
    return metrics.total(
        samples, metrics_checks.STIGMA_DELIVERIES, kind="complete", outcome="transient"
    )


async def _out_of_the_client(
    calls: list[Relayed], since_wall: float, stigma_metrics: str | None, before: float | None
) -> str | None:
    """How Stigma was seen to take a call by token as failed since ``since_wall``: its
    worker reporting an activity task of its own failed (at the relay), or its metrics
    counting a transient call; None while neither."""
    if any(
        c.own_task and c.method == "RespondActivityTaskFailed" and c.wall >= since_wall
        for c in calls
    ):
        return "attempt_failed_reported"
    if before is not None:
        now = await _transient_calls(stigma_metrics)
        if now is not None and now > before:
            return "counted_transient"
    return None


async def test_completion_reply_lost_is_recognised_not_a_duplicate_or_a_false_failure(
    driver: Driver, network: Network, history: History
) -> None:
    # given: Stigma's completion call in flight (parked at the harness's relay)
    async with (
        driver.completion_held(plan(call_agent("reply", succeeds("v")))) as (started, held),
        # when: the completion reaches Temporal but its reply (all replies) to Stigma is lost
        network.toxic(history, "stigma_temporal", "timeout", stream="downstream", timeout=0),
    ):
        held.release()
        await driver.wait_zigflow_activity_closed(started)
    # then: the retried call's NOT_FOUND is recognised from Zigflow's history as our own
    # earlier delivery: no duplicate, no false failure, and the record says so
    await driver.outcome(started)
    holds(
        history,
        exactly_once(history),
        checkers.completion_outcome_is(history, "delivered_earlier"),
    )


async def test_calls_by_token_refused_past_the_client_retry_window_are_retried_and_delivered_once(
    driver: Driver, history: History
) -> None:
    relay = driver.stack.completion_relay()
    # given: Temporal refuses Stigma's calls by token UNAVAILABLE, and only those: its
    # worker stays connected (polls, heartbeats, reports on its own activities pass)
    async with relay.refuse_calls_by_token(history) as refusal:
        # when: an agent finishes, and its completion meets the refusal for longer than
        # the Temporal client retries one call. The Python SDK (1.35) retries UNAVAILABLE
        # on RespondActivityTask{Completed,Failed,Canceled} for up to 10 s / 10 retries
        # by default (sdk-core crates/client/src/retry.rs: RetryOptions' defaults, Code::
        # Unavailable in RETRYABLE_ERROR_CODES; temporalio/client/_impl.py calls these
        # with retry=True); the reference Stigmas narrow it to 0.8 s. Whatever a Stigma's
        # window, the refusal lasts until its completion activity's first attempt is
        # over: the error has then come out of the client into Stigma's own code.
        started = await driver.start(plan(call_agent("refused", succeeds("v"))))
        await refusal.arrived()
        await driver.wait_stigma_attempt_over(started, contract.NAMES.stigma_complete_activity)
    # then: Zigflow resumed once with the agent's result, on its first attempt; Stigma
    # recorded the completion delivered (retried, not taken for a dead token)
    await driver.outcome(started)
    holds(
        history,
        exactly_once(history),
        checkers.completion_outcome_is(history, "delivered"),
    )
    # and the refusal hit the calls it targets: every call by that token refused until
    # one went through, once
    answers = [c.answer for c in relay.completions if c.token_fp == refusal.calls[0].token_fp]
    refused = f"refused:{refusal.code.name}"
    expected = [refused] * (len(answers) - 1) + ["OK"]
    assert answers == expected, (
        f"calls by this token answered {answers}: expected {refused} until one call delivered, once"
    )
