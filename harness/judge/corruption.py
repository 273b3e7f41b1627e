"""Token corruption results for the report: what each class was expected to do and
what each example really did, on which server.

Scenarios call ``record`` per example; ``summarise`` (used by ``make certify``)
folds the per-test records into ``certification.json``'s ``corruption`` list.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.observe.history import History

KEY = "corruption"


def record(history: History, kind: str, expected: str, observed: str, server: str) -> None:
    """One example of corruption class ``kind`` (kept in the history's measurements)."""
    examples: list[dict[str, str]] = history.measurements.setdefault(KEY, [])
    examples.append({"class": kind, "expected": expected, "observed": observed, "server": server})


def summarise(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (class, server): examples tried, the expectation, and the observed outcomes
    with their counts."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for sc in scenarios:
        for ex in (sc.get("measurements") or {}).get(KEY, []):
            key = (ex["class"], ex["server"])
            g = groups.setdefault(
                key,
                {
                    "class": ex["class"],
                    "server": ex["server"],
                    "expected": ex["expected"],
                    "examples": 0,
                    "observed": Counter(),
                    "scenario_outcomes": Counter(),
                },
            )
            g["examples"] += 1
            g["observed"][ex["observed"]] += 1
            g["scenario_outcomes"][sc.get("outcome", "?")] += 1
    return [
        {**g, "observed": dict(g["observed"]), "scenario_outcomes": dict(g["scenario_outcomes"])}
        for _, g in sorted(groups.items())
    ]
