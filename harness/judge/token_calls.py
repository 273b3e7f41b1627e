"""Bounded calls by token, judged from what the harness's relay in front of Temporal
recorded (``CompletionRelay.record``: ``history.measurements["calls_by_token"]``), the
fault timeline, the outcomes and Stigma's executions. Pure functions over the history.

``call_by_token_bounded``: every call by token carried a deadline no longer than the
contract's; a call Temporal never answered was given up and followed by another call
by the same token within the contract's retry bound; and where Stigma recorded a
refusal (its summary: optional evidence) its completion activity closed within the
contract's bound of being scheduled. The bug it names: a Stigma whose call by token
waits on the server for as long as the server likes (no deadline, or a day's), holding
the agent's result, and the worker slot its activity runs in, for that long.

``other_completions_not_blocked``: while one call by token was held unanswered, every
other handshake started in that window resolved. The bug it names: calls by token made
one at a time (a single completion slot, a lock): one silent answer stalls every
completion behind it.

``operator_pause_is_not_cancel``: after an operator paused, unpaused or reset Zigflow's
pending activity (Temporal's PauseActivity, UnpauseActivity, ResetActivity), Stigma's
next heartbeat by the token was answered with the flag the action sets ("paused",
"reset"; none any more after an unpause) and no cancellation requested, and Stigma went
on beating by that token: it reported no cancellation by it, and the agent was not
cancelled. The bug it names: a Stigma that takes any flag of a heartbeat's answer for a
cancellation (the SDKs raise one error for all three: Python's
AsyncActivityCancelledError, Java's manual completion client): it stops the agent and
reports the activity cancelled, the server refuses that report (INVALID_ARGUMENT: no
cancellation was requested), and Zigflow's activity waits for its timeout while the
agent's work is lost. Judged from ``measurements["operator_actions"]`` (the driver's
record of each action and the call's tokens) and ``measurements["token_calls"]``
(``Driver.record_calls_by_token``).
"""

from __future__ import annotations

from typing import Any

from harness import contract
from harness.drive.driver import OPERATOR_ACTIONS
from harness.judge.checkers import (
    DEADLINE_READ_SLACK_S,
    DELIVERED,
    SUMMARY,
    Verdict,
    agent_states,
    no_summary,
)
from harness.links.completion_relay import CANCELLATION, HEARTBEAT, TOKEN_CALLS
from harness.observe.history import History

CHECKER = "call_by_token_bounded"
NOT_BLOCKED_CHECKER = "other_completions_not_blocked"
OPERATOR_CHECKER = "operator_pause_is_not_cancel"

# The flag a heartbeat's answer carries after each action ("" after an unpause: no
# "paused" any more); "cancel_requested" is the only one that asks Stigma to stop.
ACTION_FLAGS = {"pause": "paused", "reset": "reset", "unpause": ""}
CANCEL_FLAG = "cancel_requested"

# Scheduling on a loaded 2-core machine, on top of the contract's bounds.
JUDGE_SLACK_S = 2.0
HELD = "completion_held"


def _calls(history: History) -> tuple[list[dict[str, Any]], float | None]:
    recorded = history.measurements.get("calls_by_token")
    if not isinstance(recorded, dict):
        return [], None
    calls = [c for c in recorded.get("calls", []) if isinstance(c, dict)]
    return calls, recorded.get("recorded_wall")


def call_by_token_bounded(history: History) -> Verdict:
    ceiling = contract.CALL_BY_TOKEN_DEADLINE_MAX_S
    retry_within = contract.CALL_BY_TOKEN_RETRY_WITHIN_S
    calls, recorded_wall = _calls(history)
    evidence: list[str] = []
    if not calls:
        evidence.append(
            "no call by token reached the harness's relay in front of Temporal "
            "(STIGMA_ZIGFLOW_TEMPORAL_ADDRESS): nothing to judge"
        )
    for call in calls:
        deadline = call.get("deadline_s")
        name = f"{call['method']} by token {call['token_fp']}"
        if deadline is None:
            evidence.append(
                f"{name}: sent without a deadline: a server that never answers holds it, "
                "the agent's result and the worker slot it runs in, for good"
            )
        elif deadline > ceiling + DEADLINE_READ_SLACK_S:
            evidence.append(
                f"{name}: deadline {deadline:.0f} s, longer than {ceiling:.0f} s: a server "
                "that never answers holds the result that long"
            )
    # A call nobody answered: given up at its deadline, then called again soon.
    first_given_up: dict[str, dict[str, Any]] = {}
    for call in calls:
        fp = call["token_fp"]
        if call.get("abandoned_wall") is not None:
            first_given_up.setdefault(fp, call)
        elif not call.get("answer") and recorded_wall is not None:
            waited = recorded_wall - call["wall"]
            if waited > ceiling + JUDGE_SLACK_S:
                evidence.append(
                    f"{call['method']} by token {fp}: no answer for {waited:.1f} s and still "
                    f"waited on, past the {ceiling:.0f} s bound: the call is not given up"
                )
    for fp, given_up in first_given_up.items():
        later = [c for c in calls if c["token_fp"] == fp and c["wall"] > given_up["wall"]]
        gap = (later[0]["wall"] if later else recorded_wall or 0.0) - given_up["abandoned_wall"]
        if not later and gap > retry_within + JUDGE_SLACK_S:
            evidence.append(
                f"{given_up['method']} by token {fp}: given up, and no call by that token "
                f"followed within {gap:.1f} s: the result is held, not retried"
            )
        elif later and gap > retry_within + JUDGE_SLACK_S:
            evidence.append(
                f"{given_up['method']} by token {fp}: given up, and called again only "
                f"{gap:.1f} s later, past the {retry_within:.0f} s bound"
            )
    # What Stigma recorded, once the server answered: within the bound of the call.
    unsummarised = 0
    judged = 0
    for s in agent_states(history, "handshake"):
        if s.stigma is None or s.stigma.status != "completed":
            continue
        if no_summary(s.stigma):
            unsummarised += 1
            continue
        summary = s.stigma.result if isinstance(s.stigma.result, dict) else {}
        status = (summary.get("completion") or {}).get("status")
        if status not in ("token_rejected", "token_dead", *DELIVERED):
            continue
        judged += 1
        spans = [
            a
            for a in s.stigma.activities
            if a.activity_type in contract.completion_activities() and a.closed_at is not None
        ]
        if not spans:
            continue
        took = max(a.closed_at or 0.0 for a in spans) - min(a.scheduled_at for a in spans)
        bound = contract.CALL_BY_TOKEN_RECORDED_WITHIN_S + JUDGE_SLACK_S
        if took > bound and any(c.get("abandoned_wall") for c in calls):
            evidence.append(
                f"{s.where}: {status} recorded {took:.1f} s after its first call by token, "
                f"past the {contract.CALL_BY_TOKEN_RECORDED_WITHIN_S:.0f} s bound"
            )
    verdict = Verdict(
        CHECKER, not evidence, len(calls) + judged, evidence, SUMMARY if unsummarised else None
    )
    return verdict


def held_windows(history: History) -> list[tuple[float, float]]:
    """(start, stop) wall times of each hold of one token's calls (``same_token``)."""
    windows: list[tuple[float, float]] = []
    began: float | None = None
    for f in history.faults:
        if f.name != HELD:
            continue
        if f.phase == "start" and f.detail.get("same_token"):
            began = f.wall
        elif f.phase == "stop" and began is not None:
            windows.append((began, f.wall))
            began = None
    return windows


def _waited_until(history: History, stopped: float) -> float:
    """Until when the held call was waited on: its first give-up (a Stigma may wait no
    longer than that for others to pass it), though never less than
    ``contract.CALL_BY_TOKEN_OTHERS_WITHIN_S`` after it arrived, and never past the
    end of the hold."""
    recorded = history.measurements.get("calls_by_token")
    if not isinstance(recorded, dict) or not recorded.get("held_token_fp"):
        return stopped
    held = [c for c in recorded.get("calls", []) if c["token_fp"] == recorded["held_token_fp"]]
    if not held:
        return stopped
    floor = held[0]["wall"] + contract.CALL_BY_TOKEN_OTHERS_WITHIN_S
    given_up = [c["abandoned_wall"] for c in held if c.get("abandoned_wall") is not None]
    return min(stopped, max(floor, min(given_up))) if given_up else stopped


def other_completions_not_blocked(history: History, *, held_calls: set[str]) -> Verdict:
    windows = held_windows(history)
    evidence: list[str] = []
    checked = 0
    if not windows:
        evidence.append("no call by token was held: nothing to judge")
    for began, stopped in windows:
        until = _waited_until(history, stopped)
        for op in history.ops:
            if op.type != "invoke" or op.call_id in held_calls or not began <= op.wall < until:
                continue
            checked += 1
            first = next(
                (o for o in history.ops if o.call_id == op.call_id and o.type != "invoke"), None
            )
            if first is None or first.wall > until or first.type != "ok":
                when = (
                    f"no outcome within {until - op.wall:.1f} s"
                    if first is None or first.wall > until
                    else f"outcome {first.type}"
                )
                evidence.append(
                    f"{op.call_id}: {when}, while another execution's call by token waited "
                    "on a server that did not answer: one call that waits holds up the "
                    "other completions (calls by token made one at a time?)"
                )
    if windows and not checked:
        evidence.append("no other handshake was started while a call by token was held")
    return Verdict(NOT_BLOCKED_CHECKER, not evidence, checked, evidence)


def operator_pause_is_not_cancel(history: History) -> Verdict:
    actions = [a for a in history.measurements.get(OPERATOR_ACTIONS, []) if isinstance(a, dict)]
    calls = [c for c in history.measurements.get(TOKEN_CALLS, []) if isinstance(c, dict)]
    evidence: list[str] = []
    if not actions:
        evidence.append(
            "no operator paused, unpaused or reset a Zigflow activity: nothing to judge"
        )
    for action in actions:
        evidence += _after_operator_action(action, calls)
    for call_id in dict.fromkeys(str(a["call"]) for a in actions):
        evidence += _agent_kept(history, call_id)
    return Verdict(OPERATOR_CHECKER, not evidence, len(actions), evidence)


def _after_operator_action(action: dict[str, Any], calls: list[dict[str, Any]]) -> list[str]:
    name, did = f"{action['call']}/{action['activity_id']}", action["action"]
    fps = set(action.get("token_fps", []))
    mine = [c for c in calls if c["token_fp"] in fps and c["wall"] > action["wall"]]
    flag = ACTION_FLAGS.get(did, did)
    beats = [c for c in mine if c["method"] == HEARTBEAT and c["answer"] == "OK"]
    told = next(
        (
            b
            for b in beats
            if (
                flag in b.get("flags", [])
                if flag
                else ACTION_FLAGS["pause"] not in b.get("flags", [])
            )
        ),
        None,
    )
    bad: list[str] = []
    for cancel in (c for c in mine if c["method"] == CANCELLATION):
        bad.append(
            f"{name}: after an operator's {did}, Stigma reported the activity cancelled by "
            f"its token (answered {cancel['answer'] or 'nothing'}): a heartbeat answered "
            f"{flag or 'unpaused'} without {CANCEL_FLAG} is not a cancellation; the agent's "
            "work is lost and Zigflow's activity waits for its timeout"
        )
    if any(CANCEL_FLAG in b.get("flags", []) for b in beats):
        bad.append(
            f"{name}: a heartbeat after the {did} was answered {CANCEL_FLAG}: not an "
            "operator's action alone, nothing proven"
        )
    if told is None:
        seen = [f"{c['method']} {c['answer']}{'+'.join(['', *c.get('flags', [])])}" for c in mine]
        bad.append(
            f"{name}: no heartbeat by its token after the operator's {did} was answered "
            f"{flag or 'without paused'} (calls by it since: {seen[:6]}): Stigma stopped "
            "beating, or its beats did not reach Temporal"
        )
        return bad
    after = [c for c in mine if c["wall"] > told["wall"]]
    if not after:
        bad.append(
            f"{name}: Stigma made no call by its token after the heartbeat answered "
            f"{flag or 'unpaused'}: it stopped beating (taken for a cancellation?)"
        )
    return bad


def _agent_kept(history: History, call_id: str) -> list[str]:
    """The agent of the call was not stopped: neither the harness's agent nor Stigma's
    summary (optional evidence) says it was cancelled."""
    bad: list[str] = []
    for s in agent_states(history):
        if s.call.call_id != call_id:
            continue
        for attempt in s.call.agents.get(s.activity_id, []):
            if any(e.get("event") == "cancelled" for e in attempt.get("events", [])):
                bad.append(
                    f"{s.where}: the agent (attempt {attempt['attempt']}) was cancelled after "
                    "an operator's pause or reset: only a requested cancellation stops it"
                )
        summary = s.stigma.result if s.stigma and isinstance(s.stigma.result, dict) else {}
        if summary.get("agent_outcome") == "canceled":
            bad.append(f"{s.where}: Stigma's summary says agent_outcome 'canceled'")
    return bad
