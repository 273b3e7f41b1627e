"""Checkers over hand-built histories: each passes a good one and explains a broken one."""

from __future__ import annotations

from typing import Any

import pytest

from harness.drive import plan as hp
from harness.judge import checkers, invariants
from harness.judge.expect import holds
from harness.observe.failures import APPLICATION, Failure, Link
from harness.observe.history import Call, History
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace

pytestmark = pytest.mark.unit

AGENT_OUT = {"agent_id": "stand-in", "value": "hello"}


def app_failure(type_: str, message: str) -> Failure:
    return Failure((Link(APPLICATION, type=type_, message=message),))


def agent_call(
    h: History,
    call_id: str,
    state: dict[str, Any],
    *,
    z_status: str = "completed",
    z_result: Any = None,
    z_attempts: int = 1,
    z_failure: tuple[str, str] = ("", ""),
    z_times: tuple[float, float, float] = (99.9, 100.0, 100.7),  # scheduled, started, closed
    agent_result: Any = AGENT_OUT,
    agent_status: str = "completed",
    agent_closed: float = 100.5,
    agent_runs: int = 1,
    completion: str | None = "delivered",
    workflow_status: str = "completed",
) -> Call:
    """One Zigflow workflow with one call_agent state and its Stigma execution."""
    h.invoke(call_id, "plan", hp.plan(state))
    call = h.calls[call_id]
    act = hp.activity_id(0, state)
    scheduled, started, closed = z_times
    call.zigflow = WorkflowTrace(
        call_id,
        f"{call_id}-run",
        status=workflow_status,
        started_at=scheduled - 0.1,
        closed_at=closed + 0.1,
        activities=[
            ActivitySpan(
                act,
                checkers.AGENT_ACTIVITY,
                scheduled,
                started_at=started,
                closed_at=closed,
                status=z_status,
                attempts=z_attempts,
                result=z_result,
                failure=app_failure(*z_failure) if any(z_failure) else Failure(),
            )
        ],
    )
    runs = [
        ActivitySpan(
            str(5 + i),
            "run_agent",
            agent_closed - 0.3,
            started_at=agent_closed - 0.3,
            closed_at=agent_closed,
            status=agent_status,
            attempts=1,
            result=agent_result,
        )
        for i in range(agent_runs)
    ]
    call.stigma[act] = StigmaTrace(
        f"stigma-{call_id}",
        "srun",
        status="completed",
        started_at=scheduled + 0.05,
        first_task_done_at=100.1,
        closed_at=closed,
        result=None if completion is None else {"completion": {"status": completion}},
        activities=runs,
    )
    h.complete(call_id, "ok" if workflow_status == "completed" else "fail", None)
    return call


def envelope(call_id: str, output: Any = AGENT_OUT) -> dict[str, Any]:
    return {"output": output, "zigflow_workflow_id": call_id, "zigflow_activity_id": "0-ask"}


def success(h: History, call_id: str = "zig-1", **kw: Any) -> Call:
    kw.setdefault("z_result", envelope(call_id))
    return agent_call(h, call_id, hp.call_agent("ask", hp.succeeds("hello")), **kw)


def failure(h: History, call_id: str = "zig-2", **kw: Any) -> Call:
    state = hp.call_agent("ask", hp.fails("AgentBoom", "it broke"))
    kw.setdefault("z_status", "failed")
    kw.setdefault("z_failure", ("AgentBoom", "it broke"))
    kw.setdefault("workflow_status", "failed")
    return agent_call(h, call_id, state, **kw)


def direct(h: History, call_id: str = "zig-3", **kw: Any) -> Call:
    state = hp.call_agent("ask", hp.succeeds("hello"), mode=hp.DIRECT)
    kw.setdefault("z_result", {"acked": True, "mode": "direct"})
    kw.setdefault("z_times", (99.9, 100.0, 100.2))  # ACKed before the agent ended (100.5)
    kw.setdefault("completion", "no_token")
    return agent_call(h, call_id, state, **kw)


def assert_violated(verdict: checkers.Verdict, *fragments: str) -> None:
    assert not verdict.ok, verdict
    text = "\n".join(verdict.evidence)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in evidence:\n{text}"
    assert "VIOLATED" in str(verdict)


# --- resumed_once_with_agent_result -------------------------------------------------


def test_resumed_once_passes_on_a_good_history() -> None:
    h = History("good")
    success(h)
    failure(h)  # failure paths are not this checker's business

    verdict = checkers.resumed_once_with_agent_result(h)

    assert verdict.ok, verdict
    assert verdict.checked == 1
    assert verdict.evidence == []


def test_resumed_once_reports_wrong_output() -> None:
    h = History("wrong output")
    success(h, z_result=envelope("zig-1", {"agent_id": "stand-in", "value": "someone else"}))

    assert_violated(
        checkers.resumed_once_with_agent_result(h),
        "zig-1/0-ask: Zigflow received output",
        "'someone else'",
    )


def test_resumed_once_reports_a_non_envelope_and_a_foreign_envelope() -> None:
    h = History("crossed")
    success(h, "zig-1", z_result="bare string")
    success(h, "zig-2", z_result=envelope("zig-other"))

    assert_violated(
        checkers.resumed_once_with_agent_result(h),
        "zig-1/0-ask: Zigflow received 'bare string', not a result envelope",
        "zig-2/0-ask: envelope names workflow 'zig-other'",
    )


def test_resumed_once_reports_two_attempts() -> None:
    h = History("retried")
    success(h, z_attempts=2)

    assert_violated(checkers.resumed_once_with_agent_result(h), "took 2 attempts, expected 1")


def test_resumed_once_reports_the_agent_running_twice() -> None:
    h = History("twice")
    success(h, agent_runs=2)

    assert_violated(checkers.resumed_once_with_agent_result(h), "agent ran 2 times, expected once")


def test_resumed_once_reports_completion_not_delivered() -> None:
    h = History("dead token")
    success(h, completion="token_dead", z_status="timed_out", z_result=None)

    verdict = checkers.resumed_once_with_agent_result(h)

    assert_violated(
        verdict,
        "Zigflow activity timed_out",
        "Stigma's completion outcome is 'token_dead', expected one of",
    )
    assert len(verdict.evidence) == 2  # every violation, not just the first


def test_resumed_once_reports_output_not_what_the_script_asked() -> None:
    h = History("script")
    produced = {"agent_id": "stand-in", "value": "bye"}
    success(h, agent_result=produced, z_result=envelope("zig-1", produced))

    assert_violated(
        checkers.resumed_once_with_agent_result(h),
        "agent output value 'bye', script asked for 'hello'",
    )


def test_resumed_once_reports_missing_traces() -> None:
    h = History("missing")
    call = success(h, "zig-1")
    call.zigflow = None
    call2 = success(h, "zig-2")
    call2.stigma.clear()

    assert_violated(
        checkers.resumed_once_with_agent_result(h),
        "zig-1/0-ask: Zigflow never scheduled the agent activity",
        "zig-2/0-ask: no Stigma execution found for this call",
    )


def test_a_history_without_matching_calls_is_not_a_pass() -> None:
    verdict = checkers.resumed_once_with_agent_result(History("empty"))

    assert not verdict.ok
    assert verdict.checked == 0
    assert "nothing to check" in verdict.evidence[0]


# --- agent_failure_propagated ------------------------------------------------------


def test_failure_propagated_passes_on_a_good_history() -> None:
    h = History("good")
    failure(h)
    success(h)

    verdict = checkers.agent_failure_propagated(h)

    assert verdict.ok, verdict
    assert verdict.checked == 1


def test_failure_propagated_accepts_a_failure_delivered_by_a_call_whose_reply_was_lost() -> None:
    h = History("reply lost")
    failure(h, completion="delivered_earlier")

    verdict = checkers.agent_failure_propagated(h)

    assert verdict.ok, verdict


def test_failure_propagated_reports_a_failure_recorded_as_a_dead_token() -> None:
    h = History("recorded dead")
    failure(h, completion="token_dead")

    assert_violated(
        checkers.agent_failure_propagated(h),
        "failure not delivered by token (completion 'token_dead')",
    )


def test_failure_propagated_reports_wrong_type() -> None:
    h = History("wrong type")
    failure(h, z_failure=("StigmaUnavailable", "it broke"))

    assert_violated(
        checkers.agent_failure_propagated(h),
        "Zigflow saw 'StigmaUnavailable': 'it broke', agent raised 'AgentBoom': 'it broke'",
    )


def test_failure_propagated_reports_a_retry_storm() -> None:
    h = History("storm")
    failure(h, z_attempts=5, agent_runs=5)

    assert_violated(
        checkers.agent_failure_propagated(h),
        "5 attempts for a failed agent (retry storm)",
        "agent ran 5 times, expected once",
    )


def test_failure_propagated_reports_a_workflow_that_did_not_fail() -> None:
    h = History("swallowed")
    failure(h, workflow_status="completed", completion="token_dead")

    assert_violated(
        checkers.agent_failure_propagated(h),
        "zig-2: Zigflow workflow is completed, expected failed",
        "failure not delivered by token (completion 'token_dead')",
    )


# --- direct_call_moves_on_at_ack ---------------------------------------------------


def test_direct_call_passes_when_zigflow_moves_on_at_the_ack() -> None:
    h = History("good")
    direct(h)
    success(h)

    verdict = checkers.direct_call_moves_on_at_ack(h)

    assert verdict.ok, verdict
    assert verdict.checked == 1


def test_direct_call_reports_zigflow_closing_after_the_agent_ended() -> None:
    h = History("waited")
    direct(h, z_times=(99.9, 100.0, 100.9))

    assert_violated(
        checkers.direct_call_moves_on_at_ack(h),
        "zig-3/0-ask: Zigflow's activity closed only after the agent ended",
    )


def test_direct_call_reports_a_token_completion_whatever_the_activity_returned() -> None:
    # What the activity returns at the ACK is Zigflow's own: not judged by its shape.
    h = History("handshake in disguise")
    direct(h, z_result=envelope("zig-3"), completion="delivered")

    assert_violated(
        checkers.direct_call_moves_on_at_ack(h),
        "Stigma completed something by token ('delivered')",
    )


def test_direct_call_reports_an_agent_that_never_finished() -> None:
    h = History("abandoned")
    direct(h, agent_status="failed")

    assert_violated(checkers.direct_call_moves_on_at_ack(h), "the agent did not run to its end")


# --- worker_not_blocked ------------------------------------------------------------


def pending_history(n: int = 3, probe_closed_at: float | None = 15.0) -> History:
    """n handshakes pending from 10+i to 20+i (all pending in [12, 20]), one probe."""
    h = History("not blocked")
    for i in range(n):
        success(h, f"zig-{i}", z_times=(10.0 + i - 0.1, 10.0 + i, 20.0 + i))
    if probe_closed_at is not None:
        h.invoke("probe-1", "probe", hp.plan(hp.echo("ping", 1)))
        h.calls["probe-1"].zigflow = WorkflowTrace(
            "probe-1",
            "p",
            status="completed",
            activities=[
                ActivitySpan(
                    "0-ping",
                    "echo",
                    probe_closed_at - 0.2,
                    started_at=probe_closed_at - 0.1,
                    closed_at=probe_closed_at,
                    status="completed",
                    attempts=1,
                    result=1,
                )
            ],
        )
        h.complete("probe-1", "ok", 1)
    return h


def test_max_concurrently_pending_counts_overlaps_only() -> None:
    assert checkers.max_concurrently_pending(pending_history(3)) == 3
    h = History("touching")
    success(h, "a", z_times=(0.0, 1.0, 2.0))
    success(h, "b", z_times=(1.9, 2.0, 3.0))  # starts exactly when a closes
    assert checkers.max_concurrently_pending(h) == 1


def test_worker_not_blocked_passes_with_n_pending_and_a_probe_inside() -> None:
    verdict = checkers.worker_not_blocked(pending_history(3), pending_at_least=3)

    assert verdict.ok, verdict
    assert verdict.checked == 4


def test_worker_not_blocked_reports_peak_below_n() -> None:
    assert_violated(
        checkers.worker_not_blocked(pending_history(3), pending_at_least=4),
        "only 3 handshakes pending at once, expected >= 4",
    )


@pytest.mark.parametrize("closed_at", [11.0, 25.0], ids=["before-last-start", "after-first-close"])
def test_worker_not_blocked_reports_probe_outside_the_window(closed_at: float) -> None:
    assert_violated(
        checkers.worker_not_blocked(pending_history(3, closed_at), pending_at_least=3),
        f"probe-1/0-ping: completed at {closed_at:.3f}, outside the all-pending window "
        "[12.000, 20.000]",
    )


def test_worker_not_blocked_reports_missing_or_failed_probe() -> None:
    assert_violated(
        checkers.worker_not_blocked(pending_history(3, None), pending_at_least=3),
        "no probe call was recorded",
    )
    h = pending_history(3)
    probe = h.calls["probe-1"].zigflow
    assert probe is not None
    probe.activities[0].status = "failed"
    assert_violated(
        checkers.worker_not_blocked(h, pending_at_least=3),
        "probe-1: probe activities did not all complete",
    )


# --- every_call_resolved -----------------------------------------------------------


def test_every_call_resolved_passes_with_ok_and_fail() -> None:
    h = History("resolved")
    success(h, "zig-1")
    failure(h, "zig-2")  # a failed call is still a resolved one

    verdict = checkers.every_call_resolved(h)

    assert verdict.ok, verdict
    assert verdict.checked == 2


def test_every_call_resolved_reports_unknown_and_unresolved() -> None:
    h = History("lost")
    h.invoke("zig-1", "plan", hp.plan())
    h.complete("zig-1", "unknown", "stopped waiting after 30 s")
    h.invoke("zig-2", "plan", hp.plan())

    verdict = checkers.every_call_resolved(h)

    assert_violated(
        verdict,
        "zig-1: outcome unknown (stopped waiting after 30 s)",
        "zig-2: invoked, never resolved",
    )
    assert len(verdict.evidence) == 2


def test_every_call_resolved_uses_the_latest_outcome() -> None:
    h = History("late")
    h.invoke("zig-1", "plan", hp.plan())
    h.complete("zig-1", "unknown", "timeout")
    h.complete("zig-1", "ok", "arrived later")

    assert checkers.every_call_resolved(h).ok


# --- overhead_samples_ms -----------------------------------------------------------


def test_overhead_is_activity_duration_minus_agent_work() -> None:
    h = History("overhead")
    # Zigflow: scheduled 99.9, closed 100.7 -> 0.8 s; agent: 100.1 -> 100.5 = 0.4 s.
    success(h, "zig-1")
    # 2.0 s activity around 1.2 s of agent work (100.1 -> 101.3).
    success(h, "zig-2", z_times=(99.5, 99.6, 101.5), agent_closed=101.3)

    assert checkers.overhead_samples_ms(h) == pytest.approx([400.0, 800.0])


def test_overhead_skips_retried_failed_direct_and_incomplete_calls() -> None:
    h = History("skips")
    success(h, "retried", z_attempts=2)
    failure(h, "failed")
    direct(h, "direct")
    success(h, "no-agent", agent_status="failed").stigma["0-ask"].activities[0].closed_at = None
    success(h, "open", z_status="open")
    no_stigma = success(h, "no-stigma")
    no_stigma.stigma.clear()

    assert checkers.overhead_samples_ms(h) == []


# --- Stigma's summary is optional evidence ------------------------------------------


def test_without_a_summary_the_summary_parts_are_not_checked_never_ok() -> None:
    h = History("no summary")
    success(h, completion=None)  # Stigma's workflow completed and returned nothing

    verdict = checkers.resumed_once_with_agent_result(h)

    assert verdict.ok, verdict
    assert verdict.status == "not_checked"
    assert verdict.missing is checkers.SUMMARY
    assert "NOT CHECKED" in str(verdict)
    assert checkers.no_token_lost(h).status == "not_checked"


def test_without_a_summary_temporals_evidence_is_still_judged() -> None:
    h = History("no summary, wrong result")
    success(h, completion=None, z_result=envelope("zig-1", output={"value": "stale"}))

    verdict = checkers.resumed_once_with_agent_result(h)

    assert verdict.status == "violated", verdict
    assert_violated(verdict, "Zigflow received output")


# --- named invariants (harness/judge/invariants.py) ----------------------------------

EXACTLY_ONCE_PARTS = [
    "every_call_resolved",
    "at_most_one_agent_per_key",
    "no_token_lost",
    "resumed_once_with_agent_result",
    "agent_failure_propagated",
]


def test_exactly_once_judges_every_part_and_passes_a_good_history() -> None:
    h = History("good")
    success(h, "zig-1")
    failure(h, "zig-2")

    invariant = invariants.exactly_once(h)

    assert invariant.ok, invariant
    assert [p.checker for p in invariant.parts] == EXACTLY_ONCE_PARTS
    assert holds(h, invariant) == list(invariant.parts)
    assert [c["checker"] for c in h.checks] == EXACTLY_ONCE_PARTS  # each under its own name


def test_exactly_once_leaves_out_the_outcome_no_call_planned() -> None:
    h = History("successes only")
    success(h, "zig-1")

    parts = [p.checker for p in invariants.exactly_once(h, max_attempts=5).parts]

    assert parts == EXACTLY_ONCE_PARTS[:4]


def test_exactly_once_reports_every_violated_part_in_one_failure() -> None:
    h = History("broken three ways")
    success(h, "zig-1", agent_runs=2)  # the agent ran twice
    success(h, "zig-2", completion="gave_up")  # Stigma gave its token up
    h.invoke("zig-3", "plan", hp.plan())  # never resolved

    invariant = invariants.exactly_once(h)
    with pytest.raises(AssertionError) as raised:
        holds(h, invariant)

    message = str(raised.value)
    assert message.startswith(
        "exactly_once: VIOLATED (4 of 4 parts: every_call_resolved, "
        "at_most_one_agent_per_key, no_token_lost, resumed_once_with_agent_result)"
    ), message
    for part in EXACTLY_ONCE_PARTS[:4]:
        assert f"{part}: VIOLATED" in message, message
    for evidence in (
        "zig-3: invoked, never resolved",
        "zig-1/0-ask: 2 agent runs for one idempotency key",
        "zig-2/0-ask: token outcome 'gave_up'",
        "zig-1/0-ask: agent ran 2 times, expected once",
    ):
        assert evidence in message, message
    # every part is recorded, violated or not, for the report
    assert [(c["checker"], c["status"]) for c in h.checks] == [
        (part, "violated") for part in EXACTLY_ONCE_PARTS[:4]
    ]


def test_an_invariant_and_another_verdict_fail_together() -> None:
    h = History("two failures")
    success(h, "zig-1", completion="gave_up")

    with pytest.raises(AssertionError) as raised:
        holds(
            h,
            invariants.every_call_accounted_for(h),
            checkers.completion_outcome_is(h, "delivered_earlier"),
        )

    message = str(raised.value)
    assert message.startswith(
        "2 checkers VIOLATED: every_call_accounted_for[no_token_lost], "
        "completion_outcome_is[delivered_earlier]"
    ), message
    assert "every_call_accounted_for: VIOLATED (1 of 3 parts: no_token_lost)" in message
    assert "completion_outcome_is[delivered_earlier]: VIOLATED" in message
    assert len(h.checks) == 4


# --- superseded_call_recorded (a completion racing a retry) -----------------------------


def _raced(h: History, calls: list[tuple[str, dict[str, Any], int]], **kw: Any) -> Call:
    """A failed agent whose Zigflow activity was retried after attempt 1 timed out; Stigma's
    calls by token (activity type, its result, attempts), in order."""
    kw.setdefault("z_attempts", 2)
    kw.setdefault("completion", calls[-1][1].get("status") if calls else None)
    call = failure(h, **kw)
    trace = call.stigma["0-ask"]
    for i, (kind, result, attempts) in enumerate(calls):
        trace.activities.append(
            ActivitySpan(
                str(10 + i), kind, 100.5 + i, closed_at=100.6 + i, status="completed",
                attempts=attempts, result=result,
            )
        )  # fmt: skip
    return call


DEAD = {"status": "token_dead", "grpc_code": "NOT_FOUND"}
DELIVERED_NOW = {"status": "delivered"}


def test_superseded_call_passes_when_the_old_call_is_dead_and_the_retry_gets_it() -> None:
    h = History("raced")
    _raced(h, [("fail_zigflow_activity", DEAD, 1), ("fail_zigflow_activity", DELIVERED_NOW, 1)])

    verdict = checkers.superseded_call_recorded(h)

    assert verdict.ok, verdict


def test_superseded_call_names_a_failure_lost_to_the_dead_token() -> None:
    h = History("lost")
    _raced(
        h,
        [("fail_zigflow_activity", DEAD, 1)],
        z_failure=("StigmaRejected", "already finished"),
    )

    assert_violated(
        checkers.superseded_call_recorded(h),
        "expected one by the timed-out attempt's token, then one to the live attempt",
        "Stigma's execution recorded 'token_dead'",
    )


def test_superseded_call_names_a_dead_call_retried_or_reported_delivered() -> None:
    h = History("retried")
    _raced(h, [("fail_zigflow_activity", DEAD, 3), ("fail_zigflow_activity", DELIVERED_NOW, 1)])
    _raced(
        h,
        [("fail_zigflow_activity", DELIVERED_NOW, 1), ("fail_zigflow_activity", DELIVERED_NOW, 1)],
        call_id="zig-3",
    )

    assert_violated(
        checkers.superseded_call_recorded(h),
        "was made 3 times: NOT_FOUND retried",
        "the call by the superseded token ended 'delivered'",
    )


def test_superseded_call_says_when_no_retry_happened() -> None:
    h = History("no race")
    _raced(h, [("fail_zigflow_activity", DELIVERED_NOW, 1)], z_attempts=1)

    assert_violated(checkers.superseded_call_recorded(h), "the race did not happen")
