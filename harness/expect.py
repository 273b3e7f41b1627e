"""Turn a checker's verdict into a test outcome, keeping the verdict in the history."""

from __future__ import annotations

from typing import Any

from harness.checkers import Verdict
from harness.history import History


def holds(history: History, verdict: Verdict) -> Verdict:
    """Record the verdict, then fail the test with all its evidence if it is violated.

    A verdict "not checked" (optional evidence missing) does not fail the test: the
    scenario passes on the rest, and the record (``status``, ``area``, ``why``) is what
    the terminal summary and the certification report's ``not_certified`` are made of.
    """
    check: dict[str, Any] = {
        "checker": verdict.checker,
        "ok": verdict.ok,
        "status": verdict.status,
        "checked": verdict.checked,
        "evidence": verdict.evidence[:50],
    }
    if verdict.missing is not None:
        check |= {"area": verdict.missing.area, "why": verdict.missing.why}
    history.checks.append(check)
    if not verdict.ok:
        raise AssertionError(str(verdict))
    return verdict
