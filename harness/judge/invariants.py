"""Named invariants: the checkers a spec means together, under one name.

"Exactly once" is not one checker but several (every call resolved, no agent run twice,
no token lost, each call's result or failure delivered once); a spec says the name,
not the list. An invariant evaluates every part (no part's failure keeps another from
being judged) and ``holds`` records each part's verdict under the part's own name (the
report and the contract's behaviours read them so), then fails once, naming every
violated part with its evidence.

Pure functions over the recorded history, like the checkers they gather.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.judge import checkers
from harness.judge.checkers import Verdict
from harness.observe.history import History


@dataclass(frozen=True)
class Invariant:
    """A named conjunction of verdicts, every one of them already judged."""

    name: str
    parts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def violated(self) -> list[Verdict]:
        return [part for part in self.parts if not part.ok]

    def __str__(self) -> str:
        bad = self.violated
        names = ", ".join(part.checker for part in bad or self.parts)
        state = f"VIOLATED ({len(bad)} of {len(self.parts)} parts: {names})" if bad else "ok"
        return "\n".join([f"{self.name}: {state}", *(str(part) for part in bad)])


def every_call_accounted_for(history: History) -> Invariant:
    """Whatever befell the calls (faults, timeouts, damaged tokens): each one resolved,
    no idempotency key ran its agent twice, and every token handed to Stigma was used
    once or reported dead with its reason."""
    return Invariant(
        "every_call_accounted_for",
        (
            checkers.every_call_resolved(history),
            checkers.at_most_one_agent_per_key(history),
            checkers.no_token_lost(history),
        ),
    )


def exactly_once(history: History, *, max_attempts: int = 1) -> Invariant:
    """Every call accounted for, and each handshake ended as its agent did, once: a
    succeeding agent's result resumed Zigflow (``resumed_once_with_agent_result``), a
    failing agent's error failed it (``agent_failure_propagated``), within
    ``max_attempts`` attempts of Zigflow's activity (1 unless a fault legitimately
    broke an attempt). Which of the two apply is read from the recorded plans: the
    part for an outcome no call planned is left out, not judged on nothing."""
    planned = {
        s.script.get("outcome") == "failure" for s in checkers.agent_states(history, "handshake")
    }
    delivered: list[Verdict] = []
    if False in planned:
        delivered.append(
            checkers.resumed_once_with_agent_result(history, max_attempts=max_attempts)
        )
    if True in planned:
        delivered.append(checkers.agent_failure_propagated(history, max_attempts=max_attempts))
    return Invariant("exactly_once", (*every_call_accounted_for(history).parts, *delivered))


def damaged_token_resolved(history: History, *, damaged_calls: set[str]) -> Invariant:
    """Every call resolved, and each call whose token was damaged in transit handled as
    ``damaged_token_handled`` says: classified by Stigma, never retried in a loop, its
    agent run at most once, its Zigflow activity resolved."""
    return Invariant(
        "damaged_token_resolved",
        (
            checkers.every_call_resolved(history),
            checkers.damaged_token_handled(history, damaged_calls=damaged_calls),
        ),
    )
