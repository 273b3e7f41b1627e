"""Which runbook an operator should open when a checker fails (reports/runbooks/*.md).

The certification report links them next to violated checks; the alert rules link
the same files (reports/observability/alerts.yml, annotation ``runbook_url``).
"""

from __future__ import annotations

STUCK_PENDING = "reports/runbooks/activity-stuck-pending.md"
TOKEN_REJECTED = "reports/runbooks/token-rejected.md"
HIGH_FAILURE_RATE = "reports/runbooks/high-failure-rate.md"
COMPLETION_FAILING = "reports/runbooks/completion-call-failing.md"

BY_CHECKER = {
    "every_call_resolved": STUCK_PENDING,
    "worker_not_blocked": STUCK_PENDING,
    "timed_out": STUCK_PENDING,
    "heartbeats_kept_alive": STUCK_PENDING,
    "cancelled_through_heartbeat": STUCK_PENDING,
    "damaged_token_handled": TOKEN_REJECTED,
    "crossed_wires_detected": TOKEN_REJECTED,
    "late_completion_recorded": TOKEN_REJECTED,
    "agent_failure_propagated": HIGH_FAILURE_RATE,
    "resumed_once_with_agent_result": HIGH_FAILURE_RATE,
    "at_most_one_agent_per_key": HIGH_FAILURE_RATE,
    "direct_call_moves_on_at_ack": HIGH_FAILURE_RATE,
    "no_token_lost": COMPLETION_FAILING,
    "redelivered_to_live_attempt": COMPLETION_FAILING,
    "completion_outcome_is": COMPLETION_FAILING,
    "metrics_agree_with_history": STUCK_PENDING,
}


def runbook_for(checker: str) -> str | None:
    """The runbook for a checker's name (a parametrised name like "timed_out[x]" too)."""
    return BY_CHECKER.get(checker.split("[", 1)[0].split("(", 1)[0])
