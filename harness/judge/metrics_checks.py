"""The services' metrics against the recorded history: a dashboard that lies is worse
than none. Pure functions over snapshots the scenario recorded (``observe``), in the
style of harness/judge/checkers.py.

Counters are cumulative over a service process's life and the session stack serves
many scenarios, so the checker compares what changed between the snapshot taken
before the scenario and the one after it with what the scenario's own calls did.
Only valid for a scenario whose calls are the only traffic on the stack meanwhile
(sequential tests on one stack, as in the gate) and that restarts no service.

Gauges are levels, not counts, so ``gauges_back_to_baseline`` compares them as they
are: also valid across a restarted service (a new process starts its gauges afresh,
and once nothing is in flight they must read what they read before).

Metrics are optional evidence: a team's own services may not export them. Then the
check is recorded as "not checked" (``Verdict.not_checked``) and the scenario passes
on the rest; the certification report lists metrics as not certified.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness import contract
from harness.errors import WaitTimeout
from harness.judge import checkers
from harness.judge.checkers import DELIVERED, Missing, Verdict, agent_states, no_summary
from harness.observe import metrics
from harness.observe.history import History
from harness.observe.metrics import Samples
from harness.waits import eventually

KEY = "metrics"  # history.measurements[KEY] = {service: {"before": [...], "after": [...]}}
# A Zigflow activity's final status in its history -> the counter that must have moved.
ZIGFLOW_COUNTER = {
    "completed": "zigflow_agent_activity_completed_total",
    "failed": "zigflow_agent_activity_failed_total",
    "timed_out": "zigflow_agent_activity_timed_out_total",
}
STIGMA_DELIVERIES = "stigma_completion_calls_total"
AREA = "metrics"
CHECKER = "metrics_agree_with_history"
GAUGES_CHECKER = "gauges_back_to_baseline"
# How long a gauge may lag the histories. A service sets its gauges in its own code, a
# moment after Temporal recorded what they count: the reference Stigma takes an
# execution off "running" in the workflow task that ends it, after its completion call
# returned, so Zigflow's call may have resolved first. That is milliseconds on an idle
# stack and can reach seconds on a loaded 2-core CI runner. A gauge that leaks never
# settles: this is also what each judged scenario costs against a leaking service.
GAUGE_SETTLE_S = 10.0
# Where the stack tells each service to export (docs handbook, "Service contract").
LISTEN_ENV = {"zigflow": "ZIGFLOW_METRICS_LISTEN", "stigma": "STIGMA_METRICS_LISTEN"}


async def snapshot(history: History, endpoints: Mapping[str, str], phase: str) -> None:
    """Record one scrape of every endpoint under ``phase`` ("before" / "after")."""
    recorded = history.measurements.setdefault(KEY, {})
    for service, address in endpoints.items():
        samples = await metrics.scrape(address)
        recorded.setdefault(service, {})[phase] = metrics.to_json(samples)


async def missing(endpoints: Mapping[str, str]) -> Missing | None:
    """None when both services answer on their metrics endpoints; otherwise which do
    not (a team's own services may ignore ZIGFLOW_METRICS_LISTEN / STIGMA_METRICS_LISTEN):
    every metrics check needs both."""
    silent: list[str] = []
    unjudged: list[str] = []
    detail: list[str] = []
    for service in LISTEN_ENV:
        address = endpoints.get(service)
        if address is None:
            unjudged.append(service)
            detail.append(activity_level_detail(service))
            continue
        try:
            await metrics.scrape(address, timeout_s=2.0)
        except OSError as err:
            silent.append(service)
            detail.append(silent_detail(service, address, err))
    if not silent and not unjudged:
        return None
    whys = []
    if silent:
        whys.append(exports_none(silent))
    if unjudged:
        whys.append(not_judged_at_activity_level(unjudged))
    return Missing(AREA, "; ".join(whys), tuple(detail))


# The reasons are shared with the load run (harness/load/run.py), so that the report
# gathers the scenarios that lacked the same metrics under one "not certified" line.
def exports_none(silent: Sequence[str]) -> str:
    """Why, when the services ``silent`` answer on no metrics endpoint."""
    verb = "exports" if len(silent) == 1 else "export"
    return f"{' and '.join(silent)} {verb} no metrics on " + " / ".join(
        LISTEN_ENV[s] for s in silent
    )


def not_judged_at_activity_level(unjudged: Sequence[str]) -> str:
    return f"{' and '.join(unjudged)} metrics not judged at activity level"


def activity_level_detail(service: str) -> str:
    return (
        f"{service}'s metrics are not judged on this stack (at activity level "
        "Zigflow's agent metrics are counted by its workflow, which is the harness's)"
    )


def silent_detail(service: str, address: str, err: object) -> str:
    """This run's particulars of a service that did not answer on its endpoint."""
    return f"{service} exports no metrics at {address} ({LISTEN_ENV[service]}): {err}"


@dataclass(frozen=True)
class Observation:
    """What ``observe_from`` found: the endpoints to scrape again, or what is missing."""

    history: History
    endpoints: Mapping[str, str]
    missing: Missing | None

    async def judged(self) -> Verdict:
        """The "after" snapshot, then ``metrics_agree_with_history``; "not checked"
        (with the reason) when the services export no metrics. Only for a scenario
        that restarts no service (counters start afresh in a new process)."""
        if self.missing is not None:
            return Verdict.not_checked(CHECKER, self.missing)
        await self._after()
        return metrics_agree_with_history(self.history)

    async def gauges_settled(self) -> Verdict:
        """The "after" snapshot, then ``gauges_back_to_baseline``; "not checked" (with
        the reason) when the services export no metrics. Call it once every call of
        the scenario has resolved; valid after a restart too."""
        if self.missing is not None:
            return Verdict.not_checked(GAUGES_CHECKER, self.missing)
        await self._after()
        return gauges_back_to_baseline(self.history)

    async def _after(self) -> None:
        """Take the "after" snapshot once, shared by both checkers: when no call is in
        flight, once every gauge reads its "before" level again or ``GAUGE_SETTLE_S``
        has passed (then ``gauges_back_to_baseline`` names those that did not)."""
        recorded: Any = self.history.measurements.get(KEY, {})
        if all("after" in recorded.get(service, {}) for service in self.endpoints):
            return
        if not in_flight(self.history):
            unsettled: list[str] = []

            async def settled() -> bool | None:
                unsettled[:] = await self._unsettled()
                return True if not unsettled else None

            # Not settling is the checker's finding, with the levels, not an error here.
            with contextlib.suppress(WaitTimeout):
                await eventually(
                    settled,
                    timeout_s=GAUGE_SETTLE_S,
                    pending=lambda: (
                        "gauges back to their levels before the scenario: " + ", ".join(unsettled)
                    ),
                    interval_s=0.1,
                )
        await snapshot(self.history, self.endpoints, "after")

    async def _unsettled(self) -> list[str]:
        """The contract's gauges that do not read their "before" level now."""
        found: list[str] = []
        for service, address in self.endpoints.items():
            now = await metrics.scrape(address)
            for term in _gauges_of(service):
                if metrics.total(now, term.value) != _level(
                    self.history, service, "before", term.value
                ):
                    found.append(f"{service} {term.value}")
        return found


async def observe_from(history: History, endpoints: Mapping[str, str]) -> Observation:
    """For a scenario that also checks its metrics: take the "before" snapshot when the
    services export metrics. At the end, ``holds(history, await observation.judged())``
    either judges them or records why they were not checked."""
    gap = await missing(endpoints)
    if gap is None:
        await quiet(endpoints)
        await snapshot(history, endpoints, "before")
    return Observation(history, endpoints, gap)


async def quiet(endpoints: Mapping[str, str]) -> None:
    """Wait (up to ``GAUGE_SETTLE_S``) until every gauge reads zero: the stack is shared
    by the scenarios before this one, and one of theirs may still be winding down (a
    Stigma execution that closes a moment after its Zigflow call resolved). A baseline
    taken meanwhile would count that work as this scenario's, and its calls and its
    gauge's fall as this scenario's changes. A stack that never reads zero (other
    traffic on a deployed target) keeps the level it has: the checkers then judge
    against it as before."""
    busy: list[str] = []

    async def idle() -> bool | None:
        busy[:] = []
        for service, address in endpoints.items():
            now = await metrics.scrape(address)
            busy.extend(
                f"{service} {t.value}" for t in _gauges_of(service) if metrics.total(now, t.value)
            )
        return True if not busy else None

    with contextlib.suppress(WaitTimeout):
        await eventually(
            idle,
            timeout_s=GAUGE_SETTLE_S,
            pending=lambda: "earlier work on the stack to wind down: " + ", ".join(busy),
            interval_s=0.1,
        )


def _changes(history: History, service: str) -> Samples | None:
    recorded: Any = history.measurements.get(KEY, {}).get(service, {})
    if "before" not in recorded or "after" not in recorded:
        return None
    return metrics.delta(
        metrics.from_json(recorded["before"]), metrics.from_json(recorded["after"])
    )


def _level(history: History, service: str, phase: str, name: str) -> float:
    recorded: Any = history.measurements.get(KEY, {}).get(service, {})
    return metrics.total(metrics.from_json(recorded.get(phase, [])), name)


def metrics_agree_with_history(history: History) -> Verdict:
    """Every final outcome the histories show moved its counter exactly once, per mode;
    Stigma's delivered/rejected counters match its executions' recorded completions.
    (The gauges are ``gauges_back_to_baseline``'s.)"""
    evidence: list[str] = []
    zig = _changes(history, "zigflow")
    stigma = _changes(history, "stigma")
    if zig is None or stigma is None:
        return Verdict(
            CHECKER,
            False,
            0,
            ["no before/after metrics snapshot of zigflow and stigma was recorded"],
        )
    states = agent_states(history)
    checked = 0
    for mode in ("handshake", "direct"):
        for status, counter in ZIGFLOW_COUNTER.items():
            seen = sum(
                1 for s in states if s.mode == mode and s.zigflow and s.zigflow.status == status
            )
            counted = metrics.total(zig, counter, mode=mode)
            checked += 1
            if counted != seen:
                evidence.append(
                    f"{counter}{{mode={mode}}} moved by {counted:g}, histories show {seen} "
                    f"{mode} agent activit{'y' if seen == 1 else 'ies'} {status}"
                )
    for outcome in ("token_rejected", "token_dead"):
        seen = sum(1 for s in states if s.stigma and _completion_status(s.stigma.result) == outcome)
        counted = sum(
            metrics.total(stigma, STIGMA_DELIVERIES, kind=kind, outcome=outcome)
            for kind in ("complete", "fail", "cancel")
        )
        checked += 1
        if counted < seen:
            evidence.append(
                f"{STIGMA_DELIVERIES}{{outcome={outcome}}} moved by {counted:g}, but {seen} "
                f"Stigma execution(s) recorded {outcome}"
            )
    # What Stigma's executions delivered is in their summaries (optional evidence).
    unsummarised = [s for s in states if no_summary(s.stigma)]
    if unsummarised:
        evidence.append(
            f"{checkers.NOT_CHECKED}{STIGMA_DELIVERIES} delivered "
            "(Stigma's executions gave no summary)"
        )
    else:
        delivered = sum(
            1 for s in states if s.stigma and _completion_status(s.stigma.result) in DELIVERED
        )
        counted_delivered = sum(
            metrics.total(stigma, STIGMA_DELIVERIES, kind=kind, outcome=outcome)
            for kind in ("complete", "fail", "cancel")
            for outcome in DELIVERED
        )
        checked += 1
        if counted_delivered != delivered:
            evidence.append(
                f"{STIGMA_DELIVERIES} delivered moved by {counted_delivered:g}, histories show "
                f"{delivered} Stigma execution(s) whose completion was delivered"
            )
    return Verdict(
        CHECKER,
        not checkers.violations(evidence),
        checked,
        evidence,
        checkers.SUMMARY if unsummarised else None,
    )


def in_flight(history: History) -> list[str]:
    """The scenario's calls not resolved yet: no outcome, or one nobody can account
    for. While one is in flight a gauge may rightly count it."""
    return [
        call_id
        for call_id in history.calls
        if (op := history.outcome(call_id)) is None or op.type == "unknown"
    ]


def _gauges_of(service: str) -> tuple[contract.Term, ...]:
    return tuple(t for t in contract.GAUGES if t.side == service)


def _series(history: History, service: str, phase: str) -> set[str]:
    recorded: Any = history.measurements.get(KEY, {}).get(service, {})
    return metrics.names(metrics.from_json(recorded.get(phase, [])))


def gauges_back_to_baseline(history: History) -> Verdict:
    """Once no call of the scenario is in flight, every gauge the contract lists reads
    what it read before the scenario, on each service: one left higher counts work that
    is over (a "running" or "pending" not taken back on a failure, cancellation, timeout
    or kill path), one left lower forgot work that was there before."""
    recorded: Any = history.measurements.get(KEY, {})
    flying = in_flight(history)
    if flying:
        return Verdict.not_checked(
            GAUGES_CHECKER,
            Missing(
                AREA,
                "gauges not judged while calls of the scenario are in flight",
                (f"{len(flying)} call(s) in flight: {', '.join(flying[:3])}",),
            ),
        )
    evidence: list[str] = []
    absent: list[str] = []
    checked = 0
    for term in contract.GAUGES:
        service = term.side
        phases = recorded.get(service, {})
        if "before" not in phases or "after" not in phases:
            evidence.append(f"no before/after metrics snapshot of {service} was recorded")
            continue
        if not any(term.value in _series(history, service, p) for p in ("before", "after")):
            absent.append(f"{service} {term.value}")
            evidence.append(f"{checkers.NOT_CHECKED}{service} exports no {term.value}")
            continue
        checked += 1
        before, after = (_level(history, service, p, term.value) for p in ("before", "after"))
        if after != before:
            evidence.append(
                f"{service}: {term.value} is {after:g} after the scenario, {before:g} before "
                f"it, with every call of the scenario resolved (given up to "
                f"{GAUGE_SETTLE_S:g} s to settle)"
            )
    gap = (
        Missing(AREA, "a gauge of the contract is not exported", tuple(absent)) if absent else None
    )
    return Verdict(GAUGES_CHECKER, not checkers.violations(evidence), checked, evidence, gap)


def _completion_status(result: Any) -> str:
    if not isinstance(result, dict):
        return "unknown"
    completion = result.get("completion") or {}
    return str(completion.get("status", "unknown"))
