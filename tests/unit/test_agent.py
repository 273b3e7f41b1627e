"""The harness's agent (harness/stack/agent.py): obeys its script, records every attempt,
holds until released, and remembers a release that came first."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from typing import Any, cast

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from harness.drive.plan import fails, succeeds
from harness.errors import WaitTimeout
from harness.stack.agent import Agents, script_from_input

pytestmark = pytest.mark.unit

KEY = "stigma-zig-1/run/0-a"


def agents() -> Agents:
    return Agents(cast(Client, None), "agent-unit")  # no client: nothing here beats by token


def environment(attempt: int = 1) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.default_info(),
        workflow_id=KEY,
        activity_id="1",
        attempt=attempt,
        heartbeat_timeout=timedelta(minutes=5),
        task_token=b"token",
    )
    return env


def payload(**script: Any) -> bytes:
    return json.dumps({"script": script}).encode()


async def test_success_returns_the_output_padded_to_result_size() -> None:
    a = agents()
    data = json.dumps(succeeds({"n": 1}, result_size=10).to_input()).encode()

    out = await environment().run(a.run_agent, "stand-in", data)

    assert out == {"agent_id": "stand-in", "value": {"n": 1}, "padding": "x" * 10}
    (attempt,) = a.attempts(KEY)
    assert (attempt.attempt, attempt.activity_id, attempt.outcome) == (1, "1", "succeeded")
    assert [e for e, _ in attempt.events] == ["started", "finished"]
    assert attempt.heartbeat_timeout_s == 300.0


async def test_failure_is_a_non_retryable_application_error_of_the_scripts_type() -> None:
    a = agents()
    data = json.dumps(fails("Boom", "it broke").to_input()).encode()

    with pytest.raises(ApplicationError) as err:
        await environment().run(a.run_agent, "stand-in", data)

    assert (err.value.type, err.value.message, err.value.non_retryable) == (
        "Boom",
        "it broke",
        True,
    )
    assert a.attempts(KEY)[0].outcome == "failed"


async def test_input_without_a_script_is_a_plain_success() -> None:
    assert script_from_input(b"") == {}
    assert script_from_input(b"\xff not json") == {}
    assert script_from_input(b'{"script": 3}') == {}
    out = await environment().run(agents().run_agent, "x", b'{"other": 1}')
    assert out == {"agent_id": "x", "value": None}


async def test_held_agent_heartbeats_until_released() -> None:
    a = agents()
    env = environment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    run = asyncio.create_task(env.run(a.run_agent, "stand-in", payload(hold=True, output=7)))

    await a.wait_for(
        lambda: a.attempts(KEY)[-1].saw("held") if a.attempts(KEY) else False, 5.0, lambda: "held"
    )
    assert not run.done()
    assert a.release(KEY) == "released"

    assert await run == {"agent_id": "stand-in", "value": 7}
    assert beats, "a held agent heartbeats"
    assert [e for e, _ in a.attempts(KEY)[0].events] == ["started", "held", "released", "finished"]


async def test_release_before_the_agent_started_is_remembered_by_every_attempt() -> None:
    a = agents()
    assert a.release(KEY) == "remembered"

    out = await environment(attempt=2).run(a.run_agent, "stand-in", payload(hold=True))

    assert out == {"agent_id": "stand-in", "value": None}
    assert not a.attempts(KEY)[0].saw("held")


async def test_cancellation_is_recorded() -> None:
    a = agents()
    env = environment()
    run = asyncio.create_task(env.run(a.run_agent, "stand-in", payload(hold=True)))
    await a.wait_for(lambda: bool(a.attempts(KEY)), 5.0, lambda: "started")

    env.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run
    (attempt,) = a.attempts(KEY)
    assert attempt.outcome == "cancelled"
    assert attempt.saw("cancelled")
    assert a.running() == []


async def test_wait_for_names_what_it_still_waits_for() -> None:
    with pytest.raises(WaitTimeout, match="agent held for zig-1"):
        await agents().wait_for(lambda: False, 0.05, lambda: "agent held for zig-1")
