"""Shutdown with calls in flight (a rolling deploy's SIGTERM), judged from what the
harness recorded (``harness.faults.processes.stopped``:
``history.measurements[SHUTDOWNS]``: the time from SIGTERM to the process's exit as
the harness saw it, its exit code, whether the harness had to SIGKILL it, and the calls
in flight at the signal), how the driver saw Zigflow result-pending before the signal
(``history.measurements[RESULT_PENDING_SEEN]``) and Temporal's histories. Pure functions
over the history.

``stopped_within_bound``: every service told to stop exited by itself, code 0, within
the contract's bound. The bug it names: a service that waits on its way out for what is
not its own to wait for (running agents: hours), or ignores the signal, and is then
SIGKILLed by its supervisor mid-call at every deploy; or one that crashes while stopping.

``in_flight_kept_over_shutdown``: every call in flight at the signal resolved with its
agent run once, Zigflow's activity completed, and (unless only its StartAgent was in
flight, which a retry with the same key may legitimately finish) in the attempt that
was in flight: the shutdown failed, cancelled or retried no pending attempt. The bug it
names: a service that "cleans up" on SIGTERM (a Zigflow failing its result-pending
activities, a Stigma failing the completions its worker had in flight): a deploy then
costs work that Temporal had kept safe.

``stopped_while_result_pending``: the signal meant for Zigflow's result-pending
activities came once Zigflow was seen result-pending on them (one of its optional
metrics risen by the calls: the count of attempts gone result-pending, or the pending
gauge: ``RESULT_PENDING_METRICS``), not only after Stigma's
ACKs: a busy Zigflow returns result-pending a while after the ACK, and a signal in
between meets activities still running, so a Zigflow that fails its result-pending
activities on SIGTERM would pass. A Zigflow without either gives no such sign: the
check, and with it the behaviour, is "not checked" there, never a silent pass.
"""

from __future__ import annotations

from typing import Any

from harness import contract
from harness.drive.driver import RESULT_PENDING_METRICS, RESULT_PENDING_SEEN, SEEN_BY_METRIC
from harness.faults.processes import SHUTDOWNS
from harness.judge.checkers import Missing, Verdict, agent_states
from harness.observe.history import History

BOUND_CHECKER = "stopped_within_bound"
IN_FLIGHT_CHECKER = "in_flight_kept_over_shutdown"
REACH_CHECKER = "stopped_while_result_pending"
NO_PENDING_METRIC = Missing(
    area="shutdown",
    why=(
        f"Zigflow exports neither {' nor '.join(RESULT_PENDING_METRICS)}: the SIGTERM came "
        "after Stigma's ACKs, not shown to come after Zigflow had gone result-pending (a "
        "Zigflow that fails its result-pending activities on SIGTERM could pass)"
    ),
)

# What a call had in flight at the signal (``stopped(in_flight=...)``): only a StartAgent
# between its durable start and its ACK may be retried (the ACK lost with the process);
# a pending attempt, a completion by token in flight or a running agent keep theirs.
START = "start"
PENDING = "pending"
RETRY_ALLOWED = frozenset({START})


def _shutdowns(history: History) -> list[dict[str, Any]]:
    return list(history.measurements.get(SHUTDOWNS, []))


def stopped_within_bound(history: History) -> Verdict:
    evidence: list[str] = []
    shutdowns = _shutdowns(history)
    for s in shutdowns:
        who = f"{s['service']} ({s['signal']})"
        bound = float(s.get("bound_s", contract.SHUTDOWN_BOUND_S))
        if s.get("killed"):
            evidence.append(
                f"{who}: still running {bound:.0f} s after the signal (and the harness's "
                "slack): SIGKILLed, as a deploy's supervisor would, with its calls in flight"
            )
            continue
        stopped_s = s.get("stopped_s")
        if stopped_s is None or stopped_s > bound:
            evidence.append(f"{who}: exited {stopped_s} s after the signal, bound {bound:.0f} s")
        if s.get("exit_code") != 0:
            evidence.append(f"{who}: exit code {s.get('exit_code')}, expected 0")
    if not shutdowns:
        evidence.append("nothing to check: no service was told to stop")
    return Verdict(BOUND_CHECKER, not evidence, len(shutdowns), evidence)


def in_flight_kept_over_shutdown(history: History) -> Verdict:
    in_flight: dict[str, dict[str, Any]] = {}
    for s in _shutdowns(history):
        in_flight.update(s.get("in_flight", {}))
    evidence: list[str] = []
    checked = 0
    for state in agent_states(history, "handshake"):
        what = in_flight.get(state.call.call_id)
        if what is None:
            continue
        checked += 1
        where = f"{state.where} ({what.get('kind')} in flight at the signal)"
        z = state.zigflow
        if z is None:
            evidence.append(f"{where}: Zigflow never scheduled the agent activity")
            continue
        if z.status != "completed":
            evidence.append(
                f"{where}: Zigflow's activity {z.status} ({z.failure_type}), not completed"
            )
        attempt = what.get("attempt")
        if what.get("kind") not in RETRY_ALLOWED and attempt is not None and z.attempts != attempt:
            evidence.append(
                f"{where}: Zigflow's activity was at attempt {attempt} and ended at attempt "
                f"{z.attempts} (the attempt before ended {z.last_failure.kind or 'unrecorded'}: "
                f"{z.last_failure.message!r}): the shutdown "
                "ended an attempt Temporal was keeping"
            )
        if state.agent_runs != 1:
            evidence.append(f"{where}: the agent ran {state.agent_runs} times, expected once")
    if not checked:
        evidence.append("nothing to check: no call was in flight at a shutdown")
    return Verdict(IN_FLIGHT_CHECKER, not evidence, checked, evidence)


def stopped_while_result_pending(history: History) -> Verdict:
    pending = sorted(
        call_id
        for s in _shutdowns(history)
        if s.get("service") == "zigflow"
        for call_id, what in s.get("in_flight", {}).items()
        if what.get("kind") == PENDING
    )
    if not pending:
        nothing = "nothing to check: Zigflow was not stopped with calls pending"
        return Verdict(REACH_CHECKER, False, 0, [nothing])
    seen = history.measurements.get(RESULT_PENDING_SEEN)
    if not isinstance(seen, dict):
        # The scenario's own omission (it stopped Zigflow without waiting to see it
        # result-pending): nothing is known, and a pass would be unfounded.
        return Verdict(
            REACH_CHECKER,
            False,
            0,
            [f"no record of Zigflow seen result-pending before the signal ({RESULT_PENDING_SEEN})"],
        )
    if seen.get("seen_by") != SEEN_BY_METRIC:
        return Verdict.not_checked(REACH_CHECKER, NO_PENDING_METRIC)
    if int(seen.get("calls", 0)) < len(pending):
        return Verdict(
            REACH_CHECKER,
            False,
            int(seen.get("calls", 0)),
            [
                f"Zigflow was seen result-pending on {seen.get('calls')} call(s), "
                f"{len(pending)} were pending at the signal"
            ],
        )
    return Verdict(REACH_CHECKER, True, len(pending))
