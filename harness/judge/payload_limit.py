"""The cluster's payload limit: what became of agent results and failures over it.

Judged from Temporal's records only: Zigflow's activity's failure as its history gives
it (the kind of each link of the cause chain, the application failure's type and
retryability), never a message's text; and Stigma's summary (optional evidence) for
how Stigma recorded the call.
"""

from __future__ import annotations

from collections.abc import Collection

from harness import contract
from harness.judge.checkers import (
    DELIVERED,
    AgentState,
    Verdict,
    _agent_output,
    _completion,
    _verdict,
    agent_states,
    no_summary,
)
from harness.observe import failures
from harness.observe.history import History


def _refused_typed(s: AgentState) -> list[str]:
    """What is wrong with how one oversized call ended ([] when it ended right)."""
    z = s.zigflow
    if z is None:
        return [f"{s.where}: Zigflow never scheduled the agent activity"]
    bad: list[str] = []
    app = z.failure.application
    if z.status != "failed" or app is None or app.type != contract.RESULT_TOO_LARGE_TYPE:
        seen = f"{z.status} " + " <- ".join(
            f"{link.kind}{f' {link.type}' if link.type else ''}" for link in z.failure.chain
        )
        bad.append(
            f"{s.where}: Zigflow's activity ended {seen.strip()}, expected failed with a "
            f"{contract.RESULT_TOO_LARGE_TYPE} application failure"
        )
    elif not app.non_retryable:
        bad.append(f"{s.where}: {contract.RESULT_TOO_LARGE_TYPE} failure is retryable")
    if z.failure.has(failures.SERVER):
        # The server's own refusal reached Zigflow: something was sent over the limit.
        bad.append(f"{s.where}: Zigflow's activity failed with the server's refusal")
    if z.status != "open" and z.attempts != 1:
        bad.append(f"{s.where}: {z.attempts} attempts, expected the one failed at once")
    if s.stigma is not None and s.agent_runs > 1:
        bad.append(f"{s.where}: agent ran {s.agent_runs} times, expected once")
    calls = [
        a
        for run in s.stigma_runs
        for a in run.activities
        if a.activity_type in contract.completion_activities()
    ]
    if s.stigma is not None and z.status == "failed" and len(calls) != 1:
        # One failure by token: another call (a completion after it, a second failure)
        # means Stigma did not take its own refusal as the end.
        bad.append(f"{s.where}: {len(calls)} calls by token, expected the one failure")
    outcome = _completion(s.stigma)
    if s.stigma is None:
        bad.append(f"{s.where}: no Stigma execution")
    elif not no_summary(s.stigma) and outcome != contract.RESULT_TOO_LARGE:
        bad.append(
            f"{s.where}: Stigma recorded the call {outcome!r}, expected "
            f"{contract.RESULT_TOO_LARGE!r} (Zigflow's activity did not get the result)"
        )
    return bad


def _delivered_as_it_is(s: AgentState) -> list[str]:
    """A call well under the limit: Zigflow completed once with the agent's output."""
    z = s.zigflow
    if z is None:
        return [f"{s.where}: Zigflow never scheduled the agent activity"]
    bad: list[str] = []
    if z.status != "completed":
        bad.append(
            f"{s.where}: Zigflow's activity {z.status} ({z.failure_type}), expected completed "
            "with the result: it is under the limit"
        )
    elif z.attempts != 1:
        bad.append(f"{s.where}: {z.attempts} attempts, expected 1")
    ran, output = _agent_output(s)
    got = z.result.get("output") if isinstance(z.result, dict) else None
    if z.status == "completed" and (not ran or got != output):
        bad.append(f"{s.where}: Zigflow's result is not the agent's output")
    outcome = _completion(s.stigma)
    if s.stigma is not None and not no_summary(s.stigma) and outcome not in DELIVERED:
        bad.append(f"{s.where}: Stigma recorded {outcome!r}, expected delivered")
    return bad


def _delivered(s: AgentState) -> list[str]:
    """A call at the limit's edge: delivered as it is, or refused as an oversized one."""
    z = s.zigflow
    if z is not None and z.status == "completed":
        outcome = _completion(s.stigma)
        if s.stigma is not None and not no_summary(s.stigma) and outcome not in DELIVERED:
            return [f"{s.where}: Zigflow completed, Stigma recorded {outcome!r}"]
        return []
    return _refused_typed(s)


def oversized_result_refused_typed(
    history: History,
    *,
    over: Collection[str],
    edge: Collection[str] = (),
    under: Collection[str] = (),
) -> Verdict:
    """Every call in ``over`` (its agent's result or failure over the cluster's payload
    limit) ended with Zigflow's activity failed once, at once, with a non-retryable
    ``ResultTooLarge`` application failure (not the server's refusal, not a timeout),
    its agent run once, and Stigma's record of it ``result_too_large``, never delivered.
    A call in ``edge`` (a result just under the limit: it fits the limit, what a Stigma
    carries with it may not) is that, or delivered with both sides saying so. A call in
    ``under`` (well under the limit) is delivered as it is, once."""
    judged = {*over, *edge, *under}
    states = [s for s in agent_states(history, "handshake") if s.call.call_id in judged]

    def check(s: AgentState) -> list[str]:
        if s.call.call_id in over:
            return _refused_typed(s)
        return _delivered(s) if s.call.call_id in edge else _delivered_as_it_is(s)

    return _verdict("oversized_result_refused_typed", states, check, reads_summary=True)
