"""StigmaWorkflow: run the agent, then complete or fail the waiting Zigflow activity by token.

The agent is one activity, ``run_agent(agent_id, input)`` on the agents' task queue
(the request's fields as received); its result is the agent's output, and its
ApplicationError (type, message) is the agent's failure. Stigma does not read the
input.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from reference_services.stigma import payload_limit
from reference_services.stigma.model import (
    AgentRequest,
    Completion,
    CompletionOutcome,
    ExecutionSummary,
    TokenAttachment,
    envelope,
)

with workflow.unsafe.imports_passed_through():  # the process's metrics, not a sandbox copy
    from reference_services.common import metrics

# Completion calls: transient errors are retried with backoff inside the
# completion window; NOT_FOUND / rejected tokens come back as outcomes (the
# system activity never raises for them), so they are never retried.
COMPLETION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# An agent attempt lost with its worker is retried; an agent's own failure is
# non-retryable. A result over the server's payload limit is refused on every attempt alike.
AGENT_RETRY = RetryPolicy(
    maximum_attempts=3,
    initial_interval=timedelta(seconds=1),
    non_retryable_error_types=["PayloadsTooLarge"],
)
# Agents run for minutes or hours and heartbeat: a lost agent worker is noticed within
# the heartbeat timeout; the StartToClose only bounds a runaway agent.
AGENT_HEARTBEAT = timedelta(minutes=5)
AGENT_START_TO_CLOSE = timedelta(days=7)
# System activities heartbeat while they work, so an attempt lost with a killed Stigma
# worker is retried on the next worker within seconds, not after its StartToClose.
WORKER_HEARTBEAT = timedelta(seconds=3)
# How long a finished execution waits for a retrying Zigflow attempt's live token
# after its own token turned out dead (Zigflow's retry backoff is at most 30 s).
TOKEN_GRACE_S = 120.0


@workflow.defn(name="StigmaWorkflow")
class StigmaWorkflow:
    def __init__(self) -> None:
        self._token: TokenAttachment | None = None
        self._tokens_seen: set[str] = set()
        self._cancel_requested = False
        self._heartbeats = 0
        # Why the agent's outcome cannot be delivered as it is (over the cluster's
        # payload limit), or "" while it can: then Zigflow's activity is failed with
        # ResultTooLarge and the completion is recorded result_too_large.
        self._too_large = ""

    @workflow.signal(name="attach_token")
    def attach_token(self, attachment: TokenAttachment) -> None:
        """A (re)tried Zigflow attempt's token; the newest attempt wins."""
        self._tokens_seen.add(attachment.token_b64)
        if self._token is None or attachment.attempt >= self._token.attempt:
            self._token = attachment

    @workflow.query(name="token_attempt")
    def token_attempt(self) -> int:
        return self._token.attempt if self._token else 0

    @workflow.run
    async def run(self, request: AgentRequest, completion_window_s: float) -> ExecutionSummary:
        # "Running" is a set of ids: a replay re-adds harmlessly; an eviction
        # (a BaseException, not caught here) leaves a live workflow counted.
        workflow_id = workflow.info().workflow_id
        metrics.stigma_workflow_started(workflow_id)
        try:
            summary = await self._run(request, completion_window_s)
        except (Exception, asyncio.CancelledError):
            metrics.stigma_workflow_ended(workflow_id)
            raise
        metrics.stigma_workflow_ended(workflow_id)
        return summary

    async def _run(self, request: AgentRequest, completion_window_s: float) -> ExecutionSummary:
        if request.token is not None:
            self.attach_token(request.token)
        summary = ExecutionSummary(
            request.execution_id, request.agent_id, request.idempotency_key, "succeeded"
        )
        agent = asyncio.create_task(self._agent(request))
        beats = (
            asyncio.create_task(self._heartbeat(request.heartbeat_every_s))
            if request.heartbeat_every_s and self._token is not None
            else None
        )
        await workflow.wait_condition(lambda: agent.done() or self._cancel_requested)
        if beats is not None:
            beats.cancel()
        summary.heartbeats = self._heartbeats
        if not agent.done():  # Zigflow asked to cancel (seen on a heartbeat): stop the agent
            agent.cancel()
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await agent
            summary.agent_outcome = "canceled"
            summary.tokens_seen = len(self._tokens_seen)
            summary.completion = await self._deliver(request, summary, completion_window_s)
            return summary
        try:
            summary.output = agent.result()
        except ActivityError as err:
            cause = err.__cause__
            summary.agent_outcome = "failed"
            summary.error_type = (
                cause.type or "ApplicationError"
                if isinstance(cause, ApplicationError)
                else type(cause).__name__
            )
            summary.error_message = (
                cause.message if isinstance(cause, ApplicationError) else str(cause)
            )
            if payload_limit.refused_for_size(cause):
                # Over the limit on its way in: the agent's own outcome is lost, only
                # that it was too large is known.
                self._too_large = payload_limit.too_large_message(
                    "result or failure", None, request.max_payload_bytes
                )
        summary.tokens_seen = len(self._tokens_seen)
        if self._token is None:  # direct call: run the agent, complete nothing
            return self._fit(request, summary)
        summary.completion = await self._deliver(request, summary, completion_window_s)
        summary.tokens_seen = len(self._tokens_seen)  # retried attempts may have attached more
        return self._fit(request, summary)

    @staticmethod
    def _fit(request: AgentRequest, summary: ExecutionSummary) -> ExecutionSummary:
        """The summary within the payload limit (a workflow result over it would fail
        every workflow task and never close): the agent's output, then its error
        message, left out when they make it too large (the summary is evidence, the
        result went, or did not, by token)."""
        converter = workflow.payload_converter()
        limit = request.max_payload_bytes
        if payload_limit.over_limit(payload_limit.encoded_size(converter, summary), limit):
            summary.output = None
        if payload_limit.over_limit(payload_limit.encoded_size(converter, summary), limit):
            summary.error_message = summary.error_message[:1024]
        return summary

    async def _agent(self, request: AgentRequest) -> Any:
        return await workflow.execute_activity(
            "run_agent",
            args=[request.agent_id, request.input_json.encode("utf-8")],
            task_queue=request.agent_task_queue or None,
            start_to_close_timeout=AGENT_START_TO_CLOSE,
            heartbeat_timeout=AGENT_HEARTBEAT,
            retry_policy=AGENT_RETRY,
        )

    async def _heartbeat(self, every_s: float) -> None:
        """Keep Zigflow's activity alive by token; its answer may ask us to cancel."""
        while True:
            await workflow.sleep(timedelta(seconds=every_s))
            token = self._token
            assert token is not None
            try:
                outcome: CompletionOutcome = await workflow.execute_activity(
                    "heartbeat_zigflow_activity",
                    Completion(
                        token.token_b64,
                        token.attempt,
                        "",
                        zigflow_workflow_id=token.zigflow_workflow_id,
                        zigflow_run_id=token.zigflow_run_id,
                        zigflow_activity_id=token.zigflow_activity_id,
                    ),
                    result_type=CompletionOutcome,
                    start_to_close_timeout=timedelta(seconds=max(every_s, 5.0)),
                    retry_policy=RetryPolicy(maximum_attempts=2),
                )
            except ActivityError:
                continue  # a missed beat; the next one may get through
            self._heartbeats += 1
            if outcome.status == "cancel_requested" or outcome.requester_closed:
                # Cancelled, or Zigflow's workflow closed without waiting for us (the
                # SDKs' default cancellation): nobody will take the result, stop the agent.
                self._cancel_requested = True
                return
            if outcome.status == "token_dead" and (
                outcome.retry_pending
                or (self._token is not None and self._token.attempt > token.attempt)
            ):
                # That attempt timed out and Zigflow is retrying: beat the retry's live
                # token once its StartAgent attaches it (it may already have), or its
                # attempt times out by heartbeat too while the agent works on.
                used = token.attempt
                try:
                    await workflow.wait_condition(
                        lambda: self._token is not None and self._token.attempt > used,  # noqa: B023
                        timeout=timedelta(seconds=TOKEN_GRACE_S),
                    )
                except TimeoutError:
                    return
                continue
            if outcome.status in ("token_dead", "token_rejected"):
                return  # nobody is waiting any more; the result will say so

    async def _deliver(
        self, request: AgentRequest, summary: ExecutionSummary, window_s: float
    ) -> CompletionOutcome:
        while True:
            token = self._token
            assert token is not None
            outcome = await self._deliver_once(request, summary, window_s, token)
            if outcome.status != "token_dead":
                return outcome
            if self._token is not None and self._token.attempt > token.attempt:
                continue  # a newer Zigflow attempt attached its token meanwhile
            if not outcome.retry_pending:
                return outcome  # nobody is waiting any more: recorded, not retried
            # The ACK of an earlier attempt was lost and Zigflow is retrying: its next
            # StartAgent re-attaches a live token to this execution. Wait for it.
            try:
                used = token.attempt
                await workflow.wait_condition(
                    lambda: self._token is not None and self._token.attempt > used,  # noqa: B023
                    timeout=timedelta(seconds=TOKEN_GRACE_S),
                )
            except TimeoutError:
                return outcome

    def _within_limit(
        self, request: AgentRequest, name: str, completion: Completion
    ) -> tuple[str, Completion]:
        """The call to make: ``completion`` as it is when its encoded size (the system
        activity's input, which carries the envelope Zigflow gets and the token, so it
        is the larger) is within the payload limit; else failing Zigflow's activity with
        ResultTooLarge. Over the limit the server would refuse the activity's input
        (the workflow task fails, again and again: the result never leaves), or, by
        token, answer OK and fail Zigflow's activity with a ServerError of its own."""
        limit = request.max_payload_bytes
        if not self._too_large:
            size = payload_limit.encoded_size(workflow.payload_converter(), completion)
            if not payload_limit.over_limit(size, limit):
                return name, completion
            what = "result" if name == "complete_zigflow_activity" else "failure"
            self._too_large = payload_limit.too_large_message(what, size, limit)
        return "fail_zigflow_activity", Completion(
            completion.token_b64,
            completion.attempt,
            completion.execution_id,
            result=envelope(request, workflow.info().workflow_id, None),
            error_type=payload_limit.RESULT_TOO_LARGE,
            error_message=self._too_large,
        )

    async def _deliver_once(
        self,
        request: AgentRequest,
        summary: ExecutionSummary,
        window_s: float,
        token: TokenAttachment,
    ) -> CompletionOutcome:
        request.token = token
        info = workflow.info()
        if summary.agent_outcome == "canceled":
            name = "cancel_zigflow_activity"
            completion = Completion(token.token_b64, token.attempt, request.execution_id)
        elif summary.agent_outcome == "succeeded":
            name = "complete_zigflow_activity"
            completion = Completion(
                token.token_b64,
                token.attempt,
                request.execution_id,
                result=envelope(request, info.workflow_id, summary.output),
            )
        else:
            name = "fail_zigflow_activity"
            completion = Completion(
                token.token_b64,
                token.attempt,
                request.execution_id,
                result=envelope(request, info.workflow_id, None),
                error_type=summary.error_type,
                error_message=summary.error_message,
            )
        if name != "cancel_zigflow_activity":
            name, completion = self._within_limit(request, name, completion)
        completion.zigflow_workflow_id = token.zigflow_workflow_id
        completion.zigflow_run_id = token.zigflow_run_id
        completion.zigflow_activity_id = token.zigflow_activity_id
        try:
            outcome: CompletionOutcome = await workflow.execute_activity(
                name,
                completion,
                result_type=CompletionOutcome,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=WORKER_HEARTBEAT,
                schedule_to_close_timeout=timedelta(seconds=window_s),
                retry_policy=COMPLETION_RETRY,
            )
            if self._too_large and outcome.status == "delivered":
                # What was delivered is the ResultTooLarge failure, not the outcome.
                outcome.status = "result_too_large"
                outcome.message = self._too_large
            return outcome
        except ActivityError as err:
            # The window closed with only transient errors: recorded, not retried forever.
            metrics.completion_gave_up(workflow.unsafe.is_replaying())
            return CompletionOutcome("gave_up", message=str(err.__cause__ or err))
