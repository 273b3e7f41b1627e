"""Turn a checker's verdict into a test outcome, keeping the verdict in the history."""

from __future__ import annotations

from typing import Any

from harness.judge.checkers import Verdict
from harness.observe.history import History


def holds(history: History, *verdicts: Verdict) -> list[Verdict]:
    """Record every verdict, then fail the test if any is violated, naming all the
    violated ones with their evidence: one failing check never hides another.

    A verdict "not checked" (optional evidence missing) does not fail the test: the
    scenario passes on the rest, and the record (``status``, ``area``, ``why``) is what
    the terminal summary and the certification report's ``not_certified`` are made of.
    """
    for verdict in verdicts:
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
    violated = [v for v in verdicts if not v.ok]
    if len(violated) == 1:
        raise AssertionError(str(violated[0]))
    if violated:
        names = ", ".join(v.checker for v in violated)
        raise AssertionError(
            f"{len(violated)} checkers VIOLATED: {names}\n" + "\n".join(str(v) for v in violated)
        )
    return list(verdicts)


def violated_checkers(history: History) -> list[str]:
    """Every checker recorded violated in this history, in order, once each."""
    names: list[str] = []
    for check in history.checks:
        if check.get("status") == "violated" and check["checker"] not in names:
            names.append(str(check["checker"]))
    return names
