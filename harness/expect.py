"""Turn a checker's verdict into a test outcome, keeping the verdict in the history."""

from __future__ import annotations

from harness.checkers import Verdict
from harness.history import History


def holds(history: History, verdict: Verdict) -> Verdict:
    """Record the verdict, then fail the test with all its evidence if it is violated."""
    history.checks.append(
        {
            "checker": verdict.checker,
            "ok": verdict.ok,
            "checked": verdict.checked,
            "evidence": verdict.evidence[:50],
        }
    )
    if not verdict.ok:
        raise AssertionError(str(verdict))
    return verdict
