"""Bounded calls by token, judged over hand-built histories (harness/judge/token_calls.py):
each checker passes what the reference does and names what the mutants do."""

from __future__ import annotations

from typing import Any

import pytest

from harness import contract
from harness.drive.driver import OPERATOR_ACTIONS
from harness.judge import token_calls
from harness.links.completion_relay import CANCELLATION, HEARTBEAT, TOKEN_CALLS
from harness.observe.history import FaultEvent, History, Op

pytestmark = pytest.mark.unit

T0 = 1_000.0
HELD_FP, OTHER_FP = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


def _call(
    fp: str,
    at: float,
    *,
    deadline: float | None = 5.0,
    answer: str = "OK",
    gave_up: float | None = None,
) -> dict[str, Any]:
    return {
        "method": "RespondActivityTaskCompleted",
        "token_fp": fp,
        "wall": T0 + at,
        "answer": "abandoned" if gave_up is not None else answer,
        "own_task": False,
        "deadline_s": deadline,
        "abandoned_wall": None if gave_up is None else T0 + gave_up,
    }


def _history(
    calls: list[dict[str, Any]], recorded_at: float, *, other_done_at: float | None
) -> History:
    h = History("t")
    h.measurements["calls_by_token"] = {
        "recorded_wall": T0 + recorded_at,
        "calls": calls,
        "held_token_fp": HELD_FP,
    }
    h.faults += [
        FaultEvent(
            0, T0 - 0.2, "start", "completion_held", "stigma_completions", {"same_token": True}
        ),
        FaultEvent(0, T0 + recorded_at, "stop", "completion_held", "stigma_completions", {}),
    ]
    h.ops += [
        Op("invoke", "held", "plan", 0, T0 - 0.1),
        Op("invoke", "other", "plan", 0, T0 + 0.01),
    ]
    if other_done_at is not None:
        h.ops.append(Op("ok", "other", "plan", 0, T0 + other_done_at))
    return h


def test_the_reference_gives_up_at_its_deadline_retries_and_lets_others_pass() -> None:
    calls = [
        _call(HELD_FP, 0.0, gave_up=5.0),
        _call(OTHER_FP, 0.03),
        _call(HELD_FP, 6.0, answer=""),  # the retry, parked when the record was made
    ]
    h = _history(calls, 6.05, other_done_at=0.06)
    bounded = token_calls.call_by_token_bounded(h)
    assert bounded.ok, bounded.evidence
    assert bounded.checked == 3
    passed = token_calls.other_completions_not_blocked(h, held_calls={"held"})
    assert passed.ok, passed.evidence
    assert passed.checked == 1


def test_a_day_long_deadline_never_given_up_is_named() -> None:
    calls = [
        _call(HELD_FP, 0.0, deadline=86_399.0, answer=""),
        _call(OTHER_FP, 0.03, deadline=None),
    ]
    h = _history(calls, 17.0, other_done_at=0.06)
    verdict = token_calls.call_by_token_bounded(h)
    assert not verdict.ok
    text = "\n".join(verdict.evidence)
    assert f"deadline 86399 s, longer than {contract.CALL_BY_TOKEN_DEADLINE_MAX_S:.0f} s" in text
    assert "sent without a deadline" in text
    assert "no answer for 17.0 s and still waited on" in text


def test_a_call_given_up_and_never_made_again_holds_the_result() -> None:
    h = _history([_call(HELD_FP, 0.0, gave_up=5.0)], 17.0, other_done_at=0.06)
    verdict = token_calls.call_by_token_bounded(h)
    assert not verdict.ok
    assert "no call by that token followed within 12.0 s" in verdict.evidence[0]


def test_one_call_at_a_time_holds_the_others_until_the_give_up() -> None:
    calls = [
        _call(HELD_FP, 0.0, gave_up=5.0),
        _call(OTHER_FP, 5.01),
        _call(HELD_FP, 6.0, answer=""),
    ]
    h = _history(calls, 6.05, other_done_at=5.03)
    assert token_calls.call_by_token_bounded(h).ok
    verdict = token_calls.other_completions_not_blocked(h, held_calls={"held"})
    assert not verdict.ok
    assert "other: no outcome within 5.0 s" in verdict.evidence[0]


def test_a_short_deadline_still_gives_the_others_the_floor() -> None:
    # a 0.5 s deadline: the other completion (1 s) is judged against the 3 s floor
    calls = [
        _call(HELD_FP, 0.0, deadline=0.5, gave_up=0.5),
        _call(OTHER_FP, 0.9),
        _call(HELD_FP, 1.6),
    ]
    h = _history(calls, 2.0, other_done_at=1.0)
    verdict = token_calls.other_completions_not_blocked(h, held_calls={"held"})
    assert verdict.ok, verdict.evidence


def test_nothing_recorded_is_not_a_pass() -> None:
    h = History("t")
    assert not token_calls.call_by_token_bounded(h).ok
    assert not token_calls.other_completions_not_blocked(h, held_calls=set()).ok


# -- operator_pause_is_not_cancel --------------------------------------------------
TOKEN_FP = "cccccccccccc"


def _beat(at: float, *flags: str, method: str = HEARTBEAT) -> dict[str, Any]:
    return {"method": method, "token_fp": TOKEN_FP, "wall": T0 + at, "answer": "OK",
            "own_task": False, "deadline_s": 5.0, "abandoned_wall": None,
            "flags": list(flags)}  # fmt: skip


def _operated(action: str, calls: list[dict[str, Any]]) -> History:
    h = History("t")
    h.measurements[OPERATOR_ACTIONS] = [
        {"call": "c", "activity_id": "0-a", "action": action, "wall": T0, "token_fps": [TOKEN_FP]}
    ]
    h.measurements[TOKEN_CALLS] = calls
    return h


@pytest.mark.parametrize(
    ("action", "flag"), [("pause", "paused"), ("reset", "reset")], ids=["pause", "reset"]
)
def test_beating_on_after_a_pause_or_reset_and_completing_passes(action: str, flag: str) -> None:
    calls = [_beat(-0.5), _beat(0.5, flag), _beat(1.1, flag),
             _beat(1.5, method="RespondActivityTaskCompleted")]  # fmt: skip
    verdict = token_calls.operator_pause_is_not_cancel(_operated(action, calls))
    assert verdict.ok, verdict


def test_an_unpause_is_judged_on_a_beat_without_paused() -> None:
    calls = [_beat(0.5, "paused"), _beat(1.1), _beat(1.5, method="RespondActivityTaskCompleted")]
    assert token_calls.operator_pause_is_not_cancel(_operated("unpause", calls)).ok


def test_a_cancellation_reported_after_a_pause_is_named() -> None:
    # What the reference Stigma did: the beat said "paused", it stopped the agent and
    # reported a cancellation, which the server refused.
    cancel = _beat(0.9, method=CANCELLATION) | {"answer": "INVALID_ARGUMENT"}
    verdict = token_calls.operator_pause_is_not_cancel(
        _operated("pause", [_beat(0.5, "paused"), cancel])
    )
    assert not verdict.ok
    assert any("reported the activity cancelled" in e and "INVALID_ARGUMENT" in e
               for e in verdict.evidence), verdict  # fmt: skip


def test_a_stigma_that_stops_beating_after_the_answer_is_named() -> None:
    verdict = token_calls.operator_pause_is_not_cancel(_operated("pause", [_beat(0.5, "paused")]))
    assert not verdict.ok
    assert any("stopped beating" in e for e in verdict.evidence), verdict


def test_no_beat_answered_paused_proves_nothing() -> None:
    verdict = token_calls.operator_pause_is_not_cancel(_operated("pause", [_beat(0.5)]))
    assert not verdict.ok
    assert any("was answered paused" in e for e in verdict.evidence), verdict


def test_the_relay_reads_the_flags_of_a_heartbeats_answer() -> None:
    from temporalio.api.workflowservice.v1 import RecordActivityTaskHeartbeatResponse

    from harness.links.completion_relay import heartbeat_flags

    def answer(**flags: bool) -> tuple[str, ...]:
        return heartbeat_flags(RecordActivityTaskHeartbeatResponse(**flags).SerializeToString())

    assert answer() == ()
    assert answer(activity_paused=True) == ("paused",)
    assert answer(activity_reset=True, cancel_requested=True) == ("cancel_requested", "reset")
