"""Seeing a pause land on a deployed service, and its resume undo it.

A pause hook that exits 0 has not necessarily frozen anything: a selector that matches
no pod, a ``docker pause`` of the wrong container, a replica the harness's traffic never
reaches. Every pause scenario would then pass with nothing frozen. A frozen process
keeps its sockets (the kernel still accepts connections for it) but answers nothing:
so after the hook the harness asks the service's grpc.health.v1 (the contract asks every
service for it) on a new connection, as new traffic would reach it, and a Check that
gets no answer within ``PROBE_S`` is the freeze seen. A service that goes on answering
(SERVING, or refusing: stopped rather than frozen) until the hook's timeout is a pause
that did not land (``FaultNotReached``).

Before the hook the same Check must answer SERVING: an address that answers nothing
anyway would make any pause look seen. After the resume hook the same health answers
SERVING again within the service's ``ready-timeout-s``, or the resume did not undo the
pause (``NotReadyError``): a target left frozen would fail every later scenario for a
reason none of them names.
"""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.errors import FaultNotReached, NotReadyError, WaitTimeout
from harness.waits import eventually

# How long a Check may go unanswered before the service counts as frozen. A serving
# health endpoint answers in milliseconds, also on a loaded staging node; a process
# frozen by its pause hook never does.
PROBE_S = 1.0
# Between two Checks that were answered (each on a new connection).
INTERVAL_S = 0.1


async def check(address: str, name: str, timeout_s: float) -> grpc.StatusCode | str:
    """One grpc.health.v1 Check on a new connection: the status it answers (``SERVING``
    ...), or the code of the error it ends with (``DEADLINE_EXCEEDED``: no answer)."""
    channel = grpc.aio.insecure_channel(address)
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=name), timeout=timeout_s
        )
    except grpc.aio.AioRpcError as err:
        return err.code()
    finally:
        await channel.close(grace=None)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _said(answer: grpc.StatusCode | str) -> str:
    return answer.name if isinstance(answer, grpc.StatusCode) else answer


async def serving_before(service: str, address: str, name: str, timeout_s: float) -> None:
    """The service's grpc.health.v1 answers SERVING before its pause hook runs; else
    NotReadyError. An address that answers nothing anyway (a wrong port behind a proxy,
    a host that drops the connection) would make any pause look seen."""
    answer = await check(address, name, timeout_s)
    if answer != "SERVING":
        raise NotReadyError(
            f"{service}: its grpc.health.v1 at {address} says {_said(answer)} before the "
            "pause: the harness could not tell a freeze from what it already does (the "
            "contract asks every service for grpc.health.v1)"
        )


async def frozen(service: str, address: str, name: str, timeout_s: float) -> str:
    """How the pause was seen (a Check unanswered for ``PROBE_S``), within ``timeout_s``
    of the pause hook's exit; else FaultNotReached naming what the service said."""
    began = time.monotonic()
    last: list[grpc.StatusCode | str] = []

    async def unanswered() -> bool | None:
        answer = await check(address, name, PROBE_S)
        last[:] = [answer]
        return True if answer == grpc.StatusCode.DEADLINE_EXCEEDED else None

    try:
        await eventually(
            unanswered,
            timeout_s=timeout_s,
            interval_s=INTERVAL_S,
            pending=lambda: f"{service}'s grpc.health.v1 at {address} to stop answering",
        )
    except WaitTimeout:
        said = _said(last[0]) if last else "nothing yet"
        raise FaultNotReached(
            f"{service}: its pause hook exited 0, but its grpc.health.v1 at {address} still "
            f"answers on a new connection {timeout_s:g} s later (last: {said}): the hook did "
            "not freeze the process the harness reaches there (check what it selects; a "
            "service that refuses connections was stopped, not frozen)"
        ) from None
    return (
        f"a grpc.health.v1 Check went unanswered for {PROBE_S:g} s, "
        f"{time.monotonic() - began:.1f} s after the pause hook exited"
    )


async def thawed(service: str, address: str, name: str, timeout_s: float) -> None:
    """Until the service's grpc.health.v1 answers SERVING again after its resume hook,
    within ``timeout_s``; else NotReadyError (the resume did not undo the pause)."""
    last: list[grpc.StatusCode | str] = []

    async def serving() -> bool | None:
        answer = await check(address, name, PROBE_S)
        last[:] = [answer]
        return True if answer == "SERVING" else None

    try:
        await eventually(
            serving,
            timeout_s=timeout_s,
            interval_s=INTERVAL_S,
            pending=lambda: f"{service}'s grpc.health.v1 at {address} to answer SERVING",
        )
    except WaitTimeout:
        said = _said(last[0]) if last else "nothing"
        raise NotReadyError(
            f"{service}: its resume hook exited 0, but its grpc.health.v1 at {address} "
            f"does not answer SERVING {timeout_s:g} s later (last: {said}): the service may "
            "still be frozen; resume it by hand before the next run"
        ) from None
