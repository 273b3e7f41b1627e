"""ZigflowWorkflow: runs a plan's states in order; agent calls go through the handshake."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
)
from temporalio.workflow import ActivityCancellationType

from reference_services.zigflow.plan import AgentCall, Plan, PlanResult, State, StateResult

with workflow.unsafe.imports_passed_through():  # the process's metrics, not a sandbox copy
    from reference_services.common import metrics

# Errors after which a retry cannot help: the request itself is wrong, or the
# agent failed (its own retries belong to Stigma, not to Zigflow).
NON_RETRYABLE = ["StigmaRejected", "CrossedWires"]


def _retry_policy(state: State) -> RetryPolicy:
    # Explicit on purpose: Temporal's default policy retries forever, and every
    # retry issues a new task token (the old one dies).
    return RetryPolicy(
        initial_interval=timedelta(seconds=state.initial_interval_s),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=state.max_interval_s),
        maximum_attempts=state.max_attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )


def _describe(err: BaseException) -> tuple[str, str]:
    cause = err.__cause__ if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError", cause.message
    if isinstance(cause, TimeoutError):
        return f"Timeout.{cause.type.name if cause.type else 'UNKNOWN'}", cause.message
    return type(cause).__name__, str(cause)


@workflow.defn(name="ZigflowWorkflow")
class ZigflowWorkflow:
    # A cancelled workflow waits until Stigma confirms (report_cancellation by token) so
    # the agent is known to be stopped, not just abandoned.
    agent_cancellation = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED

    @workflow.run
    async def run(self, plan: Plan) -> PlanResult:
        results: list[StateResult] = []
        for index, state in enumerate(plan.states):
            activity_id = f"{index}-{state.name}"
            try:
                value = await self._run_state(state, activity_id)
                results.append(StateResult(state.name, "ok", activity_id, value))
            except (ActivityError, ApplicationError) as err:
                if isinstance(err.__cause__, CancelledError):
                    raise err.__cause__ from err  # the workflow was cancelled: say so, not "failed"
                error_type, message = _describe(err)
                results.append(
                    StateResult(state.name, "failed", activity_id, None, error_type, message)
                )
                if state.on_error != "continue":
                    raise ApplicationError(
                        f"state {state.name!r} failed: {error_type}: {message}",
                        {"states": [r.__dict__ for r in results]},
                        type="StateFailed",
                        non_retryable=True,
                    ) from err
        return PlanResult(results)

    async def _run_state(self, state: State, activity_id: str) -> Any:
        if state.kind == "echo":
            return await workflow.execute_activity(
                "echo",
                state.input,
                activity_id=activity_id,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        if state.kind != "call_agent":
            raise ApplicationError(f"unknown state kind {state.kind!r}", type="BadPlan")
        call = AgentCall(state.agent_id, json.dumps(state.input), state.mode)
        scheduled = workflow.now()
        try:
            result: Any = await self._execute_agent(state, call, activity_id)
        except ActivityError as err:
            _observe(state.mode, activity_id, scheduled, err)
            raise
        _observe(state.mode, activity_id, scheduled, None)
        if state.mode == "handshake":
            self._check_envelope(result, activity_id)
        return result

    async def _execute_agent(self, state: State, call: AgentCall, activity_id: str) -> Any:
        return await workflow.execute_activity(
            "ExecuteAgent",
            call,
            activity_id=activity_id,
            start_to_close_timeout=timedelta(seconds=state.start_to_close_s),
            heartbeat_timeout=(
                timedelta(seconds=state.heartbeat_timeout_s) if state.heartbeat_timeout_s else None
            ),
            retry_policy=_retry_policy(state),
            cancellation_type=self.agent_cancellation,
        )

    def _check_envelope(self, result: Any, activity_id: str) -> None:
        """A result completed by token must name the activity it was meant for.

        A token that crossed wires (another agent's token) would otherwise hand
        this workflow someone else's result without anybody noticing.
        """
        info = workflow.info()
        if not isinstance(result, dict):
            raise ApplicationError(
                f"agent result is not an envelope: {type(result).__name__}", type="CrossedWires"
            )
        got = (result.get("zigflow_workflow_id"), result.get("zigflow_activity_id"))
        if got != (info.workflow_id, activity_id):
            raise ApplicationError(
                f"result envelope is for {got}, expected {(info.workflow_id, activity_id)}",
                type="CrossedWires",
            )


def _observe(mode: str, activity_id: str, scheduled: Any, err: ActivityError | None) -> None:
    """Metrics for an agent activity's final outcome (no-op without a metrics runtime)."""
    info = workflow.info()
    if err is None:
        outcome, detail = "completed", ""
    elif isinstance(err.__cause__, CancelledError):
        outcome, detail = "canceled", ""
    else:
        detail = _describe(err)[0]
        outcome = "timed_out" if isinstance(err.__cause__, TimeoutError) else "failed"
    metrics.agent_activity_resolved(
        f"{info.workflow_id}/{info.run_id}/{activity_id}",
        mode,
        outcome,
        (workflow.now() - scheduled).total_seconds(),
        workflow.unsafe.is_replaying(),
        detail,
    )
