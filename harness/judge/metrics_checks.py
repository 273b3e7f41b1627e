"""The services' metrics against the recorded history: a dashboard that lies is worse
than none. Pure functions over snapshots the scenario recorded (``observe``), in the
style of harness/judge/checkers.py.

Counters are cumulative over a service process's life and the session stack serves
many scenarios, so the checker compares what changed between the snapshot taken
before the scenario and the one after it with what the scenario's own calls did.
Only valid for a scenario whose calls are the only traffic on the stack meanwhile
(sequential tests on one stack, as in the gate) and that restarts no service.

Metrics are optional evidence: a team's own services may not export them. Then the
check is recorded as "not checked" (``Verdict.not_checked``) and the scenario passes
on the rest; the certification report lists metrics as not certified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.judge import checkers
from harness.judge.checkers import DELIVERED, Missing, Verdict, agent_states, no_summary
from harness.observe import metrics
from harness.observe.history import History
from harness.observe.metrics import Samples

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
        (with the reason) when the services export no metrics."""
        if self.missing is not None:
            return Verdict.not_checked(CHECKER, self.missing)
        await snapshot(self.history, self.endpoints, "after")
        return metrics_agree_with_history(self.history)


async def observe_from(history: History, endpoints: Mapping[str, str]) -> Observation:
    """For a scenario that also checks its metrics: take the "before" snapshot when the
    services export metrics. At the end, ``holds(history, await observation.judged())``
    either judges them or records why they were not checked."""
    gap = await missing(endpoints)
    if gap is None:
        await snapshot(history, endpoints, "before")
    return Observation(history, endpoints, gap)


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
    Stigma's delivered/rejected counters match its executions' recorded completions;
    and the pending gauge is back where it was once every call has resolved."""
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
    unresolved = [s.where for s in states if s.zigflow is None or s.zigflow.status == "open"]
    if not unresolved:
        checked += 1
        pending = "zigflow_agent_activities_pending"
        before, after = (_level(history, "zigflow", p, pending) for p in ("before", "after"))
        if after != before:
            evidence.append(
                f"{pending} is {after:g} after the scenario, {before:g} before, though every "
                "agent activity of the scenario has resolved"
            )
    return Verdict(
        CHECKER,
        not checkers.violations(evidence),
        checked,
        evidence,
        checkers.SUMMARY if unsummarised else None,
    )


def _completion_status(result: Any) -> str:
    if not isinstance(result, dict):
        return "unknown"
    completion = result.get("completion") or {}
    return str(completion.get("status", "unknown"))
