"""ZigflowActivities.execute_agent in an ActivityEnvironment, with a fake StigmaClient."""

from __future__ import annotations

import base64
import dataclasses
import logging
from dataclasses import dataclass, field

import grpc
import pytest
from stigma.v1 import stigma_service_pb2 as pb
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from reference_services.common.jsonlog import _JsonFormatter, token_fingerprint
from reference_services.zigflow.activities import ZigflowActivities, idempotency_key
from reference_services.zigflow.plan import AgentCall

pytestmark = pytest.mark.unit

TOKEN = b"\n$SECRET-task-token-0123456789abcdef"
WF, RUN, ACT = "zig-42", "run-7b1e", "0-summarize"
KEY = f"{WF}/{RUN}/{ACT}"
ACK_TIMEOUT_S = 7.5

# ActivityEnvironment lets activity.raise_complete_async()'s BaseException escape
# (temporalio/testing/_activity.py only runs the function in an activity context);
# a real worker catches it and reports "result pending".
CompleteAsync = activity._CompleteAsyncError


@dataclass
class FakeStigma:
    requests: list[pb.StartAgentRequest] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    error: BaseException | None = None

    async def start_agent(self, request: pb.StartAgentRequest, timeout_s: float) -> None:
        self.requests.append(request)
        self.timeouts.append(timeout_s)
        if self.error is not None:
            raise self.error


def environment(attempt: int = 2) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.default_info(),
        task_token=TOKEN,
        workflow_id=WF,
        workflow_run_id=RUN,
        activity_id=ACT,
        activity_type="ExecuteAgent",
        attempt=attempt,
    )
    return env


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_idempotency_key_ignores_the_attempt() -> None:
    assert idempotency_key(environment(attempt=1).info) == KEY
    assert idempotency_key(environment(attempt=5).info) == KEY


async def test_handshake_sends_the_task_token_then_completes_async() -> None:
    stigma = FakeStigma()
    acts = ZigflowActivities(stigma, ACK_TIMEOUT_S)

    with pytest.raises(CompleteAsync):
        await environment().run(acts.execute_agent, AgentCall("summarize", '{"doc": 1}'))

    assert stigma.timeouts == [ACK_TIMEOUT_S]
    (sent,) = stigma.requests
    assert sent.agent_id == "summarize"
    assert sent.input == b'{"doc": 1}'
    assert sent.callback_token == TOKEN
    assert sent.idempotency_key == KEY
    assert sent.correlation == pb.Correlation(
        zigflow_workflow_id=WF,
        zigflow_run_id=RUN,
        zigflow_activity_id=ACT,
        zigflow_attempt=2,
        trace_id=KEY,
    )


async def test_direct_mode_sends_no_token_and_returns_the_ack() -> None:
    stigma = FakeStigma()
    acts = ZigflowActivities(stigma, ACK_TIMEOUT_S)

    result = await environment().run(
        acts.execute_agent, AgentCall("summarize", "{}", mode="direct")
    )

    assert result == {"acked": True, "mode": "direct", "idempotency_key": KEY}
    (sent,) = stigma.requests
    assert sent.callback_token == b""
    assert sent.idempotency_key == KEY


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ],
)
async def test_transient_stigma_error_is_a_retryable_failure(code: grpc.StatusCode) -> None:
    acts = ZigflowActivities(FakeStigma(error=rpc_error(code, "stigma is down")), ACK_TIMEOUT_S)

    with pytest.raises(ApplicationError) as info:
        await environment().run(acts.execute_agent, AgentCall("summarize", "{}"))

    err = info.value
    assert err.type == "StigmaUnavailable"
    assert err.non_retryable is False
    assert f"StartAgent failed with {code.name}: stigma is down" in err.message
    assert err.details == ({"grpc_code": code.name, "details": "stigma is down"},)


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION]
)
async def test_rejected_request_is_a_non_retryable_failure(code: grpc.StatusCode) -> None:
    acts = ZigflowActivities(FakeStigma(error=rpc_error(code, "agent_id is required")), 1.0)

    with pytest.raises(ApplicationError) as info:
        await environment().run(acts.execute_agent, AgentCall("", "{}"))

    assert info.value.type == "StigmaRejected"
    assert info.value.non_retryable is True
    assert "agent_id is required" in info.value.message


async def test_raw_token_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    failing = FakeStigma(error=rpc_error(grpc.StatusCode.UNAVAILABLE, "down"))
    formatter = _JsonFormatter("zigflow")

    with pytest.raises(CompleteAsync):
        await environment().run(
            ZigflowActivities(FakeStigma(), 1.0).execute_agent, AgentCall("a", "{}")
        )
    with pytest.raises(ApplicationError):
        await environment().run(ZigflowActivities(failing, 1.0).execute_agent, AgentCall("a", "{}"))

    records = [r for r in caplog.records if r.name.startswith("zigflow")]
    events = [r.getMessage() for r in records]
    assert events == [
        "execute_agent.start",
        "execute_agent.pending",
        "execute_agent.start",
        "execute_agent.stigma_error",
    ]
    fingerprint = token_fingerprint(TOKEN)
    assert len(fingerprint) == 12
    assert all(r.fields["token_fp"] == fingerprint for r in records)  # type: ignore[attr-defined]
    forms = [TOKEN.decode("latin-1"), base64.b64encode(TOKEN).decode(), TOKEN.hex(), "SECRET"]
    for record in records:
        rendered = [formatter.format(record), repr(record.__dict__)]
        for text in rendered:
            for form in forms:
                assert form not in text, (form, text)
    assert all(fingerprint in formatter.format(r) for r in records)
