"""Backward compatibility of StartAgentRequest: v0 (fields 1-2) and v1 (handshake) interoperate."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import empty_pb2
from stigma.v0 import stigma_service_pb2 as pb0
from stigma.v1 import stigma_service_pb2 as pb

from tests.unit.conftest import FakeStarter, ServeStigma

pytestmark = pytest.mark.unit

TOKEN = b"\n$8f1c-opaque-token-\x00\xff"
KEY = "zig-42/7b1e/0-summarize"


def full_request() -> pb.StartAgentRequest:
    return pb.StartAgentRequest(
        agent_id="summarize",
        input=b'{"doc": "hello"}',
        callback_token=TOKEN,
        idempotency_key=KEY,
        correlation=pb.Correlation(
            zigflow_workflow_id="zig-42",
            zigflow_run_id="7b1e",
            zigflow_activity_id="0-summarize",
            zigflow_attempt=2,
            trace_id=KEY,
        ),
    )


def test_old_client_request_parses_as_direct_call() -> None:
    old = pb0.StartAgentRequest(agent_id="summarize", input=b'{"doc": "x"}').SerializeToString()

    new = pb.StartAgentRequest.FromString(old)

    assert new.agent_id == "summarize"
    assert new.input == b'{"doc": "x"}'
    assert new.callback_token == b""
    assert new.idempotency_key == ""
    assert not new.HasField("correlation")


def test_field_numbers_of_the_frozen_schema_are_kept() -> None:
    old_fields = {f.name: f.number for f in pb0.StartAgentRequest.DESCRIPTOR.fields}
    new_fields = {f.name: f.number for f in pb.StartAgentRequest.DESCRIPTOR.fields}
    assert old_fields == {"agent_id": 1, "input": 2}
    assert {k: new_fields[k] for k in old_fields} == old_fields
    assert new_fields["callback_token"] == 3


def test_new_request_through_old_parser_keeps_known_and_unknown_fields() -> None:
    wire = full_request().SerializeToString()

    old = pb0.StartAgentRequest.FromString(wire)
    assert old.agent_id == "summarize"
    assert old.input == b'{"doc": "hello"}'

    # An old relay re-serialises what it parsed: the handshake fields survive.
    back = pb.StartAgentRequest.FromString(old.SerializeToString())
    assert back.callback_token == TOKEN
    assert back.idempotency_key == KEY
    assert back.correlation == full_request().correlation
    assert back == full_request()


async def test_old_client_bytes_are_served_as_a_direct_call(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()
    channel = await serve_stigma(starter)
    start_agent = channel.unary_unary(
        "/stigma.v1.StigmaService/StartAgent",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=empty_pb2.Empty.FromString,
    )

    ack = await start_agent(
        pb0.StartAgentRequest(agent_id="summarize", input=b'{"doc": "x"}'), timeout=10
    )

    assert isinstance(ack, empty_pb2.Empty)
    assert len(starter.calls) == 1
    call = starter.calls[0]
    assert call.request.token is None
    assert call.request.agent_id == "summarize"
    assert call.request.input_json == '{"doc": "x"}'
    assert call.request.idempotency_key == ""
    # No key: every direct call is its own execution, as before the handshake.
    assert call.workflow_id.startswith("stigma-direct-")


async def test_old_client_bytes_with_bad_agent_id_are_rejected(serve_stigma: ServeStigma) -> None:
    starter = FakeStarter()
    channel = await serve_stigma(starter)
    start_agent = channel.unary_unary(
        "/stigma.v1.StigmaService/StartAgent",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=empty_pb2.Empty.FromString,
    )

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await start_agent(pb0.StartAgentRequest(agent_id="", input=b"{}"), timeout=10)

    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert starter.calls == []
