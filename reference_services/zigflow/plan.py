"""The Zigflow workflow's input and output: a JSON contract shared with the harness.

The harness builds plans as plain JSON (``harness/drive/plan.py``); these dataclasses
are the reference worker's view of the same shape. Only the standard library is
imported, because this module is loaded inside Temporal's workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Defaults are the plan's (seed doc, phase 2): 24 h StartToClose, explicit retries.
DEFAULT_START_TO_CLOSE_S = 24 * 3600.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_INTERVAL_S = 1.0
DEFAULT_MAX_INTERVAL_S = 30.0


@dataclass
class State:
    """One step of a plan.

    kind "call_agent": run agent ``agent_id`` with ``input`` (JSON value).
      mode "handshake" waits for the agent's result by task token;
      mode "direct" moves on at Stigma's ACK (pre-handshake behaviour).
    kind "echo": a trivial activity returning ``input``; proves the worker serves.
    """

    name: str
    kind: str = "call_agent"
    agent_id: str = ""
    input: Any = None
    mode: str = "handshake"
    start_to_close_s: float = DEFAULT_START_TO_CLOSE_S
    heartbeat_timeout_s: float | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_interval_s: float = DEFAULT_INITIAL_INTERVAL_S
    max_interval_s: float = DEFAULT_MAX_INTERVAL_S
    on_error: str = "fail"  # "fail" the workflow, or "continue" with the next state


@dataclass
class Plan:
    states: list[State] = field(default_factory=list)


@dataclass
class AgentCall:
    """Input of the ``ExecuteAgent`` activity."""

    agent_id: str
    input_json: str
    mode: str = "handshake"


@dataclass
class StateResult:
    name: str
    status: str  # "ok" | "failed"
    activity_id: str = ""
    result: Any = None
    error_type: str = ""
    error_message: str = ""


@dataclass
class PlanResult:
    states: list[StateResult] = field(default_factory=list)
