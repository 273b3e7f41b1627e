"""Bad StartAgent requests, generated with Hypothesis and sent as raw bytes to the
Stigma under test: each gets INVALID_ARGUMENT with a message (worded as Stigma likes),
nothing is started for it, and the server keeps serving everyone else."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from temporalio.service import RPCError, RPCStatusCode

from harness import contract, wire
from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.drive.strategies import BadRequest, bad_requests, refusal_problems
from harness.judge.expect import holds
from harness.judge.invariants import exactly_once
from harness.observe.history import History
from harness.servers.probe import StigmaProbe
from harness.stack.stack import Stack

pytestmark = pytest.mark.scenario


async def _nothing_started(stack: Stack, key: str) -> bool:
    if not key:
        return True
    try:
        await stack.client.get_workflow_handle(contract.stigma_workflow_id(key)).describe()
    except RPCError as err:
        return err.status == RPCStatusCode.NOT_FOUND
    return False


@given(bad=bad_requests())
async def test_bad_requests_get_invalid_argument_start_nothing_and_stigma_keeps_serving(
    stack: Stack, bad: BadRequest
) -> None:
    probe = StigmaProbe(stack.stigma_target)
    try:
        # when
        answer = await probe.start_agent_raw(bad.body)
        # then
        problems = refusal_problems(answer, bad.kind, bad.field)
        assert not problems, (bad.kind, f"field at fault: {bad.field or '-'}", answer, problems)
        assert await _nothing_started(stack, bad.key), f"{bad.kind}: an agent was started"
        assert await probe.serving(), "Stigma stopped serving after a bad request"
    finally:
        await probe.close()


async def test_unknown_fields_on_a_valid_request_are_ignored_not_refused(stack: Stack) -> None:
    # Forward compatibility: a newer client may send fields this Stigma does not know.
    probe = StigmaProbe(stack.stigma_target)
    try:
        body = wire.start_agent_request(agent_id=b"future", input_=b"{}") + wire.field(99, b"new")
        answer = await probe.start_agent_raw(body)
    finally:
        await probe.close()
    assert answer.code == grpc.StatusCode.OK, answer


async def test_handshakes_still_work_after_the_bad_requests(
    driver: Driver, history: History
) -> None:
    # given / when: a normal handshake on the same Stigma that just refused garbage
    await driver.run(plan(call_agent("after", succeeds({"fine": True}))))
    # then
    holds(history, exactly_once(history))
