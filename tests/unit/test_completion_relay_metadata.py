"""The relay in front of Temporal passes the server's answer on as it came, however
large its trailing metadata. A real server can answer a call by token with a long
message (the time-skipping server with a Java stack trace, ~15 KB): gRPC's default
metadata limits (8 KB soft, 16 KB hard) turned that, at random above the soft limit,
into RESOURCE_EXHAUSTED at the relay, which Stigma rightly retries as transient, and
a scenario failed for a reason of the harness's own hop."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from temporalio.api.workflowservice.v1 import request_response_pb2 as wsr

from harness.links.completion_relay import COMPLETIONS, CompletionRelay
from harness.servers.ports import LOOPBACK

METHOD = next(m for m in COMPLETIONS if m.endswith("RespondActivityTaskCompleted"))
DETAILS = "x" * 20_000  # over gRPC's default hard limit: refused every time without the fix
BIG = [("grpc.max_metadata_size", 1 << 20), ("grpc.absolute_max_metadata_size", 1 << 20)]


class _Refuses(grpc.GenericRpcHandler):
    def service(self, details: grpc.HandlerCallDetails) -> Any:
        async def behaviour(body: bytes, context: Any) -> bytes:
            await context.abort(grpc.StatusCode.NOT_FOUND, DETAILS)
            raise AssertionError("abort returned")

        return grpc.unary_unary_rpc_method_handler(behaviour)


async def test_a_large_error_from_temporal_reaches_stigma_as_it_came() -> None:
    upstream = grpc.aio.server(options=BIG)
    upstream.add_generic_rpc_handlers((_Refuses(),))
    port = upstream.add_insecure_port(f"{LOOPBACK}:0")
    await upstream.start()
    relay = CompletionRelay(f"{LOOPBACK}:{port}")
    listen = await relay.start()
    try:
        async with grpc.aio.insecure_channel(listen, options=BIG) as channel:
            call = channel.unary_unary(
                METHOD,
                request_serializer=lambda b: b,
                response_deserializer=lambda b: b,
            )
            body = wsr.RespondActivityTaskCompletedRequest(task_token=b"tok").SerializeToString()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(body, timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()[:300]
        assert caught.value.details() == DETAILS
        assert [c.answer for c in relay.completions] == ["NOT_FOUND"]
    finally:
        await relay.stop()
        await upstream.stop(grace=None)
