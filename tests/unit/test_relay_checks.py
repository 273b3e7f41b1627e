"""StartAgent deadlines, as the harness's relay saw them arrive."""

from __future__ import annotations

from harness import contract
from harness.judge import checkers, relay_checks
from harness.links.tamper import Tampered


def _request(deadline_s: float | None) -> Tampered:
    return Tampered("k", 1, "fp", "fp", zigflow_workflow_id="zig", deadline_s=deadline_s)


def test_a_short_deadline_passes() -> None:
    verdict = relay_checks.deadline_verdict([_request(4.9), _request(0.2)])
    assert verdict.ok, verdict.evidence
    assert verdict.checked == 2


def test_no_deadline_and_a_day_long_one_are_both_violations() -> None:
    verdict = relay_checks.deadline_verdict(
        [_request(None), _request(86_399.0), _request(contract.START_AGENT_DEADLINE_MAX_S)]
    )
    assert not verdict.ok
    assert len(verdict.evidence) == 2, verdict.evidence
    assert "without a deadline" in verdict.evidence[0]
    assert "86399 s, longer than 60 s" in verdict.evidence[1]


def test_the_bound_read_a_hair_over_passes_and_past_the_read_slack_fails() -> None:
    """A deadline of exactly the bound can arrive read a little over it (gRPC rounds the
    time left up; a busy machine preempts between two clocks' readings): still the bound.
    Past the reading's slack it is a longer deadline."""
    ceiling = contract.START_AGENT_DEADLINE_MAX_S
    verdict = relay_checks.deadline_verdict([_request(ceiling + 0.0004)])
    assert verdict.ok, verdict.evidence
    verdict = relay_checks.deadline_verdict(
        [_request(ceiling + checkers.DEADLINE_READ_SLACK_S + 0.01)]
    )
    assert not verdict.ok
    assert "longer than 60 s" in verdict.evidence[0]
