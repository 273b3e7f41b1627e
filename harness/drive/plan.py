"""Build Zigflow plans and agent scripts: the JSON the reference workflow accepts.

A plan is a list of states; an agent script tells the harness's agent
(``harness/stack/agent.py``) how to behave: it travels in the agent's input, which
Stigma passes on untouched (docs handbook, "What the harness expects of the workflows").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

HANDSHAKE = "handshake"
DIRECT = "direct"
# The plan contract's defaults (docs handbook, "What the harness expects of the workflows").
DEFAULT_START_TO_CLOSE_S = 24 * 3600.0
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class AgentScript:
    outcome: str = "success"  # "success" | "failure"
    output: Any = None
    hold: bool = False  # wait, heartbeating, until the harness releases it (Driver.release)
    error_type: str = "AgentError"
    error_message: str = "agent failed"
    result_size: int = 0  # bytes of padding in the output
    work_s: float = 0.0  # wall seconds of work inside the agent, heartbeating
    # bytes of padding after the failure's message: a failure over the payload limit
    # without an input over it (the script travels in StartAgent's input)
    error_size: int = 0

    def to_input(self, **extra: Any) -> dict[str, Any]:
        script = asdict(self)
        if not self.error_size:
            del script["error_size"]  # every other script's input as it always was
        return {"script": script, **extra}


def succeeds(output: Any = None, **kw: Any) -> AgentScript:
    return AgentScript(outcome="success", output=output, **kw)


def fails(error_type: str, error_message: str, **kw: Any) -> AgentScript:
    return AgentScript(outcome="failure", error_type=error_type, error_message=error_message, **kw)


def call_agent(
    name: str,
    script: AgentScript,
    *,
    agent_id: str = "stand-in",
    mode: str = HANDSHAKE,
    start_to_close_s: float | None = None,
    heartbeat_timeout_s: float | None = None,
    max_attempts: int | None = None,
    on_error: str = "fail",
    agent_max_run_s: float | None = None,
) -> dict[str, Any]:
    """One agent call. ``agent_max_run_s`` is how long the agent may run: what the
    StartToClose Zigflow schedules must cover (checkers.agent_activity_options). Default:
    the StartToClose the state asks for, else the design's 24 h. Zigflow may ignore it."""
    state: dict[str, Any] = {
        "name": name,
        "kind": "call_agent",
        "agent_id": agent_id,
        "input": script.to_input(),
        "mode": mode,
        "on_error": on_error,
    }
    if start_to_close_s is not None:
        state["start_to_close_s"] = start_to_close_s
    if heartbeat_timeout_s is not None:
        state["heartbeat_timeout_s"] = heartbeat_timeout_s
    if max_attempts is not None:
        state["max_attempts"] = max_attempts
    state["agent_max_run_s"] = (
        agent_max_run_s
        if agent_max_run_s is not None
        else start_to_close_s
        if start_to_close_s is not None
        else DEFAULT_START_TO_CLOSE_S
    )
    return state


def echo(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "kind": "echo", "input": value}


def plan(*states: dict[str, Any]) -> dict[str, Any]:
    return {"states": list(states)}


def activity_id(index: int, state: dict[str, Any]) -> str:
    """The activity id Zigflow gives state ``index`` (part of the plan contract)."""
    return f"{index}-{state['name']}"


def script_of(state: dict[str, Any]) -> dict[str, Any]:
    value = state.get("input")
    return value.get("script", {}) if isinstance(value, dict) else {}
