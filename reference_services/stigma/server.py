"""StigmaService.StartAgent: validate, durably start (or re-attach) the agent, ACK."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError
from stigma.v1 import stigma_service_pb2 as pb
from stigma.v1 import stigma_service_pb2_grpc as pb_grpc
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from reference_services.common import metrics, tuning
from reference_services.common.jsonlog import EventLog, token_fingerprint
from reference_services.stigma import validation
from reference_services.stigma.model import AgentRequest, TokenAttachment

log = EventLog("stigma.server")


@dataclass(frozen=True)
class Undecodable:
    """A request body that is not a StartAgentRequest at all (corrupt wire format,
    invalid UTF-8 in a string field). grpcio would answer UNKNOWN with an internal
    exception name, which callers may retry; it is the caller's input problem."""

    reason: str


def decode_request(data: bytes) -> pb.StartAgentRequest | Undecodable:
    try:
        return pb.StartAgentRequest.FromString(data)
    except DecodeError as err:
        return Undecodable(str(err))


class AlreadyFinishedError(Exception):
    """The execution for this idempotency key has already closed."""


class WorkflowStarter(Protocol):
    async def start(
        self, workflow_id: str, request: AgentRequest, timeout_s: float | None
    ) -> None: ...


class TemporalStarter:
    """Start the agent's workflow, or hand the newest token to the one already running.

    A plain start with eager dispatch (``request_eager_start``): the server hands
    the workflow's first task straight back to this process's worker in the
    start reply, saving a trip through matching (about 40 ms on the dev server,
    measured). Signal-with-start, which did both in one call, cannot be eager.
    Same outcomes: the token travels in the workflow's input (its run() attaches
    it), and when the id exists the token goes by signal; a closed execution
    answers the signal NOT_FOUND, which is "already finished" as before.
    """

    def __init__(
        self,
        client: Client,
        task_queue: str,
        completion_window_s: float,
        eager: bool = True,
        agent_task_queue: str = "agents",
        max_payload_bytes: int = 0,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._agent_task_queue = agent_task_queue
        self._window = completion_window_s
        self._eager = eager
        self._max_payload_bytes = max_payload_bytes

    async def start(self, workflow_id: str, request: AgentRequest, timeout_s: float | None) -> None:
        rpc_timeout = timedelta(seconds=timeout_s) if timeout_s else None
        request.agent_task_queue = self._agent_task_queue
        request.max_payload_bytes = self._max_payload_bytes
        try:
            handle: WorkflowHandle[object, object] = await self._client.start_workflow(
                "StigmaWorkflow",
                args=[request, self._window],
                id=workflow_id,
                task_queue=self._task_queue,
                # One agent per idempotency key, ever (also after it closed).
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                request_eager_start=self._eager,
                task_timeout=tuning.WORKFLOW_TASK_TIMEOUT,
                rpc_timeout=rpc_timeout,
            )
        except WorkflowAlreadyStartedError:
            if request.token is None:
                return  # direct call repeated: the agent exists, nothing to attach
            await self._attach(workflow_id, request, rpc_timeout)
            return
        del handle

    async def _attach(
        self, workflow_id: str, request: AgentRequest, rpc_timeout: timedelta | None
    ) -> None:
        """A retried Zigflow attempt: its live token to the running execution."""
        try:
            await self._client.get_workflow_handle(workflow_id).signal(
                "attach_token", request.token, rpc_timeout=rpc_timeout
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:  # closed: its result went earlier
                raise AlreadyFinishedError(workflow_id) from None
            raise


def workflow_id_for(request: pb.StartAgentRequest) -> str:
    if request.idempotency_key:
        return f"stigma-{request.idempotency_key}"
    return f"stigma-direct-{uuid.uuid4()}"


def execution_id_for(workflow_id: str) -> str:
    return "agx-" + hashlib.sha256(workflow_id.encode()).hexdigest()[:16]


class StigmaServicer(pb_grpc.StigmaServiceServicer):  # type: ignore[misc]
    def __init__(self, starter: WorkflowStarter, max_payload_bytes: int = 0) -> None:
        self._starter = starter
        # The cluster's payload limit: an input over it can never start an execution.
        self._max_payload_bytes = max_payload_bytes

    async def StartAgent(
        self,
        request: pb.StartAgentRequest | Undecodable,
        context: grpc.aio.ServicerContext[object, object],
    ) -> empty_pb2.Empty:
        if isinstance(request, Undecodable):
            log.event("start_agent.undecodable", reason=request.reason)
            metrics.start_agent_answered("undecodable")
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request is not a valid StartAgentRequest: {request.reason}",
            )
        token: bytes = request.callback_token
        corr = request.correlation
        ids: dict[str, Any] = {
            "agent_id": request.agent_id[:128],
            "idempotency_key": request.idempotency_key[:512],
            "workflow_id": corr.zigflow_workflow_id,
            "activity_id": corr.zigflow_activity_id,
            "attempt": corr.zigflow_attempt,
            "token_fp": token_fingerprint(token),
        }
        found = validation.problems(request)
        if 0 < self._max_payload_bytes < len(request.input):
            found.append(
                f"input: {len(request.input)} bytes, over the cluster's payload limit of "
                f"{self._max_payload_bytes} bytes"
            )
        if found:
            message = "invalid StartAgentRequest: " + "; ".join(found)
            log.event("start_agent.invalid", problems=found, **ids)
            metrics.start_agent_answered("invalid")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
        workflow_id = workflow_id_for(request)
        execution_id = execution_id_for(workflow_id)
        attachment = (
            TokenAttachment(
                base64.b64encode(token).decode(),
                max(corr.zigflow_attempt, 1),
                corr.zigflow_workflow_id,
                corr.zigflow_run_id,
                corr.zigflow_activity_id,
            )
            if token
            else None
        )
        agent_request = AgentRequest(
            execution_id,
            request.agent_id,
            request.input.decode("utf-8") if request.input else "",
            request.idempotency_key,
            attachment,
            heartbeat_every_s=(
                request.heartbeat_timeout.ToTimedelta().total_seconds() / 3
                if token and request.HasField("heartbeat_timeout")
                else None
            ),
        )
        ids.update(stigma_workflow_id=workflow_id, agent_execution_id=execution_id)
        log.event("start_agent.received", direct=not token, **ids)
        try:
            await self._starter.start(workflow_id, agent_request, context.time_remaining())
        except AlreadyFinishedError:
            message = (
                f"agent execution {execution_id} for idempotency key "
                f"{request.idempotency_key!r} has already finished; its result went to an "
                "earlier attempt's token"
            )
            log.event("start_agent.already_finished", **ids)
            metrics.start_agent_answered("already_finished")
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)
        except RPCError as err:
            log.event(
                "start_agent.temporal_error", code=err.status.name, message=err.message, **ids
            )
            if err.status == RPCStatusCode.INVALID_ARGUMENT:
                # Temporal refuses this start for good (an input that, with the token,
                # is over the payload limit): a retry would meet the same answer.
                metrics.start_agent_answered("invalid")
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Temporal refused the agent's start: {err.message}",
                )
            metrics.start_agent_answered("temporal_error")
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"could not start the agent durably ({err.status.name}: {err.message}); "
                "retry with the same idempotency_key",
            )
        log.event("start_agent.ack", **ids)
        metrics.start_agent_answered("ack")
        return empty_pb2.Empty()


def add_to_server(servicer: StigmaServicer, server: grpc.aio.Server) -> None:
    """Register StartAgent with a deserializer that turns decode errors into
    INVALID_ARGUMENT (the generated add_..._to_server cannot)."""
    handler = grpc.method_handlers_generic_handler(
        "stigma.v1.StigmaService",
        {
            "StartAgent": grpc.unary_unary_rpc_method_handler(
                servicer.StartAgent,
                request_deserializer=decode_request,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
