"""The cluster's payload limit (``limit.blobSize.error``, 2 MiB by default). Over it the
server does not refuse a completion by token: it answers OK and fails Zigflow's activity
with a ServerError of its own, so a Stigma that completes regardless records
"delivered" for a result Zigflow never got. The contract: Stigma fails Zigflow's
activity with a non-retryable ``ResultTooLarge`` application failure instead, once, and
records ``result_too_large``; a result comfortably under the limit is delivered.

The harness lowers the limit of the dev server it starts (``stack(blob_limit_bytes=)``)
and tells Stigma (``STIGMA_MAX_PAYLOAD_BYTES``), so small payloads meet it; on a cluster
the limit is the cluster's (``HANDSHAKE_PAYLOAD_LIMIT_BYTES``) and the payloads are
sized from it. Each call's two views, Stigma's record and Zigflow's activity, are kept
side by side for the report."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest

from harness import contract, wire
from harness.drive.driver import Driver, Started
from harness.drive.plan import call_agent, fails, plan, succeeds
from harness.judge import checkers, corruption
from harness.judge.expect import holds
from harness.judge.payload_limit import oversized_result_refused_typed
from harness.observe.history import History

# Low enough that the payloads are cheap to make and move, well above the envelope,
# the token and Stigma's own fields.
LIMIT = 100_000
# gRPC's default limit on a message a server receives (Stigma's StartAgent).
GRPC_RECEIVE_LIMIT = 4 * 1024 * 1024

pytestmark = [pytest.mark.scenario, pytest.mark.stack(real_clock=True, blob_limit_bytes=LIMIT)]

EXPECTED = {
    "result_under_limit": "delivered as it is: stigma delivered; zigflow completed",
    "result_at_limit_edge": "the agent's result fits the limit, what Stigma carries with it "
    "may not: delivered, or refused as over the limit (stigma result_too_large; zigflow "
    "failed ResultTooLarge); never a hang, never the server's refusal",
    "result_over_limit": "stigma: result_too_large; zigflow: failed ResultTooLarge, "
    "non-retryable, once",
    "failure_over_limit": "stigma: result_too_large; zigflow: failed ResultTooLarge, "
    "non-retryable, once",
}


def _record(driver: Driver, case: str, started: Started) -> str:
    """Stigma's view and Zigflow's view of one call, side by side, for the report."""
    observed = checkers.token_outcome(driver.history, started.call_id)
    corruption.record(
        driver.history,
        f"payload_limit/{case}",
        EXPECTED[case],
        observed,
        driver.stack.temporal.kind,
    )
    return observed


def _call(name: str, script: object) -> dict[str, object]:
    # The plan's default retry policy (5 attempts): a Stigma that failed the activity
    # retryably would show as a retry. A StartToClose a hung result would reach while
    # the gate still waits.
    return plan(call_agent(name, script, start_to_close_s=30))  # type: ignore[arg-type]


async def test_results_and_failures_over_the_payload_limit_fail_typed_and_are_recorded_so(
    driver: Driver, history: History
) -> None:
    limit = driver.stack.config.payload_limit_bytes
    # given: agents whose result is well under, just under (its own payload fits, with
    # Stigma's envelope and token it may not) and over the cluster's limit, and one whose
    # failure is over it
    scripts = {
        "result_under_limit": succeeds(
            "u", result_size=limit - contract.PAYLOAD_HEADROOM_BYTES - 1024
        ),
        "result_at_limit_edge": succeeds("e", result_size=limit - 256),
        "result_over_limit": succeeds("o", result_size=limit + 1024),
        "failure_over_limit": fails("AgentError", "too much to say", error_size=limit + 1024),
    }
    # when
    started = {case: await driver.start(_call(case, s)) for case, s in scripts.items()}
    await driver.outcomes(started.values())
    # then
    for case, s in started.items():
        _record(driver, case, s)
    ids = {case: s.call_id for case, s in started.items()}
    holds(
        history,
        checkers.every_call_resolved(history),
        oversized_result_refused_typed(
            history,
            over={ids["result_over_limit"], ids["failure_over_limit"]},
            edge={ids["result_at_limit_edge"]},
            under={ids["result_under_limit"]},
        ),
    )


# The session's real-clock stack, with the cluster's own limit: no server of its own.
@pytest.mark.stack(real_clock=True)
async def test_a_start_agent_input_over_the_limits_is_refused_and_stigma_keeps_serving(
    driver: Driver, history: History
) -> None:
    limit = driver.stack.config.payload_limit_bytes
    answers = {}
    # given: StartAgent inputs over the cluster's payload limit (Stigma cannot start its
    # execution with it) and over gRPC's default receive limit (4 MiB)
    for case, size in (("over_payload_limit", limit + 1024), ("over_grpc", GRPC_RECEIVE_LIMIT)):
        body = wire.start_agent_request(
            agent_id=b"big-input",
            input_=json.dumps({"script": {"output": "i"}, "pad": "p" * size}).encode(),
            key=f"big-{case}-{uuid.uuid4().hex}".encode(),
        )
        # when
        answers[case] = await driver.probe_stigma(body)
    # then: refused, each at once, and not as something a retry could mend
    for case, answer in answers.items():
        corruption.record(
            history,
            f"payload_limit/start_agent_input_{case}",
            "StartAgent refused (RESOURCE_EXHAUSTED or INVALID_ARGUMENT), nothing started",
            f"stigma: {answer.code.name}",
            driver.stack.temporal.kind,
        )
    assert answers["over_grpc"].code == grpc.StatusCode.RESOURCE_EXHAUSTED, answers
    assert answers["over_payload_limit"].code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ), answers
    # and Stigma still serves a call of its own size
    op = await driver.run(_call("after_big_inputs", succeeds("fine")))
    assert op.type == "ok", op.value
    holds(history, checkers.resumed_once_with_agent_result(history))
