"""Activity-level certification: the harness's own workflow runs the plan and calls the
team's Zigflow agent activity by its type name on Zigflow's task queue.

A team's Zigflow then has to provide only what production needs: its agent activity
(StartAgent with the attempt's task token, then "result pending") on a worker of
ZIGFLOW_TASK_QUEUE. The workflow around it is ours, so the scenarios judge that
activity and nothing the team would otherwise have to write for the harness (a plan
interpreter, our result shape, our failure names). ``--zigflow-level workflow``
drives the team's own workflow instead (the reference's ``ZigflowWorkflow``).

The workflow is the reference ZigflowWorkflow's logic (explicit retry policy,
StartToClose and heartbeat timeout from the plan, waiting for the activity's
cancellation, the envelope check against crossed wires) without its metrics, and
runs on a worker inside the harness process (``harness/stack/stack.py``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, TimeoutError
from temporalio.workflow import ActivityCancellationType

WORKFLOW = "HandshakePlan"
# What the harness's workflow raises, for humans; checkers judge structure, not these.
CROSSED_WIRES = "CrossedWires"
STATE_FAILED = "StateFailed"
# The plan's defaults (seed doc, phase 2): 24 h StartToClose, explicit retries.
DEFAULTS = {
    "start_to_close_s": 24 * 3600.0,
    "max_attempts": 5,
    "initial_interval_s": 1.0,
    "max_interval_s": 30.0,
}


def plan_input(plan: dict[str, Any], task_queue: str, agent_activity: str) -> dict[str, Any]:
    """The workflow's input: the plan plus where and what to call (kept in the input so
    that a replay schedules exactly what the first run did)."""
    return {**plan, "zigflow": {"task_queue": task_queue, "activity": agent_activity}}


def _describe(err: BaseException) -> tuple[str, str]:
    cause = err.__cause__ if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError", cause.message
    if isinstance(cause, TimeoutError):
        return f"Timeout.{cause.type.name if cause.type else 'UNKNOWN'}", cause.message
    return type(cause).__name__, str(cause)


@activity.defn(name="echo")
async def echo(value: Any) -> Any:
    return value


@workflow.defn(name=WORKFLOW)
class HandshakePlan:
    @workflow.run
    async def run(self, plan: dict[str, Any]) -> dict[str, Any]:
        target = plan["zigflow"]
        results: list[dict[str, Any]] = []
        for index, state in enumerate(plan["states"]):
            activity_id = f"{index}-{state['name']}"
            try:
                value = await self._run_state(state, activity_id, target)
                results.append({"name": state["name"], "status": "ok", "result": value})
            except (ActivityError, ApplicationError) as err:
                if isinstance(err.__cause__, CancelledError):
                    raise err.__cause__ from err  # cancelled: say so, not "failed"
                error_type, message = _describe(err)
                results.append(
                    {
                        "name": state["name"],
                        "status": "failed",
                        "error_type": error_type,
                        "error_message": message,
                    }
                )
                if state.get("on_error", "fail") != "continue":
                    raise ApplicationError(
                        f"state {state['name']!r} failed: {error_type}: {message}",
                        {"states": results},
                        type=STATE_FAILED,
                        non_retryable=True,
                    ) from err
        return {"states": results}

    async def _run_state(
        self, state: dict[str, Any], activity_id: str, target: dict[str, str]
    ) -> Any:
        if state.get("kind", "call_agent") == "echo":
            # A step between agent calls, served by the harness itself: at activity level
            # Zigflow's worker owes us nothing but its agent activity.
            return await workflow.execute_activity(
                echo,
                state.get("input"),
                activity_id=activity_id,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        mode = state.get("mode", "handshake")
        heartbeat = state.get("heartbeat_timeout_s")
        result = await workflow.execute_activity(
            target["activity"],
            {"agent_id": state["agent_id"], "input_json": json.dumps(state["input"]), "mode": mode},
            activity_id=activity_id,
            task_queue=target["task_queue"],
            start_to_close_timeout=timedelta(
                seconds=state.get("start_to_close_s", DEFAULTS["start_to_close_s"])
            ),
            heartbeat_timeout=timedelta(seconds=heartbeat) if heartbeat else None,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(
                    seconds=state.get("initial_interval_s", DEFAULTS["initial_interval_s"])
                ),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(
                    seconds=state.get("max_interval_s", DEFAULTS["max_interval_s"])
                ),
                maximum_attempts=int(state.get("max_attempts", DEFAULTS["max_attempts"])),
            ),
            # The harness waits until Stigma confirms a cancellation by token, so a
            # cancelled agent is known to be stopped, not just abandoned.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        if mode == "handshake":
            self._check_envelope(result, activity_id)
        return result

    def _check_envelope(self, result: Any, activity_id: str) -> None:
        """A result completed by token must name the activity it was meant for; a token
        that crossed wires would otherwise hand us someone else's result."""
        info = workflow.info()
        got = (
            (result.get("zigflow_workflow_id"), result.get("zigflow_activity_id"))
            if isinstance(result, dict)
            else None
        )
        if got != (info.workflow_id, activity_id):
            raise ApplicationError(
                f"result envelope is for {got}, expected {(info.workflow_id, activity_id)}",
                type=CROSSED_WIRES,
                non_retryable=True,
            )
