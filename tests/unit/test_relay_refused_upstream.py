"""The StartAgent relay when its upstream refuses connections: a proxy's refusal is the
link being down (UNAVAILABLE at once, as a direct channel answers); Stigma's own refusal
may be its restart (the call is held, within its deadline, until Stigma is back)."""

from __future__ import annotations

import grpc
import pytest
from stigma.v1 import stigma_service_pb2 as pb

from harness import contract
from harness.links.tamper import TokenTamper
from harness.servers.ports import LOOPBACK, free_port

pytestmark = pytest.mark.unit


async def _call(relay: TokenTamper, timeout_s: float) -> grpc.StatusCode:
    request = pb.StartAgentRequest(agent_id="a", callback_token=b"t" * 40)
    request.idempotency_key = "k/0"
    async with grpc.aio.insecure_channel(relay.listen) as channel:
        start = channel.unary_unary(
            contract.START_AGENT_PATH,
            request_serializer=lambda body: body,
            response_deserializer=lambda body: body,
        )
        try:
            await start(request.SerializeToString(), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            return err.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("link_down", "expected"),
    [(True, grpc.StatusCode.UNAVAILABLE), (False, grpc.StatusCode.DEADLINE_EXCEEDED)],
    ids=["proxy-upstream-fails-fast", "stigma-upstream-holds-the-call"],
)
async def test_a_refused_upstream(link_down: bool, expected: grpc.StatusCode) -> None:
    # given: a relay whose upstream address refuses connections (nobody listens there)
    relay = TokenTamper(f"{LOOPBACK}:{free_port()}", refused_means_link_down=link_down)
    await relay.start()
    try:
        # when: Zigflow's StartAgent reaches it
        code = await _call(relay, timeout_s=1.0)
    finally:
        await relay.stop()
    # then: a proxy's refusal is answered UNAVAILABLE (recorded so); Stigma's is held
    # until the caller's deadline, as the relay holds calls across Stigma's restarts
    assert code == expected
    if link_down:
        assert relay.log[-1].answer == expected.name
