"""Data exchanged inside Stigma (workflow input, signals, activity I/O) and the result envelope.

Standard library only: loaded inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENVELOPE_VERSION = 1


@dataclass
class TokenAttachment:
    """The task token of one Zigflow activity attempt (base64; JSON has no bytes)."""

    token_b64: str
    attempt: int
    zigflow_workflow_id: str = ""
    zigflow_run_id: str = ""
    zigflow_activity_id: str = ""


@dataclass
class AgentRequest:
    """StigmaWorkflow input: one agent execution."""

    execution_id: str
    agent_id: str
    input_json: str
    idempotency_key: str
    token: TokenAttachment | None = None
    heartbeat_every_s: float | None = None  # None: Zigflow expects no heartbeats
    agent_task_queue: str = ""  # where the agents' workers poll for run_agent
    # The cluster's payload limit (STIGMA_MAX_PAYLOAD_BYTES); 0: no check.
    max_payload_bytes: int = 0


@dataclass
class Completion:
    """Input of the system activities: what to deliver to which token."""

    token_b64: str
    attempt: int
    execution_id: str
    result: Any = None  # envelope, for complete
    error_type: str = ""  # for fail
    error_message: str = ""
    # Whom the token belongs to: lets Stigma read Zigflow's own record when a call
    # answers NOT_FOUND (was it delivered already? is a newer attempt waiting?).
    zigflow_workflow_id: str = ""
    zigflow_run_id: str = ""
    zigflow_activity_id: str = ""


@dataclass
class CompletionOutcome:
    """What happened to a completion call.

    status: "delivered" | "delivered_earlier" (NOT_FOUND because an earlier call
    whose reply was lost did complete it: Zigflow's history shows our result) |
    "token_dead" (NOT_FOUND: attempt gone, timed out, or workflow closed) |
    "result_too_large" (the agent's result or failure was over the payload limit:
    Zigflow's activity was failed with ResultTooLarge instead) |
    "token_rejected" (malformed / foreign token) | "gave_up" | "no_token";
    for heartbeats also "alive" and "cancel_requested".
    """

    status: str
    grpc_code: str = ""
    message: str = ""
    token_fp: str = ""
    # For token_dead: a newer Zigflow attempt is pending and will bring a live token.
    retry_pending: bool = False
    # For token_dead: Zigflow's workflow has closed; nobody will ever take the result.
    requester_closed: bool = False


@dataclass
class ExecutionSummary:
    """StigmaWorkflow result: the record the harness reads back."""

    execution_id: str
    agent_id: str
    idempotency_key: str
    agent_outcome: str  # "succeeded" | "failed" | "canceled"
    output: Any = None
    error_type: str = ""
    error_message: str = ""
    tokens_seen: int = 0
    heartbeats: int = 0
    completion: CompletionOutcome = field(default_factory=lambda: CompletionOutcome("no_token"))


def envelope(request: AgentRequest, workflow_id: str, output: Any) -> dict[str, Any]:
    """The value Zigflow receives: the agent's output plus whom it is for."""
    token = request.token
    return {
        "envelope_version": ENVELOPE_VERSION,
        "agent_id": request.agent_id,
        "agent_execution_id": request.execution_id,
        "stigma_workflow_id": workflow_id,
        "idempotency_key": request.idempotency_key,
        "zigflow_workflow_id": token.zigflow_workflow_id if token else "",
        "zigflow_activity_id": token.zigflow_activity_id if token else "",
        "output": output,
    }
