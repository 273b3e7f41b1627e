"""Seeing a kill land on a deployed service.

A kill hook that exits 0 has not necessarily killed anything: a selector that matches
no pod (``kubectl delete pod -l app=wrong`` prints "No resources found" and exits 0),
the wrong namespace, a replica the harness's traffic never reaches. Every kill scenario
would then pass with nothing killed. So before the hook runs the harness opens a
grpc.health.v1 Watch on the service (the contract asks every service for
grpc.health.v1): the stream is held by the process that serves it, through a proxy or
a load balancer too, and ends when that process dies, or says NOT_SERVING when it
stops on a signal. A Watch that goes on saying SERVING after the hook is a kill that
did not land, and the scenario cannot pass (``FaultNotReached``).

Unlike polling the health check, the stream cannot miss a kill followed by a quick
restart: a restarted process serves a new connection, never the old stream.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.errors import FaultNotReached, NotReadyError
from harness.tls import ServiceTLS, service_channel

SERVING = health_pb2.HealthCheckResponse.ServingStatus.Name(health_pb2.HealthCheckResponse.SERVING)


class KillWatch:
    """A grpc.health.v1 Watch of one service, opened (``open``) while it serves,
    before its kill hook runs; ``landed`` then waits for the stream to end or to leave
    SERVING. Close it (``close``) however the fault ends."""

    def __init__(
        self, service: str, address: str, name: str, tls: ServiceTLS | None = None
    ) -> None:
        self.service = service
        self.address = address
        self.name = name
        self._channel = service_channel(address, tls)
        self._call = health_pb2_grpc.HealthStub(self._channel).Watch(
            health_pb2.HealthCheckRequest(service=name)
        )
        self._replies = aiter(self._call)

    @classmethod
    async def open(
        cls,
        service: str,
        address: str,
        name: str,
        timeout_s: float,
        tls: ServiceTLS | None = None,
    ) -> KillWatch:
        """The Watch, once its first answer says SERVING; NotReadyError when the service
        does not serve there before its kill (nothing to see go down)."""
        watch = cls(service, address, name, tls)
        try:
            first = await asyncio.wait_for(anext(watch._replies), timeout_s)
        except (grpc.aio.AioRpcError, TimeoutError, StopAsyncIteration) as err:
            await watch.close()
            why = err.code().name if isinstance(err, grpc.aio.AioRpcError) else "no answer"
            raise NotReadyError(
                f"{service}: its grpc.health.v1 at {address} does not answer a Watch before "
                f"the kill ({why} within {timeout_s:g} s): the harness would not see the "
                "kill land (the contract asks every service for grpc.health.v1, Watch "
                "included)"
            ) from None
        status = _status(first)
        if status != SERVING:
            await watch.close()
            raise NotReadyError(
                f"{service}: its grpc.health.v1 at {address} says {status} before the kill"
            )
        return watch

    async def landed(self, timeout_s: float) -> str:
        """How the kill was seen (the stream's end or the status it turned to), within
        ``timeout_s`` of the hook's exit; else FaultNotReached."""
        began = time.monotonic()
        deadline = began + timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                reply = await asyncio.wait_for(anext(self._replies), left)
                status = _status(reply)
                if status != SERVING:
                    return _seen(f"it said {status}", began)
        except StopAsyncIteration:
            return _seen("the stream ended", began)
        except grpc.aio.AioRpcError as err:
            return _seen(f"the stream ended with {err.code().name}", began)
        except TimeoutError:
            pass
        raise FaultNotReached(
            f"{self.service}: its kill hook exited 0, but the grpc.health.v1 Watch the "
            f"harness opened at {self.address} before it still says SERVING {timeout_s:g} s "
            "later: the hook did not stop the process the harness reaches there (check what "
            "it selects: a pod selector that matches nothing exits 0 too)"
        )

    async def close(self) -> None:
        self._call.cancel()
        await self._channel.close(grace=None)


def _status(reply: object) -> str:
    assert isinstance(reply, health_pb2.HealthCheckResponse)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _seen(how: str, began: float) -> str:
    return f"{how} {time.monotonic() - began:.1f} s after the kill hook exited"
