"""Turn a checker's verdict into a test outcome, keeping the verdict in the history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.judge.checkers import Missing, Verdict
from harness.judge.invariants import Invariant
from harness.observe.history import History


def holds(history: History, *judged: Verdict | Invariant) -> list[Verdict]:
    """Record every verdict (each part of a named invariant under the part's own name),
    then fail the test if any is violated, naming all the violated ones with their
    evidence: one failing check never hides another.

    A verdict "not checked" (optional evidence missing) does not fail the test: the
    scenario passes on the rest, and the record (``status``, ``area``, ``why``) is what
    the terminal summary and the certification report's ``not_certified`` are made of.
    """
    verdicts = [v for j in judged for v in (j.parts if isinstance(j, Invariant) else (j,))]
    for verdict in verdicts:
        history.checks.append(verdict.record())
    violated = [j for j in judged if not j.ok]
    if len(violated) == 1:
        raise AssertionError(str(violated[0]))
    if violated:
        names = ", ".join(_name(j) for j in violated)
        raise AssertionError(
            f"{len(violated)} checkers VIOLATED: {names}\n" + "\n".join(str(j) for j in violated)
        )
    return verdicts


def _name(judged: Verdict | Invariant) -> str:
    if isinstance(judged, Invariant):
        return f"{judged.name}[{', '.join(v.checker for v in judged.violated)}]"
    return judged.checker


def violated_checkers(history: History) -> list[str]:
    """Every checker recorded violated in this history, in order, once each."""
    names: list[str] = []
    for check in history.checks:
        if check.get("status") == "violated" and check["checker"] not in names:
            names.append(str(check["checker"]))
    return names


def recorded(check: Mapping[str, Any]) -> Verdict:
    """A verdict back from its record (``Verdict.record``): one given by another process
    (the load run's figures.json) is then recorded and judged by ``holds`` like the
    scenario's own. Keys other than the record's (the load run's figures) are ignored."""
    area, why = check.get("area"), check.get("why")
    return Verdict(
        str(check["checker"]),
        bool(check["ok"]),
        int(check.get("checked", 0)),
        [str(line) for line in check.get("evidence", [])],
        Missing(str(area), str(why)) if area is not None and why is not None else None,
    )
