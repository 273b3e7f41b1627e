"""StigmaServicer.StartAgent over a real in-process gRPC server, with a fake WorkflowStarter."""

from __future__ import annotations

import base64

import grpc
import pytest
from stigma.v1 import stigma_service_pb2 as pb
from stigma.v1 import stigma_service_pb2_grpc as pb_grpc
from temporalio.service import RPCError, RPCStatusCode

from reference_services.stigma.server import AlreadyFinishedError, execution_id_for
from tests.unit.conftest import FakeStarter, ServeStigma

pytestmark = pytest.mark.unit

TOKEN = b"\n$task-token-\x00\x01\xfe\xff"
KEY = "zig-42/run-7/0-summarize"


def handshake(**overrides: object) -> pb.StartAgentRequest:
    fields: dict[str, object] = {
        "agent_id": "summarize",
        "input": b'{"doc": "hello"}',
        "callback_token": TOKEN,
        "idempotency_key": KEY,
        "correlation": pb.Correlation(
            zigflow_workflow_id="zig-42",
            zigflow_run_id="run-7",
            zigflow_activity_id="0-summarize",
            zigflow_attempt=3,
            trace_id=KEY,
        ),
    }
    fields.update(overrides)
    return pb.StartAgentRequest(**fields)


async def call(
    serve_stigma: ServeStigma, starter: FakeStarter, request: pb.StartAgentRequest
) -> grpc.aio.AioRpcError | None:
    stub = pb_grpc.StigmaServiceStub(await serve_stigma(starter))
    try:
        await stub.StartAgent(request, timeout=10)
    except grpc.aio.AioRpcError as err:
        return err
    return None


async def test_invalid_request_is_rejected_and_nothing_starts(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()

    err = await call(serve_stigma, starter, handshake(agent_id="", idempotency_key=""))

    assert err is not None
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.details() or ""
    assert details.startswith("invalid StartAgentRequest: ")
    assert "agent_id is required" in details
    assert "idempotency_key is required when callback_token is set" in details
    assert starter.calls == []


async def test_valid_handshake_starts_once_with_the_token(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()

    err = await call(serve_stigma, starter, handshake())

    assert err is None
    assert len(starter.calls) == 1
    started = starter.calls[0]
    assert started.workflow_id == f"stigma-{KEY}"
    req = started.request
    assert req.execution_id == execution_id_for(f"stigma-{KEY}")
    assert req.execution_id.startswith("agx-")
    assert len(req.execution_id) == 4 + 16
    assert (req.agent_id, req.input_json, req.idempotency_key) == (
        "summarize",
        '{"doc": "hello"}',
        KEY,
    )
    assert req.token is not None
    assert base64.b64decode(req.token.token_b64) == TOKEN
    assert req.token.attempt == 3
    assert (
        req.token.zigflow_workflow_id,
        req.token.zigflow_run_id,
        req.token.zigflow_activity_id,
    ) == ("zig-42", "run-7", "0-summarize")
    # The client's 10 s deadline is passed on to the durable start (gRPC's wire
    # encoding of grpc-timeout is lossy and rounds up, hence the slack).
    assert started.timeout_s is not None
    assert 5 < started.timeout_s <= 11


async def test_missing_attempt_counts_as_first_attempt(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()

    err = await call(serve_stigma, starter, handshake(correlation=pb.Correlation()))

    assert err is None
    token = starter.calls[0].request.token
    assert token is not None
    assert token.attempt == 1


async def test_same_key_maps_to_same_workflow_id(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()
    retried = handshake(callback_token=b"newer-token")
    retried.correlation.zigflow_attempt = 4

    assert await call(serve_stigma, starter, handshake()) is None
    assert await call(serve_stigma, starter, retried) is None

    first, second = starter.calls
    assert first.workflow_id == second.workflow_id == f"stigma-{KEY}"
    assert first.request.execution_id == second.request.execution_id
    assert second.request.token is not None
    assert base64.b64decode(second.request.token.token_b64) == b"newer-token"
    assert second.request.token.attempt == 4


async def test_direct_call_with_key_is_deduplicated_and_has_no_token(
    serve_stigma: ServeStigma,
) -> None:
    starter = FakeStarter()

    err = await call(serve_stigma, starter, handshake(callback_token=b""))

    assert err is None
    assert starter.calls[0].workflow_id == f"stigma-{KEY}"
    assert starter.calls[0].request.token is None


async def test_temporal_unavailable_maps_to_unavailable(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter(error=RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""))

    err = await call(serve_stigma, starter, handshake())

    assert err is not None
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    details = err.details() or ""
    assert "idempotency_key" in details
    assert "UNAVAILABLE: connection refused" in details
    assert len(starter.calls) == 1


async def test_a_start_temporal_refuses_for_good_maps_to_invalid_argument(
    serve_stigma: ServeStigma,
) -> None:
    # e.g. an input that, with the token, is over the cluster's payload limit: a retry
    # with the same request would meet the same answer
    starter = FakeStarter(
        error=RPCError("Blob data size exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b"")
    )

    err = await call(serve_stigma, starter, handshake())

    assert err is not None
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Blob data size exceeds limit." in (err.details() or "")


async def test_already_finished_maps_to_failed_precondition(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter(error=AlreadyFinishedError(f"stigma-{KEY}"))

    err = await call(serve_stigma, starter, handshake())

    assert err is not None
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = err.details() or ""
    assert "already finished" in details
    assert repr(KEY) in details
    assert execution_id_for(f"stigma-{KEY}") in details


async def test_deeply_nested_input_is_invalid_argument(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()

    err = await call(serve_stigma, starter, handshake(input=b"[" * 100_000))

    assert starter.calls == []
    assert err is not None
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
