"""The relay's refusal of calls by token refuses those alone: Stigma's worker keeps its
polls, and its reports on its own activity tasks (tokens it was handed by a poll
through the relay) pass, or it could not even say what its completion activity made of
the refusal. Released, calls by token pass again; the fault timeline has both ends."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from temporalio.api.workflowservice.v1 import request_response_pb2 as wsr

from harness.links.completion_relay import SERVICE, CompletionRelay, Refusal
from harness.observe.history import History
from harness.servers.ports import LOOPBACK

POLL = f"/{SERVICE}/PollActivityTaskQueue"
COMPLETE = f"/{SERVICE}/RespondActivityTaskCompleted"
FAILED = f"/{SERVICE}/RespondActivityTaskFailed"
OWN = b"stigma's own activity task"
ZIGFLOW = b"zigflow's task token"


class _Temporal(grpc.GenericRpcHandler):
    """Hands out one activity task on a poll, answers every other call OK."""

    def service(self, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        async def behaviour(body: bytes, context: Any) -> bytes:
            if method == POLL:
                return wsr.PollActivityTaskQueueResponse(task_token=OWN).SerializeToString()
            return b""

        return grpc.unary_unary_rpc_method_handler(behaviour)


async def _call(channel: grpc.aio.Channel, method: str, body: bytes) -> grpc.StatusCode:
    """The call's status; a refusal must say it is the relay's."""
    call = channel.unary_unary(method, request_serializer=_raw, response_deserializer=_raw)
    try:
        await call(body, timeout=10)
    except grpc.aio.AioRpcError as err:
        refused = err
    else:
        return grpc.StatusCode.OK
    assert refused.details() == Refusal.DETAILS
    return refused.code()


def _raw(b: bytes) -> bytes:
    return b


@pytest.mark.parametrize("release", ["release", "for_s"])
async def test_only_calls_by_zigflows_token_are_refused_until_released(release: str) -> None:
    upstream = grpc.aio.server()
    upstream.add_generic_rpc_handlers((_Temporal(),))
    port = upstream.add_insecure_port(f"{LOOPBACK}:0")
    await upstream.start()
    relay = CompletionRelay(f"{LOOPBACK}:{port}")
    listen = await relay.start()
    history = History("refusal")
    complete = wsr.RespondActivityTaskCompletedRequest(task_token=ZIGFLOW).SerializeToString()
    own_failed = wsr.RespondActivityTaskFailedRequest(task_token=OWN).SerializeToString()
    try:
        async with grpc.aio.insecure_channel(listen) as channel:
            assert await _call(channel, POLL, b"") == grpc.StatusCode.OK
            for_s = 0.0 if release == "for_s" else None
            async with relay.refuse_calls_by_token(history, for_s=for_s) as refusal:
                if release == "release":
                    got = await _call(channel, COMPLETE, complete)
                    assert got == grpc.StatusCode.UNAVAILABLE
                    await refusal.arrived(1, timeout_s=5)
                    assert await _call(channel, FAILED, own_failed) == grpc.StatusCode.OK
                    assert await _call(channel, POLL, b"") == grpc.StatusCode.OK
                    refusal.release()
                assert await _call(channel, COMPLETE, complete) == grpc.StatusCode.OK
        answers = [(c.method, c.answer, c.own_task) for c in relay.completions]
        refused = [("RespondActivityTaskCompleted", "refused:UNAVAILABLE", False)]
        own = [("RespondActivityTaskFailed", "OK", True)]
        passed = [("RespondActivityTaskCompleted", "OK", False)]
        assert answers == (refused + own + passed if release == "release" else passed)
        assert [(f.phase, f.name) for f in history.faults] == [
            ("start", "completion_refused:UNAVAILABLE"),
            ("stop", "completion_refused:UNAVAILABLE"),
        ]
        assert history.faults[-1].detail["refused"] == (1 if release == "release" else 0)
        assert relay._refusing is None
    finally:
        await relay.stop()
        await upstream.stop(grace=None)
