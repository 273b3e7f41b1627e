"""HoldRetries and LoseAttempt: the StartAgent relay's transforms that park an attempt's
call (and go on with it, or drop it)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from stigma.v1 import stigma_service_pb2 as pb

from harness.errors import WaitTimeout
from harness.links.tamper import HoldRetries, LoseAttempt

pytestmark = pytest.mark.unit


def _request(attempt: int) -> pb.StartAgentRequest:
    request = pb.StartAgentRequest(agent_id="a", callback_token=b"t" * 40)
    request.correlation.zigflow_attempt = attempt
    return request


async def test_first_attempts_pass_and_retries_wait_for_the_release() -> None:
    hold = HoldRetries()
    first = await hold(_request(1))
    assert first.correlation.zigflow_attempt == 1

    retry = asyncio.ensure_future(hold(_request(2)))
    await hold.arrived()
    assert hold.parked == [2]
    assert not retry.done()

    hold.release()
    forwarded = await asyncio.wait_for(retry, 5)
    assert forwarded.callback_token == b"t" * 40
    # after the release nothing is parked any more
    assert (await hold(_request(3))).correlation.zigflow_attempt == 3
    assert hold.parked == [2]


async def test_arrived_names_what_it_waits_for() -> None:
    with pytest.raises(WaitTimeout, match="attempt >= 2"):
        await HoldRetries().arrived(timeout_s=0.05)


async def test_the_lost_attempt_waits_for_the_release_then_never_reaches_stigma() -> None:
    lose = LoseAttempt(attempt=1)
    lost = asyncio.ensure_future(lose(_request(1)))
    await lose.arrived()
    assert lose.parked == [1]
    assert not lost.done()
    # another attempt (the retry) passes meanwhile
    assert (await lose(_request(2))).correlation.zigflow_attempt == 2

    lose.release()
    assert await asyncio.wait_for(lost, 5) == grpc.StatusCode.UNAVAILABLE


async def test_the_lost_attempt_is_dropped_at_its_bound_too() -> None:
    lose = LoseAttempt(attempt=1, timeout_s=0.05)
    assert await lose(_request(1)) == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(WaitTimeout, match="attempt 1 to reach the relay"):
        await LoseAttempt(attempt=1).arrived(timeout_s=0.05)
