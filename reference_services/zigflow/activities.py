"""The ``ExecuteAgent`` activity: hand the task token to Stigma, then go result-pending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from stigma.v1 import stigma_service_pb2 as pb
from stigma.v1 import stigma_service_pb2_grpc as pb_grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from reference_services.common import metrics
from reference_services.common.jsonlog import EventLog, token_fingerprint
from reference_services.zigflow.plan import AgentCall

log = EventLog("zigflow.activity")

# Codes where nothing is known to be wrong with the request itself: the same
# logical call may succeed on a later attempt (same idempotency key, new token).
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class StigmaClient(Protocol):
    async def start_agent(self, request: pb.StartAgentRequest, timeout_s: float) -> None: ...


class GrpcStigmaClient:
    """StartAgent over one long-lived channel (created inside the running loop)."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    async def start_agent(self, request: pb.StartAgentRequest, timeout_s: float) -> None:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self._target)
            self._stub = pb_grpc.StigmaServiceStub(self._channel)
        await self._stub.StartAgent(request, timeout=timeout_s)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)


@dataclass
class StigmaCallError(Exception):
    code: grpc.StatusCode
    details: str


def idempotency_key(info: activity.Info) -> str:
    """Same for every attempt of one activity in one workflow run; new token each time."""
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


class ZigflowActivities:
    def __init__(self, stigma: StigmaClient, ack_timeout_s: float) -> None:
        self._stigma = stigma
        self._ack_timeout_s = ack_timeout_s

    @activity.defn(name="ExecuteAgent")
    async def execute_agent(self, call: AgentCall) -> Any:
        info = activity.info()
        handshake = call.mode != "direct"
        token = info.task_token if handshake else b""
        key = idempotency_key(info)
        ids: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity_id": info.activity_id,
            "attempt": info.attempt,
            "idempotency_key": key,
            "agent_id": call.agent_id,
            "mode": call.mode,
            "token_fp": token_fingerprint(token),
        }
        log.event("execute_agent.start", **ids)
        metrics.agent_activity_started(call.mode)
        request = pb.StartAgentRequest(
            agent_id=call.agent_id,
            input=call.input_json.encode(),
            callback_token=token,
            idempotency_key=key,
            correlation=pb.Correlation(
                zigflow_workflow_id=info.workflow_id,
                zigflow_run_id=info.workflow_run_id,
                zigflow_activity_id=info.activity_id,
                zigflow_attempt=info.attempt,
                trace_id=key,
            ),
        )
        if handshake and info.heartbeat_timeout:
            request.heartbeat_timeout.FromTimedelta(info.heartbeat_timeout)
        try:
            await self._stigma.start_agent(request, self._ack_timeout_s)
        except grpc.aio.AioRpcError as err:
            raise _classify(err.code(), err.details() or "", ids) from None
        if not handshake:
            log.event("execute_agent.acked_direct", **ids)
            return {"acked": True, "mode": "direct", "idempotency_key": key}
        log.event("execute_agent.pending", **ids)
        metrics.agent_activity_pending(key)
        # The worker slot is freed here; Stigma completes this attempt by token.
        activity.raise_complete_async()

    @activity.defn(name="echo")
    async def echo(self, value: Any) -> Any:
        return value


def _classify(code: grpc.StatusCode, details: str, ids: dict[str, Any]) -> ApplicationError:
    """Fail fast, never pending: retryable when the request may succeed later."""
    retryable = code in RETRYABLE_CODES
    metrics.start_agent_error(code.name, retryable)
    error_type = "StigmaUnavailable" if retryable else "StigmaRejected"
    log.event(
        "execute_agent.stigma_error", code=code.name, details=details, retryable=retryable, **ids
    )
    return ApplicationError(
        f"StartAgent failed with {code.name}: {details}",
        {"grpc_code": code.name, "details": details},
        type=error_type,
        non_retryable=not retryable,
    )
