"""Checkers read every run of a Stigma execution id, not only the newest one a lookup
by id returns, and a failing test names every violated checker."""

from __future__ import annotations

import pytest

from harness import contract
from harness.drive.plan import activity_id, call_agent, plan, succeeds
from harness.judge import checkers
from harness.judge.checkers import Verdict
from harness.judge.expect import holds, violated_checkers
from harness.observe.history import History
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace

pytestmark = pytest.mark.unit

STATE = call_agent("k", succeeds("once"))
ACT = activity_id(0, STATE)


def _run(run_id: str, started_at: float) -> StigmaTrace:
    trace = StigmaTrace("stigma-key", run_id, status="completed", started_at=started_at)
    agent = ActivitySpan("1", contract.NAMES.stigma_agent_activity, started_at, status="completed")
    trace.activities.append(agent)
    return trace


def _history(*, every_run: bool) -> History:
    h = History("runs")
    h.invoke("zig-1", "plan", plan(STATE))
    call = h.calls["zig-1"]
    call.zigflow = WorkflowTrace("zig-1", "r", status="completed")
    call.zigflow.activities.append(ActivitySpan(ACT, "ExecuteAgent", 1.0, status="completed"))
    first, second = _run("run-1", 1.0), _run("run-2", 2.0)
    call.stigma[ACT] = second  # what a lookup by id alone returns: the newest run
    if every_run:
        call.stigma_runs[ACT] = [first, second]
    # The harness's agent ran in both runs; each run names its first activity "1".
    call.agents[ACT] = [
        {"activity_id": "1", "attempt": 1, "run_id": "run-1", "outcome": "succeeded"},
        {"activity_id": "1", "attempt": 1, "run_id": "run-2", "outcome": "succeeded"},
    ]
    return h


def test_a_second_run_for_the_same_key_is_a_second_agent() -> None:
    h = _history(every_run=True)
    # What the checker used to read: the newest run (one agent) and the agent's activity
    # ids (the same "1" in both runs): one agent, a pass.
    newest = h.calls["zig-1"].stigma[ACT]
    assert newest.agent_runs == 1
    assert len({a["activity_id"] for a in h.calls["zig-1"].agents[ACT]}) == 1
    verdict = checkers.at_most_one_agent_per_key(h)
    assert verdict.status == "violated"
    assert "2 run(s) of its Stigma execution" in verdict.evidence[0]


def test_the_harness_agents_own_record_tells_runs_apart_too() -> None:
    # Even where only the newest run was read, the agent's records name two runs.
    assert checkers.at_most_one_agent_per_key(_history(every_run=False)).status == "violated"


def test_holds_names_every_violated_checker() -> None:
    h = History("many")
    bad_a = Verdict("checker_a", False, 1, ["a broke"])
    bad_b = Verdict("checker_b", False, 1, ["b broke"])
    with pytest.raises(AssertionError) as raised:
        holds(h, Verdict("fine", True, 1), bad_a, bad_b)
    assert "2 checkers VIOLATED: checker_a, checker_b" in str(raised.value)
    assert [c["checker"] for c in h.checks] == ["fine", "checker_a", "checker_b"]
    assert violated_checkers(h) == ["checker_a", "checker_b"]
