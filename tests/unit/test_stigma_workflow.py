"""StigmaWorkflow on the time-skipping test server, with stand-in activities and a
stand-in agent on the agents' task queue."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import pathlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from reference_services.stigma.model import (
    AgentRequest,
    Completion,
    CompletionOutcome,
    ExecutionSummary,
    TokenAttachment,
)
from reference_services.stigma.workflow import AGENT_HEARTBEAT, StigmaWorkflow

pytestmark = pytest.mark.unit

TEST_SERVER = pathlib.Path(sys.executable).parent / "temporal-test-server"
WINDOW_S = 60.0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    if not TEST_SERVER.exists():
        pytest.fail(f"{TEST_SERVER} is missing (it is never downloaded): run `make setup`")
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER)
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@dataclass(frozen=True)
class AgentCall:
    agent_id: str
    input: bytes
    task_queue: str
    heartbeat_timeout_s: float | None


@dataclass
class StandIns:
    """The activities StigmaWorkflow schedules, recording what they were given: the
    system activities on Stigma's queue, the agent on the agents' queue."""

    completion_status: str = "delivered"
    transient_completion: bool = False
    agent_calls: list[AgentCall] = field(default_factory=list)
    completed: list[Completion] = field(default_factory=list)
    failed: list[Completion] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="run_agent")
    async def run_agent(self, agent_id: str, input: bytes) -> Any:
        info = activity.info()
        timeout = info.heartbeat_timeout.total_seconds() if info.heartbeat_timeout else None
        self.agent_calls.append(AgentCall(agent_id, input, info.task_queue, timeout))
        script = json.loads(input)["script"]
        if script.get("hold"):
            await self.released.wait()
        if script.get("outcome") == "failure":
            raise ApplicationError(
                script["error_message"], type=script["error_type"], non_retryable=True
            )
        return {"agent_id": agent_id, "value": script.get("output")}

    @activity.defn(name="complete_zigflow_activity")
    async def complete(self, completion: Completion) -> CompletionOutcome:
        self.completed.append(completion)
        return self._outcome()

    @activity.defn(name="fail_zigflow_activity")
    async def fail(self, completion: Completion) -> CompletionOutcome:
        self.failed.append(completion)
        return self._outcome()

    def _outcome(self) -> CompletionOutcome:
        if self.transient_completion:
            raise RPCError("frontend down", RPCStatusCode.UNAVAILABLE, b"")
        return CompletionOutcome(self.completion_status, token_fp="fp")


def token(attempt: int, value: bytes | None = None) -> TokenAttachment:
    raw = value or f"token-{attempt}".encode()
    return TokenAttachment(
        base64.b64encode(raw).decode(), attempt, "zig-42", f"run-{attempt}", "0-summarize"
    )


def request(script: dict[str, Any], attachment: TokenAttachment | None) -> AgentRequest:
    return AgentRequest(
        "agx-1", "summarize", json.dumps({"script": script}), "zig-42/r/0-summarize", attachment
    )


class Run:
    def __init__(self, env: WorkflowEnvironment, stand_ins: StandIns) -> None:
        self.env = env
        self.stand_ins = stand_ins
        self.task_queue = f"stigma-unit-{uuid.uuid4()}"
        self.agent_task_queue = f"agents-unit-{uuid.uuid4()}"

    @contextlib.asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        s = self.stand_ins
        async with (
            Worker(
                self.env.client,
                task_queue=self.task_queue,
                workflows=[StigmaWorkflow],
                activities=[s.complete, s.fail],
            ),
            Worker(self.env.client, task_queue=self.agent_task_queue, activities=[s.run_agent]),
        ):
            yield

    async def start(
        self, req: AgentRequest, window_s: float = WINDOW_S
    ) -> WorkflowHandle[StigmaWorkflow, ExecutionSummary]:
        req.agent_task_queue = self.agent_task_queue
        return await self.env.client.start_workflow(
            StigmaWorkflow.run,
            args=[req, window_s],
            id=f"stigma-unit-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    async def execute(self, req: AgentRequest, window_s: float = WINDOW_S) -> ExecutionSummary:
        async with self.worker():
            handle = await self.start(req, window_s)
            return await handle.result()


async def test_success_completes_the_token_once_with_the_envelope(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(completion_status="delivered")
    attachment = token(1)

    summary = await Run(env, stand_ins).execute(request({"output": "hello"}, attachment))

    assert summary.agent_outcome == "succeeded"
    assert summary.output == {"agent_id": "summarize", "value": "hello"}
    assert summary.completion.status == "delivered"
    assert summary.tokens_seen == 1
    assert stand_ins.failed == []
    (done,) = stand_ins.completed
    assert (done.token_b64, done.attempt, done.execution_id) == (attachment.token_b64, 1, "agx-1")
    envelope = done.result
    assert envelope["output"] == summary.output
    assert envelope["zigflow_workflow_id"] == "zig-42"
    assert envelope["zigflow_activity_id"] == "0-summarize"
    assert envelope["agent_execution_id"] == "agx-1"
    assert envelope["idempotency_key"] == "zig-42/r/0-summarize"
    assert envelope["envelope_version"] == 1
    assert envelope["stigma_workflow_id"].startswith("stigma-unit-")


async def test_agent_runs_on_the_agents_queue_with_the_request_as_received(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns()
    run = Run(env, stand_ins)
    req = request({"output": "é"}, token(1))

    summary = await run.execute(req)

    (call,) = stand_ins.agent_calls
    assert call.agent_id == "summarize"
    assert call.input == req.input_json.encode("utf-8")  # bytes, untouched
    assert call.task_queue == run.agent_task_queue
    assert call.heartbeat_timeout_s == AGENT_HEARTBEAT.total_seconds()
    assert summary.output == {"agent_id": "summarize", "value": "é"}


async def test_completion_outcome_is_recorded_as_returned(env: WorkflowEnvironment) -> None:
    stand_ins = StandIns(completion_status="token_dead")

    summary = await Run(env, stand_ins).execute(request({"output": 1}, token(1)))

    assert summary.completion == CompletionOutcome("token_dead", token_fp="fp")
    assert len(stand_ins.completed) == 1  # a dead token is an outcome, not retried


async def test_agent_failure_fails_the_token_with_the_agents_error(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns()
    script = {"outcome": "failure", "error_type": "AgentBoom", "error_message": "it broke"}

    summary = await Run(env, stand_ins).execute(request(script, token(1)))

    assert summary.agent_outcome == "failed"
    assert (summary.error_type, summary.error_message) == ("AgentBoom", "it broke")
    assert summary.completion.status == "delivered"
    assert len(stand_ins.agent_calls) == 1  # non-retryable agent error: no agent retries
    assert stand_ins.completed == []
    (failed,) = stand_ins.failed
    assert (failed.error_type, failed.error_message) == ("AgentBoom", "it broke")
    assert failed.result["output"] is None
    assert failed.result["zigflow_activity_id"] == "0-summarize"


async def test_direct_call_runs_the_agent_and_completes_nothing(env: WorkflowEnvironment) -> None:
    stand_ins = StandIns()

    summary = await Run(env, stand_ins).execute(request({"output": "x"}, None))

    assert summary.agent_outcome == "succeeded"
    assert summary.output == {"agent_id": "summarize", "value": "x"}
    assert summary.completion.status == "no_token"
    assert summary.tokens_seen == 0
    assert len(stand_ins.agent_calls) == 1
    assert stand_ins.completed == []
    assert stand_ins.failed == []


async def test_newer_token_attached_while_the_agent_runs_wins(env: WorkflowEnvironment) -> None:
    stand_ins = StandIns()
    run = Run(env, stand_ins)
    newer = token(2, b"token-of-the-retry")

    async with run.worker():
        handle = await run.start(request({"output": "late", "hold": True}, token(1)))
        await handle.signal(StigmaWorkflow.attach_token, newer)
        stand_ins.released.set()
        summary = await handle.result()

    assert summary.tokens_seen == 2
    (done,) = stand_ins.completed
    assert (done.token_b64, done.attempt) == (newer.token_b64, 2)
    assert done.result["output"] == {"agent_id": "summarize", "value": "late"}


async def test_stale_token_does_not_replace_a_newer_one(env: WorkflowEnvironment) -> None:
    stand_ins = StandIns()
    run = Run(env, stand_ins)

    async with run.worker():
        handle = await run.start(request({"hold": True}, token(3)))
        await handle.signal(StigmaWorkflow.attach_token, token(2))
        stand_ins.released.set()
        summary = await handle.result()

    assert summary.tokens_seen == 2
    (done,) = stand_ins.completed
    assert (done.token_b64, done.attempt) == (token(3).token_b64, 3)


async def test_transient_completion_errors_give_up_at_the_window(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(transient_completion=True)

    summary = await Run(env, stand_ins).execute(request({"output": 1}, token(1)), window_s=20.0)

    assert summary.completion.status == "gave_up"
    # Retried with backoff (1 s, 2 s, 4 s, 8 s ...) inside the 20 s window, then recorded.
    assert 2 <= len(stand_ins.completed) <= 6


async def test_a_result_over_the_payload_limit_fails_the_token_with_result_too_large(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(completion_status="delivered")
    req = request({"output": "x" * 20_000}, token(1))
    req.max_payload_bytes = 10_000

    summary = await Run(env, stand_ins).execute(req)

    # Never completed with it: failed with ResultTooLarge naming size and limit, and
    # recorded so (the fail call's "delivered" is not the result's)
    assert stand_ins.completed == []
    (failed,) = stand_ins.failed
    assert failed.error_type == "ResultTooLarge"
    assert "10000 bytes" in failed.error_message
    assert failed.result["output"] is None
    assert summary.completion.status == "result_too_large"
    assert summary.agent_outcome == "succeeded"
    assert summary.output is None  # the summary too stays within the limit


async def test_an_agent_outcome_refused_for_its_size_fails_the_token_with_result_too_large(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns()
    script = {"outcome": "failure", "error_type": "PayloadsTooLarge", "error_message": "big"}
    req = request(script, token(1))
    req.max_payload_bytes = 10_000

    summary = await Run(env, stand_ins).execute(req)

    (failed,) = stand_ins.failed
    assert failed.error_type == "ResultTooLarge"
    assert summary.completion.status == "result_too_large"
    assert len(stand_ins.agent_calls) == 1  # refused for size: not retried


async def test_a_result_within_the_payload_limit_is_completed_as_it_is(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(completion_status="delivered")
    req = request({"output": "x" * 5_000}, token(1))
    req.max_payload_bytes = 10_000

    summary = await Run(env, stand_ins).execute(req)

    (done,) = stand_ins.completed
    assert done.result["output"] == {"agent_id": "summarize", "value": "x" * 5_000}
    assert summary.completion.status == "delivered"
