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
from harness.tls import ServiceTLS, service_channel
from harness.waits import eventually

# How long a Check may go unanswered before the service counts as frozen. A serving
# health endpoint answers in milliseconds, also on a loaded staging node; a process
# frozen by its pause hook never does.
PROBE_S = 1.0
# Between two Checks that were answered (each on a new connection).
INTERVAL_S = 0.1


async def check(
    address: str, name: str, timeout_s: float, tls: ServiceTLS | None = None
) -> str | grpc.aio.AioRpcError:
    """One grpc.health.v1 Check on a new connection: the status it answers (``SERVING``
    ...), or the error it ends with (code ``DEADLINE_EXCEEDED``: no answer)."""
    channel = service_channel(address, tls)
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=name), timeout=timeout_s
        )
    except grpc.aio.AioRpcError as err:
        return err
    finally:
        await channel.close(grace=None)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _said(answer: str | grpc.aio.AioRpcError) -> str:
    return answer.code().name if isinstance(answer, grpc.aio.AioRpcError) else answer


async def _until(
    address: str,
    name: str,
    wanted: str,
    timeout_s: float,
    pending: str,
    tls: ServiceTLS | None,
) -> tuple[bool, str]:
    """Checks (each bounded by ``PROBE_S``) until one's answer is ``wanted`` (a status,
    or an error's code name), within ``timeout_s``: whether it came, and the last
    answer."""
    last = ["nothing yet"]

    async def answered() -> bool | None:
        last[0] = _said(await check(address, name, PROBE_S, tls))
        return True if last[0] == wanted else None

    try:
        await eventually(
            answered, timeout_s=timeout_s, interval_s=INTERVAL_S, pending=lambda: pending
        )
    except WaitTimeout:
        return False, last[0]
    return True, last[0]


async def serving_before(
    service: str, address: str, name: str, timeout_s: float, tls: ServiceTLS | None = None
) -> None:
    """The service's grpc.health.v1 answers SERVING before its pause hook runs; else
    NotReadyError. An address that answers nothing anyway (a wrong port behind a proxy,
    a host that drops the connection) would make any pause look seen."""
    answer = await check(address, name, timeout_s, tls)
    if answer != "SERVING":
        raise NotReadyError(
            f"{service}: its grpc.health.v1 at {address} says {_said(answer)} before the "
            "pause: the harness could not tell a freeze from what it already does (the "
            "contract asks every service for grpc.health.v1)"
        )


async def frozen(
    service: str, address: str, name: str, timeout_s: float, tls: ServiceTLS | None = None
) -> str:
    """How the pause was seen (a Check unanswered for ``PROBE_S``), within ``timeout_s``
    of the pause hook's exit; else FaultNotReached naming what the service said."""
    began = time.monotonic()
    unanswered = grpc.StatusCode.DEADLINE_EXCEEDED.name
    pending = f"{service}'s grpc.health.v1 at {address} to stop answering"
    seen, said = await _until(address, name, unanswered, timeout_s, pending, tls)
    if not seen:
        raise FaultNotReached(
            f"{service}: its pause hook exited 0, but its grpc.health.v1 at {address} still "
            f"answers on a new connection {timeout_s:g} s later (last: {said}): the hook did "
            "not freeze the process the harness reaches there (check what it selects; a "
            "service that refuses connections was stopped, not frozen)"
        )
    return (
        f"a grpc.health.v1 Check went unanswered for {PROBE_S:g} s, "
        f"{time.monotonic() - began:.1f} s after the pause hook exited"
    )


async def thawed(
    service: str, address: str, name: str, timeout_s: float, tls: ServiceTLS | None = None
) -> None:
    """Until the service's grpc.health.v1 answers SERVING again after its resume hook,
    within ``timeout_s``; else NotReadyError (the resume did not undo the pause)."""
    pending = f"{service}'s grpc.health.v1 at {address} to answer SERVING"
    seen, said = await _until(address, name, "SERVING", timeout_s, pending, tls)
    if not seen:
        raise NotReadyError(
            f"{service}: its resume hook exited 0, but its grpc.health.v1 at {address} "
            f"does not answer SERVING {timeout_s:g} s later (last: {said}): the service may "
            "still be frozen; resume it by hand before the next run"
        )
