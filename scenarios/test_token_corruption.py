"""Damaged tokens, class by class: the token is damaged in transit by a relay between
Zigflow and Stigma (``stack(chaos=True)``), parameters drawn by Hypothesis. For every class
Stigma stays up and classifies its completion error (never an endless retry), the
Zigflow activity is resolved (failed, or timed out with its reason), the logs name
the token by fingerprint, and other handshakes are not disturbed.

Both servers answer differently for garbage (time-skipping: INTERNAL; dev:
INVALID_ARGUMENT); the harness classifies both as "token rejected"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from hypothesis import given
from hypothesis import strategies as st
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.service import RPCError, RPCStatusCode

from harness.drive.driver import Driver, Started
from harness.drive.plan import call_agent, plan, succeeds
from harness.drive.strategies import live
from harness.judge import checkers, corruption, log_checks
from harness.judge.checkers import Verdict
from harness.judge.expect import holds
from harness.judge.invariants import damaged_token_resolved, exactly_once
from harness.judge.payload_limit import oversized_result_refused_typed
from harness.links.tamper import StaleAttempt, Swap, TokenTamper, retarget_namespace, rewrite
from harness.observe.history import History
from harness.tokens import fingerprint

pytestmark = [pytest.mark.scenario, pytest.mark.stack(chaos=True)]

Damage = Callable[[bytes], bytes]


def _flip(flips: list[tuple[int, int]]) -> Damage:
    def damage(token: bytes) -> bytes:
        out = bytearray(token)
        for position, bit in flips:
            out[position % len(out)] ^= 1 << bit
        return bytes(out)

    return damage


DAMAGE: dict[str, st.SearchStrategy[Damage]] = {
    "empty": st.just(lambda token: b""),
    "random_bytes": st.binary(min_size=1, max_size=300).map(lambda junk: lambda token: junk),
    "truncated": st.integers(1, 200).map(lambda n: lambda token: token[: max(1, len(token) - n)]),
    "bit_flips": st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 7)), min_size=1, max_size=4
    ).map(_flip),
    "bytes_appended": st.binary(min_size=1, max_size=64).map(lambda extra: lambda t: t + extra),
    "oversized": st.integers(9_000, 200_000).map(lambda n: lambda token: token + b"\0" * n),
}


REJECTED = (
    "token_rejected (INVALID_ARGUMENT on a real server, INTERNAL on the time-skipping "
    "server), recorded once, not retried; Zigflow's activity times out at StartToClose"
)
EXPECTED = {
    "empty": "no token reaches Stigma: served as a direct call, nothing completed by "
    "token; Zigflow's activity times out at StartToClose",
    "random_bytes": REJECTED,
    "truncated": REJECTED,
    "bit_flips": "token_rejected or token_dead (the flip names another activity or "
    "attempt), recorded once; Zigflow's activity times out; or, when the server ignores "
    "the flipped byte, delivered to the right activity",
    "bytes_appended": "token_rejected, or delivered to the right activity when the server "
    "ignores trailing bytes; never delivered elsewhere",
    "oversized": "StartAgent refused with INVALID_ARGUMENT (token over 8192 bytes), "
    "nothing started; Zigflow's activity fails at once with a non-retryable "
    "application failure",
}


# Where the servers differ by design (the report marks these differences expected).
GARBAGE_CODES = (
    "the servers answer a garbage token with different codes: INTERNAL on the "
    "time-skipping server, INVALID_ARGUMENT on a real one"
)
KINDS_DIFFER = {
    "random_bytes": GARBAGE_CODES,
    "truncated": GARBAGE_CODES,
    "bytes_appended": "the time-skipping server ignores trailing bytes (delivered to the "
    "right activity); a real server rejects the token (INVALID_ARGUMENT)",
    "bit_flips": "the flips are drawn at random and each server reads a damaged token its "
    "own way: rejected (INTERNAL or INVALID_ARGUMENT), dead (NOT_FOUND) or delivered",
}


def _kinds(kind: str) -> Any:
    """The class as a parameter, with its declared server-kind difference."""
    if kind not in KINDS_DIFFER:
        return kind
    return pytest.param(
        kind, marks=pytest.mark.server_kinds_differ("tokens", why=KINDS_DIFFER[kind])
    )


def _timeout_s(driver: Driver) -> float:
    return 24 * 3600.0 if driver.clock.can_skip else 3.0


def _victim(driver: Driver, name: str, output: object, max_attempts: int = 1) -> dict[str, Any]:
    """A plan whose one call may lose its token: a StartToClose that time can pass."""
    return plan(
        call_agent(
            name, succeeds(output), start_to_close_s=_timeout_s(driver), max_attempts=max_attempts
        )
    )


async def _resolve(driver: Driver, tamper: TokenTamper, started: Started) -> None:
    """Let a call whose token went bad reach its end: Stigma first (a refused StartAgent,
    oversized, starts nothing), then, the damage switched off, Zigflow's StartToClose
    (virtual time on the time-skipping server; on a real clock the outcome comes when
    it passes, counted from the activity's start, not from here)."""
    await driver.settled(started)
    tamper.set(None)
    if driver.clock.can_skip:
        await driver.clock.advance(timedelta(seconds=_timeout_s(driver) + 60))
    await driver.outcome(started)


def _record(driver: Driver, kind: str, expected: str, started: Started) -> str:
    """One example of corruption class ``kind`` for the report: what was expected, and
    what became of the call's token on this server (returned too)."""
    observed = checkers.token_outcome(driver.history, started.call_id)
    corruption.record(driver.history, kind, expected, observed, driver.stack.temporal.kind)
    return observed


# Stigma's client retries the test server's INTERNAL for its window (0.8 s in the
# references) in each example.
@pytest.mark.slow(2)
@pytest.mark.parametrize("kind", [_kinds(k) for k in sorted(DAMAGE)])
@live(gate_examples=2, nightly_examples=40)
@given(data=st.data())
async def test_damaged_token_is_classified_and_the_activity_resolved(
    kind: str, data: st.DataObject, driver: Driver, tamper: TokenTamper, history: History
) -> None:
    damage = data.draw(DAMAGE[kind], label="damage")
    # given: the token of this call is damaged on its way to Stigma
    tamper.set(rewrite(damage))
    started = await driver.start(_victim(driver, "victim", kind))
    # when: Zigflow's StartToClose passes for a token Stigma could not use
    await _resolve(driver, tamper, started)
    # then
    _record(driver, kind, EXPECTED[kind], started)
    holds(history, damaged_token_resolved(history, damaged_calls={started.call_id}))
    record = tamper.log[-1]
    if kind in ("random_bytes", "truncated") and record.forwarded_fp:
        # Optional evidence: where Stigma logs fingerprints, the rejected one is named.
        holds(
            history,
            log_checks.fingerprint_logged(
                driver.stack.stigma.log_paths,
                record.forwarded_fp,
                (r.forwarded_fp or "" for r in tamper.log),
            ),
        )


async def test_other_handshakes_are_undisturbed_after_damaged_tokens(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    assert tamper is not None
    await driver.run(plan(call_agent("bystander", succeeds({"fine": True}))))
    holds(history, exactly_once(history))


async def test_swapped_tokens_are_detected_as_crossed_wires(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    # given: two concurrent calls whose tokens are swapped in transit
    tamper.set(Swap())
    started = [await driver.start(plan(call_agent("x", succeeds({"from": n})))) for n in ("a", "b")]
    await driver.outcomes(started)
    # then: neither Zigflow accepts the other's result; each fails with a failure of its own
    for s in started:
        _record(
            driver,
            "swapped_between_agents",
            "each Zigflow workflow refuses the other's result with an application failure of "
            "its own; none accepts it",
            s,
        )
    holds(
        history,
        checkers.every_call_resolved(history),
        checkers.crossed_wires_detected(history),
    )


async def test_a_stale_attempts_token_is_dead_and_the_live_attempt_resolves(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    # given: attempt 1 never reaches Stigma; attempt 2 arrives carrying attempt 1's token
    tamper.set(StaleAttempt())
    started = await driver.start(_victim(driver, "stale", "s", max_attempts=2))
    # when
    await _resolve(driver, tamper, started)
    # then
    holds(history, damaged_token_resolved(history, damaged_calls={started.call_id}))
    _record(
        driver,
        "stale_attempt",
        "token_dead (NOT_FOUND), recorded once, not retried; Zigflow's live attempt is "
        "resolved (times out at StartToClose: its own token never reached Stigma)",
        started,
    )
    holds(history, checkers.completion_outcome_is(history, "token_dead"))


async def test_a_token_replayed_after_its_activity_completed_is_dead_not_retried(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    # given: a completed handshake, its token kept
    first = await driver.start(plan(call_agent("once", succeeds("first"))))
    await driver.outcome(first)
    token = driver.forwarded_token(first)
    # when: someone replays that token in a new StartAgent
    replay = await driver.replay_token(token, output=2)
    assert replay.answer.code == grpc.StatusCode.OK, replay.answer
    try:
        summary = await driver.stigma_result(replay)
    except TimeoutError:
        pytest.fail(
            f"{replay.stigma_workflow_id} still open after {driver.timeout_s:.0f}s: the "
            "completion with a replayed (dead) token was not recorded as dead"
        )
    # then: the completion is dead (NOT_FOUND), recorded once, and logged by fingerprint.
    # What Stigma met is in its summary (optional evidence): the execution having closed
    # on its own is all Temporal shows without it.
    completion = summary.get("completion") if isinstance(summary, dict) else None
    if completion is None:
        holds(history, Verdict.not_checked("replayed_token_recorded_dead", checkers.SUMMARY))
        return
    corruption.record(
        history,
        "replayed_after_completion",
        "token_dead (NOT_FOUND), recorded once, not retried",
        f"stigma: {completion['status']} ({completion.get('grpc_code')})",
        driver.stack.temporal.kind,
    )
    assert (completion["status"], completion.get("grpc_code")) == ("token_dead", "NOT_FOUND"), (
        summary
    )
    holds(
        history,
        log_checks.fingerprint_logged(
            driver.stack.stigma.log_paths,
            fingerprint(token),
            (r.forwarded_fp or "" for r in tamper.log),
        ),
    )


async def test_a_result_over_the_payload_limit_is_classified_and_the_activity_resolved(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    real = not driver.clock.can_skip
    # given: a valid token, and an agent whose result is over the cluster's 2 MiB limit
    # (Stigma is told it, STIGMA_MAX_PAYLOAD_BYTES, also on the time-skipping server)
    started = await driver.start(
        plan(
            call_agent(
                "huge",
                succeeds("h", result_size=3 * 1024 * 1024),
                start_to_close_s=60 if real else 24 * 3600,
                max_attempts=1,
            )
        )
    )
    # when
    await driver.outcome(started)
    # then: resolved at once, and both sides say the result did not go: Zigflow's
    # activity failed with ResultTooLarge, Stigma recorded result_too_large (never
    # "delivered": on a real server a completion over the limit answers OK and the
    # server fails the activity itself). scenarios/test_blob_limit.py has the rest.
    _record(
        driver,
        "result_over_payload_limit",
        "stigma: result_too_large; zigflow: failed ResultTooLarge (non-retryable), once",
        started,
    )
    holds(
        history,
        checkers.every_call_resolved(history),
        oversized_result_refused_typed(history, over={started.call_id}),
    )


FOREIGN_NAMESPACE = "handshake-foreign"


async def _foreign_namespace(driver: Driver) -> str:
    """What the token must name to belong to another namespace: the name on the
    time-skipping server, the id (of a namespace registered for this) on a real one."""
    if driver.clock.can_skip:
        return FOREIGN_NAMESPACE
    service = driver.stack.client.workflow_service
    try:
        await service.register_namespace(
            RegisterNamespaceRequest(
                namespace=FOREIGN_NAMESPACE,
                workflow_execution_retention_period=Duration(seconds=86400),
            )
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    described = await service.describe_namespace(
        DescribeNamespaceRequest(namespace=FOREIGN_NAMESPACE)
    )
    return described.namespace_info.id


@pytest.mark.server_kinds_differ(
    "tokens",
    why="the token names the other namespace by name on the time-skipping server and by "
    "id on a real one: the time-skipping server answers it dead (NOT_FOUND) or rejected, a "
    "real server rejects it (INVALID_ARGUMENT)",
)
async def test_a_token_of_another_namespace_is_rejected_and_the_activity_resolved(
    driver: Driver, tamper: TokenTamper, history: History
) -> None:
    own, foreign = driver.stack.namespace, await _foreign_namespace(driver)
    # given: the token arrives naming another namespace of the same cluster
    tamper.set(rewrite(lambda token: retarget_namespace(token, own, foreign)))
    started = await driver.start(_victim(driver, "foreign", "f"))
    # when
    await _resolve(driver, tamper, started)
    # then
    observed = _record(
        driver,
        "another_namespace",
        "real server: token_rejected (INVALID_ARGUMENT), recorded once; time-skipping "
        "server: rejected or dead; Zigflow's activity times out at StartToClose",
        started,
    )
    holds(history, damaged_token_resolved(history, damaged_calls={started.call_id}))
    # Stigma's classification is in its summary (optional evidence): without one,
    # damaged_token_handled above recorded it "not checked" and judged Zigflow's side.
    if not driver.clock.can_skip and not observed.startswith("stigma: no summary;"):
        assert observed.startswith("stigma: token_rejected (INVALID_ARGUMENT)"), observed
