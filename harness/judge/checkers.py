"""Checkers: pure functions from a recorded History to a Verdict with its evidence.

A checker never talks to a server; everything it needs was recorded. Each
returns every violation it finds (not just the first), so a failing scenario
explains itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import contract
from harness.drive.plan import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_START_TO_CLOSE_S,
    DIRECT,
    activity_id,
    script_of,
)
from harness.observe import failures
from harness.observe.failures import Failure
from harness.observe.history import Call, History
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace

AGENT_ACTIVITY = contract.Names().zigflow_agent_activity  # the default name, for fixtures
# Stigma's ways of saying "Zigflow has the result": delivered now, or by an earlier call
# whose reply was lost (confirmed from Zigflow's own history).
DELIVERED = frozenset({"delivered", "delivered_earlier"})
# A deadline the relays read is the time left when the call arrived: a little under what
# the caller set, or a hair over (gRPC sends the time left rounded up to its unit, and the
# server turns it back into a deadline between readings of two clocks that a busy machine
# can preempt). This much over a bound is a longer deadline, not a reading's error.
DEADLINE_READ_SLACK_S = 0.5


# Evidence lines that say what could not be checked start with this; the rest are
# violations.
NOT_CHECKED = "not checked: "


@dataclass(frozen=True)
class Missing:
    """Optional evidence a checker needs and the services under test did not give
    (metrics, logs, Stigma's summary: a team's own service may not offer them)."""

    area: str  # what cannot be certified: "metrics"
    # Why, the same for every scenario and run (no port, no pid), so that the report
    # can gather the scenarios that lacked the same evidence.
    why: str
    # This run's particulars (addresses, errors), for the person reading one scenario.
    detail: tuple[str, ...] = ()


@dataclass
class Verdict:
    checker: str
    ok: bool
    checked: int = 0
    evidence: list[str] = field(default_factory=list)
    # Set when the checker could not judge for want of optional evidence: the verdict
    # is "not checked" (nothing violated, nothing certified), never a silent "ok".
    missing: Missing | None = None

    @classmethod
    def not_checked(cls, checker: str, missing: Missing) -> Verdict:
        lines = missing.detail or (missing.why,)
        return cls(checker, True, 0, [f"{NOT_CHECKED}{line}" for line in lines], missing)

    @property
    def status(self) -> str:
        """ "ok", "violated" or "not_checked" (what the history and the report record).
        A violation found in what could be checked wins over missing evidence."""
        if not self.ok:
            return "violated"
        return "not_checked" if self.missing is not None else "ok"

    def record(self) -> dict[str, Any]:
        """The verdict as the history records it (``holds``) and the report reads it
        (``harness.report.model.Check``)."""
        check: dict[str, Any] = {
            "checker": self.checker,
            "ok": self.ok,
            "status": self.status,
            "checked": self.checked,
            "evidence": self.evidence[:50],
        }
        if self.missing is not None:
            check |= {"area": self.missing.area, "why": self.missing.why}
        return check

    def __str__(self) -> str:
        if self.missing is not None and self.ok:
            part = f"ok on {self.checked} checked; " if self.checked else ""
            head = f"{self.checker}: {part}NOT CHECKED ({self.missing.area}: {self.missing.why})"
        else:
            head = f"{self.checker}: {'ok' if self.ok else 'VIOLATED'} ({self.checked} checked)"
        return "\n  ".join([head, *self.evidence[:50]])


@dataclass
class AgentState:
    """One call_agent state of one call, with what both sides recorded."""

    call: Call
    index: int
    state: dict[str, Any]
    activity_id: str
    zigflow: ActivitySpan | None
    stigma: StigmaTrace | None

    @property
    def where(self) -> str:
        return f"{self.call.call_id}/{self.activity_id}"

    @property
    def mode(self) -> str:
        return str(self.state.get("mode", "handshake"))

    @property
    def script(self) -> dict[str, Any]:
        return script_of(self.state)

    @property
    def stigma_runs(self) -> list[StigmaTrace]:
        """Every run of this call's Stigma execution id, oldest first (the newest alone
        when only that was read)."""
        runs = self.call.stigma_runs.get(self.activity_id)
        if runs:
            return runs
        return [self.stigma] if self.stigma is not None else []

    @property
    def agent_runs(self) -> int:
        """Agent activities Stigma scheduled for this call, in every run of its execution
        (the attempts of one activity are one run)."""
        return sum(run.agent_runs for run in self.stigma_runs)


def agent_states(history: History, mode: str | None = None) -> list[AgentState]:
    found = []
    for call in history.calls.values():
        for index, state in enumerate(call.plan.get("states", [])):
            if state.get("kind", "call_agent") != "call_agent":
                continue
            if mode is not None and state.get("mode", "handshake") != mode:
                continue
            act = activity_id(index, state)
            span = call.zigflow.activity(act) if call.zigflow else None
            found.append(AgentState(call, index, state, act, span, call.stigma.get(act)))
    return found


def _verdict(
    name: str,
    items: Iterable[Any],
    check: Callable[[Any], list[str]],
    *,
    reads_summary: bool = False,
) -> Verdict:
    """Run ``check`` on every item. With ``reads_summary``, a checker whose parts read
    Stigma's summary says so when a Stigma gave none: those parts are skipped by the
    check (``no_summary``) and the verdict is "not checked" for them, never "ok"."""
    evidence: list[str] = []
    n = 0
    unsummarised = 0
    for item in items:
        n += 1
        evidence.extend(check(item))
        if reads_summary and isinstance(item, AgentState) and no_summary(item.stigma):
            unsummarised += 1
    if n == 0:
        evidence.append("nothing to check: the history holds no matching calls")
    if unsummarised:
        evidence.append(
            f"{NOT_CHECKED}{unsummarised} of {n} Stigma execution(s) returned no summary"
        )
    return Verdict(name, not violations(evidence), n, evidence, SUMMARY if unsummarised else None)


def violations(evidence: list[str]) -> list[str]:
    """The evidence lines that are violations (not the "not checked" notes)."""
    return [e for e in evidence if not e.startswith(NOT_CHECKED)]


# Stigma's summary (its workflow's result) and its completion activities' results are
# optional evidence (harness/contract.py): without them the checks judge what Temporal's
# histories show and say which parts they could not make.
SUMMARY = Missing(
    "stigma summary",
    "Stigma's executions return no summary (agent_outcome, completion status and code, "
    "heartbeats): the parts of the checks that read it were not made",
)


def no_summary(trace: StigmaTrace | None) -> bool:
    """Stigma's execution completed without a summary (as opposed to not completing)."""
    if trace is None or trace.status != "completed":
        return False
    result = trace.result
    return not (isinstance(result, dict) and ("completion" in result or "agent_outcome" in result))


def every_call_resolved(history: History) -> Verdict:
    """Every invoke has an ok or fail; an unknown is a call nobody can account for."""

    def check(call: Call) -> list[str]:
        op = history.outcome(call.call_id)
        if op is None:
            return [f"{call.call_id}: invoked, never resolved"]
        if op.type == "unknown":
            return [f"{call.call_id}: outcome unknown ({op.value})"]
        return []

    return _verdict("every_call_resolved", history.calls.values(), check)


def _agent_output(s: AgentState) -> tuple[bool, Any]:
    runs = s.stigma.of_type(contract.NAMES.stigma_agent_activity) if s.stigma else []
    done = [r for r in runs if r.status == "completed"]
    return (True, done[-1].result) if done else (False, None)


def resumed_once_with_agent_result(history: History, *, max_attempts: int = 1) -> Verdict:
    """Success path: Zigflow's activity completed exactly once, within
    ``max_attempts`` attempts (1 unless a fault legitimately forced a retry), with
    the envelope of the one agent run that produced it."""

    def check(s: AgentState) -> list[str]:
        bad: list[str] = []
        z = s.zigflow
        if z is None:
            return [f"{s.where}: Zigflow never scheduled the agent activity"]
        if z.status != "completed":
            bad.append(
                f"{s.where}: Zigflow activity {z.status} ({z.failure_type}: {z.failure_message})"
            )
        if not 1 <= z.attempts <= max_attempts:
            bad.append(
                f"{s.where}: Zigflow activity took {z.attempts} attempts, "
                f"expected 1..{max_attempts}"
            )
        if s.stigma is None:
            return [*bad, f"{s.where}: no Stigma execution found for this call"]
        if s.agent_runs != 1:
            bad.append(f"{s.where}: agent ran {s.agent_runs} times, expected once")
        ran, output = _agent_output(s)
        if not ran:
            bad.append(f"{s.where}: the agent never completed in Stigma")
        got = z.result if isinstance(z.result, dict) else {}
        if z.status == "completed":
            if not isinstance(z.result, dict):
                bad.append(f"{s.where}: Zigflow received {z.result!r}, not a result envelope")
            elif got.get("output") != output:
                bad.append(
                    f"{s.where}: Zigflow received output {got.get('output')!r}, "
                    f"the agent produced {output!r}"
                )
            if got.get("zigflow_workflow_id") not in (None, s.call.call_id):
                bad.append(f"{s.where}: envelope names workflow {got.get('zigflow_workflow_id')!r}")
            expected = s.script.get("output")
            if isinstance(output, dict) and output.get("value") != expected:
                bad.append(
                    f"{s.where}: agent output value {output.get('value')!r}, "
                    f"script asked for {expected!r}"
                )
        outcome = _completion(s.stigma)
        if not no_summary(s.stigma) and outcome not in DELIVERED:
            bad.append(
                f"{s.where}: Stigma's completion outcome is {outcome!r}, expected one of "
                f"{sorted(DELIVERED)}"
            )
        return bad

    states = [s for s in agent_states(history, "handshake") if s.script.get("outcome") != "failure"]
    return _verdict("resumed_once_with_agent_result", states, check, reads_summary=True)


def agent_failure_propagated(history: History, *, max_attempts: int = 1) -> Verdict:
    """Failure path: Zigflow's activity failed once with the agent's error type
    and message (no retry storm: at most ``max_attempts`` attempts, 1 unless a
    fault legitimately failed an attempt before the agent ran), and the Zigflow
    workflow failed because of it."""

    def check(s: AgentState) -> list[str]:
        bad: list[str] = []
        z = s.zigflow
        want_type, want_msg = s.script.get("error_type"), s.script.get("error_message")
        if z is None:
            return [f"{s.where}: Zigflow never scheduled the agent activity"]
        if z.status != "failed":
            bad.append(f"{s.where}: Zigflow activity {z.status}, expected failed")
        if (z.failure_type, z.failure_message) != (want_type, want_msg):
            bad.append(
                f"{s.where}: Zigflow saw {z.failure_type!r}: {z.failure_message!r}, "
                f"agent raised {want_type!r}: {want_msg!r}"
            )
        if z.attempts > max_attempts:
            bad.append(f"{s.where}: {z.attempts} attempts for a failed agent (retry storm)")
        if s.stigma is not None and s.agent_runs != 1:
            bad.append(f"{s.where}: agent ran {s.agent_runs} times, expected once")
        # "delivered_earlier" is a delivery too: a fail-by-token call that landed and
        # whose reply was lost, its retry answered NOT_FOUND, and Stigma confirmed from
        # Zigflow's history that the failure there is its own (the checks above confirm
        # Zigflow failed once, with the agent's error).
        outcome = _completion(s.stigma)
        if s.stigma is None or (not no_summary(s.stigma) and outcome not in DELIVERED):
            bad.append(f"{s.where}: failure not delivered by token (completion {outcome!r})")
        zig = s.call.zigflow
        if s.state.get("on_error", "fail") == "fail" and (zig is None or zig.status != "failed"):
            bad.append(
                f"{s.call.call_id}: Zigflow workflow is "
                f"{zig.status if zig else 'missing'}, expected failed"
            )
        return bad

    states = [s for s in agent_states(history, "handshake") if s.script.get("outcome") == "failure"]
    return _verdict("agent_failure_propagated", states, check, reads_summary=True)


def direct_call_moves_on_at_ack(history: History) -> Verdict:
    """Direct mode: Zigflow moved on at the ACK (before the agent ended), the
    agent still ran to its end, and nothing was completed by token."""

    def check(s: AgentState) -> list[str]:
        bad: list[str] = []
        z = s.zigflow
        if z is None or z.status != "completed":
            return [
                f"{s.where}: Zigflow activity is {z.status if z else 'missing'}, expected completed"
            ]
        # What the activity returns at the ACK is Zigflow's own business: "moved on at
        # the ACK" is judged by when it closed (below), not by the shape of its result.
        if s.stigma is None:
            return [*bad, f"{s.where}: no Stigma execution for the direct call"]
        ran, _ = _agent_output(s)
        if not ran:
            bad.append(f"{s.where}: the agent did not run to its end")
        if not no_summary(s.stigma) and _completion(s.stigma) != "no_token":
            bad.append(
                f"{s.where}: Stigma completed something by token ({_completion(s.stigma)!r})"
            )
        runs = s.stigma.of_type(contract.NAMES.stigma_agent_activity)
        agent_end = runs[-1].closed_at if runs else None
        if z.closed_at is not None and agent_end is not None and z.closed_at >= agent_end:
            bad.append(
                f"{s.where}: Zigflow's activity closed only after the agent ended "
                "(it waited instead of moving on at the ACK)"
            )
        return bad

    return _verdict(
        "direct_call_moves_on_at_ack", agent_states(history, DIRECT), check, reads_summary=True
    )


def max_concurrently_pending(history: History) -> int:
    """Largest number of handshake activities started and not yet closed at one instant."""
    edges: list[tuple[float, int]] = []
    for s in agent_states(history, "handshake"):
        if s.zigflow and s.zigflow.started_at is not None and s.zigflow.closed_at is not None:
            edges += [(s.zigflow.started_at, 1), (s.zigflow.closed_at, -1)]
    level = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


def worker_not_blocked(
    history: History, *, pending_at_least: int, probe_f: str = "probe"
) -> Verdict:
    """N handshakes were pending at once, and probe workflows on the same worker
    ran their activities to completion while all of them were still pending."""
    evidence: list[str] = []
    spans = [
        s.zigflow for s in agent_states(history, "handshake") if s.zigflow and s.call.f != probe_f
    ]
    peak = max_concurrently_pending(history)
    if peak < pending_at_least:
        evidence.append(f"only {peak} handshakes pending at once, expected >= {pending_at_least}")
    last_start = max((z.started_at or 0.0 for z in spans), default=0.0)
    first_close = min((z.closed_at or float("inf") for z in spans), default=float("inf"))
    probes = [c for c in history.calls.values() if c.f == probe_f]
    if not probes:
        evidence.append("no probe call was recorded")
    for probe in probes:
        acts = probe.zigflow.activities if probe.zigflow else []
        if not acts or any(a.status != "completed" for a in acts):
            evidence.append(f"{probe.call_id}: probe activities did not all complete")
            continue
        for a in acts:
            assert a.closed_at is not None
            if not (last_start <= a.closed_at <= first_close):
                evidence.append(
                    f"{probe.call_id}/{a.activity_id}: completed at {a.closed_at:.3f}, outside the "
                    f"all-pending window [{last_start:.3f}, {first_close:.3f}]"
                )
    return Verdict("worker_not_blocked", not evidence, len(spans) + len(probes), evidence)


def _completion(trace: StigmaTrace | None) -> str:
    if trace is None or not isinstance(trace.result, dict):
        return "unknown" if trace is None else f"workflow {trace.status}"
    completion = trace.result.get("completion") or {}
    return str(completion.get("status", "unknown"))


def overhead_samples_ms(history: History) -> list[float]:
    """Per successful handshake: Zigflow activity duration minus the agent's own work."""
    samples = []
    for s in agent_states(history, "handshake"):
        z = s.zigflow
        if z is None or z.status != "completed" or z.attempts != 1 or s.stigma is None:
            continue
        if refused_a_result(s.call.zigflow):
            continue  # the activity took a result its workflow refused: not a handshake
        work = s.stigma.agent_work_s
        if z.duration_s is None or work is None:
            continue
        samples.append((z.duration_s - work) * 1000.0)
    return samples


def refused_a_result(workflow: WorkflowTrace | None) -> bool:
    """The Zigflow workflow failed by its own decision: an application failure its code
    raised, with no activity failure, timeout, cancellation or termination in the cause
    chain. Said of a workflow whose agent activity completed, it refused the result
    (e.g. crossed wires: the envelope names another workflow). Judged from Temporal's
    failure kinds, not from the failure's type name or message, which are Zigflow's own."""
    return (
        workflow is not None and workflow.status == "failed" and workflow.failure.raised_by_workflow
    )


def _retried(
    observed: Mapping[str, Failure] | None, earlier_wrong: Callable[[Failure], str | None]
) -> Callable[[AgentState], list[str]]:
    """A check: Zigflow's agent activity ended on attempt 2 or later, and an earlier attempt's
    failure passes ``earlier_wrong`` (None: as expected; else what it should have been).
    That failure is the one ``observed`` (call id -> failure) holds, as the server
    reported it while the activity was pending, else the one the history records on the
    last attempt's start (real servers do; the time-skipping server does not)."""
    observed = observed or {}

    def check(s: AgentState) -> list[str]:
        z = s.zigflow
        if z is None:
            return [f"{s.where}: Zigflow never scheduled the agent activity"]
        earlier = observed.get(s.call.call_id) or z.last_failure
        if z.attempts < 2:
            return [f"{s.where}: ended on attempt {z.attempts}, expected a retry (2 or more)"]
        if not earlier:
            return [f"{s.where}: retried, but no earlier attempt's failure was recorded"]
        wrong = earlier_wrong(earlier)
        if wrong is not None:
            return [
                f"{s.where}: an earlier attempt ended by {earlier.describe()}, expected {wrong}"
            ]
        return []

    return check


def retried_after_failing_fast(
    history: History, observed: Mapping[str, Failure] | None = None
) -> Verdict:
    """Stigma unreachable: Zigflow's agent activity failed fast (a failure, not a timeout
    or a pending wait) and was retried (``_retried``). The failure's type name is
    Zigflow's own and not judged."""

    def wrong(earlier: Failure) -> str | None:
        slow = earlier.is_timeout or earlier.has(failures.CANCELED)
        return "a fast failure" if slow else None

    check = _retried(observed, wrong)
    return _verdict("retried_after_failing_fast", agent_states(history, "handshake"), check)


def retried_after_timeout(
    history: History, timeout_type: str, observed: Mapping[str, Failure] | None = None
) -> Verdict:
    """An attempt nobody could finish or fail (its worker killed before its token reached
    Stigma) was ended by Temporal's ``timeout_type`` timeout and retried (``_retried``):
    the plan's timeout, not the design's 24 h StartToClose, is what noticed it."""

    def wrong(earlier: Failure) -> str | None:
        return None if earlier.timeout_type == timeout_type else f"a {timeout_type} timeout"

    check = _retried(observed, wrong)
    return _verdict(
        f"retried_after_timeout[{timeout_type}]", agent_states(history, "handshake"), check
    )


# How far a timeout may land from the StartToClose it is for: the server's timer
# granularity on a real clock, a clock hop's remainder on a virtual one.
TIMEOUT_LATE_S = 5.0
TIMEOUT_EARLY_S = 0.5


def _asked_start_to_close(state: dict[str, Any]) -> float:
    return float(state.get("start_to_close_s", DEFAULT_START_TO_CLOSE_S))


def timed_out(history: History, timeout_type: str) -> Verdict:
    """Zigflow's agent activity ended by a timeout of ``timeout_type`` (START_TO_CLOSE,
    HEARTBEAT, ...), once, and its workflow failed because of it: a reason on record,
    never an open-ended wait. A START_TO_CLOSE timeout must also come *when* the plan
    said: its attempt ran (server time, virtual on the time-skipping server) as long as
    the StartToClose the plan asked for, not sooner (a shorter timeout scheduled) and
    not much later."""

    def check(s: AgentState) -> list[str]:
        z = s.zigflow
        if z is None:
            return [f"{s.where}: Zigflow never scheduled the agent activity"]
        bad = []
        if z.status != "timed_out":
            bad.append(f"{s.where}: Zigflow activity {z.status}, expected timed_out")
        elif z.timeout_type != timeout_type:
            bad.append(f"{s.where}: timed out by {z.timeout_type or '?'}, expected {timeout_type}")
        elif timeout_type == "START_TO_CLOSE":
            bad += _timed_out_when(s, z)
        zig = s.call.zigflow
        if zig is None or zig.status != "failed":
            bad.append(
                f"{s.call.call_id}: Zigflow workflow is {zig.status if zig else 'missing'}, "
                "expected failed with the timeout as its reason"
            )
        return bad

    return _verdict(f"timed_out[{timeout_type}]", agent_states(history, "handshake"), check)


def _timed_out_when(s: AgentState, z: ActivitySpan) -> list[str]:
    asked = _asked_start_to_close(s.state)
    # The attempt's start, else (a server that writes no started event for an attempt
    # that timed out) its scheduling, when it was the first: that adds only the wait in
    # the task queue, within the tolerance.
    began = z.started_at if z.started_at is not None else z.scheduled_at
    if z.closed_at is None or (z.started_at is None and z.attempts > 1):
        return [f"{s.where}: timed out, but the history has no start of the attempt to time it"]
    ran = z.closed_at - began
    if asked - TIMEOUT_EARLY_S <= ran <= asked + max(TIMEOUT_LATE_S, asked * 0.001):
        return []
    return [
        f"{s.where}: timed out {ran:.1f}s after its attempt started; the plan asked for a "
        f"StartToClose of {asked:.0f}s (scheduled: {z.options.start_to_close_s:.0f}s)"
    ]


def agent_activity_options(history: History) -> Verdict:
    """Every agent call was scheduled as the plan asked and as the design needs, read
    from the ActivityTaskScheduled event in Zigflow's history: StartToClose and
    heartbeat timeout as asked; in handshake mode a StartToClose (and ScheduleToClose,
    if set) no shorter than the agent may run (``agent_max_run_s``), since the token
    dies with the attempt; a bounded retry policy (every retry mints a new token) with
    the maximum attempts the plan asked for."""

    def check(s: AgentState) -> list[str]:
        z = s.zigflow
        if z is None:
            return []  # never scheduled: every_call_resolved and the outcome checks say so
        o = z.options
        asked_stc = _asked_start_to_close(s.state)
        max_run = float(s.state.get("agent_max_run_s", asked_stc))
        asked_hb = float(s.state.get("heartbeat_timeout_s") or 0.0)
        asked_attempts = int(s.state.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        bad = []
        if o.start_to_close_s and abs(o.start_to_close_s - asked_stc) > 1e-3:
            bad.append(
                f"{s.where}: scheduled with StartToClose {o.start_to_close_s:.0f}s, the plan "
                f"asked for {asked_stc:.0f}s"
            )
        if s.mode != DIRECT:
            limit = o.start_to_close_s or o.schedule_to_close_s
            if limit < max_run:
                bad.append(
                    f"{s.where}: StartToClose {limit:.0f}s is shorter than the agent may run "
                    f"({max_run:.0f}s): its token dies before the agent can finish"
                )
            if 0 < o.schedule_to_close_s < max_run:
                bad.append(
                    f"{s.where}: ScheduleToClose {o.schedule_to_close_s:.0f}s is shorter than "
                    f"the agent may run ({max_run:.0f}s)"
                )
        if abs(o.heartbeat_s - asked_hb) > 1e-3:
            bad.append(
                f"{s.where}: heartbeat timeout {o.heartbeat_s:g}s, the plan asked for "
                f"{asked_hb:g}s (0: none)"
            )
        if not o.bounded:
            bad.append(
                f"{s.where}: unbounded retry policy (no maximum attempts, no "
                "ScheduleToClose): a failing call retries forever, each time with a new token"
            )
        elif o.maximum_attempts != asked_attempts:
            bad.append(
                f"{s.where}: retry policy allows {o.maximum_attempts or 'unlimited'} attempts, "
                f"the plan asked for {asked_attempts}"
            )
        return bad

    return _verdict("agent_activity_options", agent_states(history), check)


def permanent_rejection_not_retried(history: History) -> Verdict:
    """A request Stigma refused for good (INVALID_ARGUMENT): Zigflow's activity failed on
    its first attempt with an application failure that the scheduled retry policy does
    not retry (non_retryable, or a type the policy lists), and that failure reached the
    workflow, in its cause chain, as what failed it. Judged from the failure's structure
    and the policy in the history, never from names or messages."""

    def check(s: AgentState) -> list[str]:
        z = s.zigflow
        if z is None:
            return [f"{s.where}: Zigflow never scheduled the agent activity"]
        bad = []
        if z.status == "open":
            bad.append(
                f"{s.where}: Zigflow activity still open (being retried?), expected failed at once"
            )
        elif z.status != "failed":
            bad.append(f"{s.where}: Zigflow activity {z.status}, expected failed at once")
        if z.attempts > 1:
            bad.append(f"{s.where}: {z.attempts} attempts for a request Stigma refused for good")
        app = z.failure.application
        if z.status == "failed" and app is None:
            bad.append(
                f"{s.where}: failed by {z.failure.describe()}, not by an application failure "
                "saying the request was refused"
            )
        elif app is not None and z.options.retryable(z.failure):
            bad.append(
                f"{s.where}: its failure ({app.type or 'untyped'}) is retryable under the "
                f"scheduled policy (non_retryable false, not among "
                f"{list(z.options.non_retryable_error_types)})"
            )
        zig = s.call.zigflow
        if s.state.get("on_error", "fail") == "fail" and app is not None:
            chain = zig.failure.chain if zig is not None else ()
            surfaced = any(
                link.kind == failures.APPLICATION and link.type == app.type for link in chain
            ) and any(link.kind == failures.ACTIVITY for link in chain)
            if zig is None or zig.status != "failed" or not surfaced:
                bad.append(
                    f"{s.call.call_id}: workflow {zig.status if zig else 'missing'} "
                    f"({zig.failure.describe() if zig else 'no record'}): the refusal is not "
                    "in its failure chain"
                )
        return bad

    return _verdict("permanent_rejection_not_retried", agent_states(history, "handshake"), check)


def late_completion_recorded(history: History) -> Verdict:
    """A completion that arrives after the Zigflow activity is gone is recorded by Stigma
    as a dead token (NOT_FOUND) after one call: no retry loop, no false delivery."""

    def check(s: AgentState) -> list[str]:
        if s.stigma is None:
            return [f"{s.where}: no Stigma execution"]
        bad = []
        outcome = _completion(s.stigma)
        if not no_summary(s.stigma) and outcome != "token_dead":
            bad.append(
                f"{s.where}: Stigma's completion outcome is {outcome!r}, expected 'token_dead'"
            )
        calls = [
            a for a in s.stigma.activities if a.activity_type in contract.completion_activities()
        ]
        if len(calls) != 1 or calls[0].attempts > 1:
            bad.append(
                f"{s.where}: completion calls {[(a.activity_type, a.attempts) for a in calls]}, "
                "expected one call, one attempt"
            )
        if s.stigma.status != "completed":
            bad.append(f"{s.where}: Stigma workflow is {s.stigma.status}, expected completed")
        return bad

    return _verdict(
        "late_completion_recorded", agent_states(history, "handshake"), check, reads_summary=True
    )


def heartbeats_kept_alive(history: History) -> Verdict:
    """Agents that outlived their Zigflow heartbeat timeout were kept alive by Stigma's
    heartbeats by token, and still delivered their result."""

    def check(s: AgentState) -> list[str]:
        hb = s.state.get("heartbeat_timeout_s")
        summary = s.stigma.result if s.stigma and isinstance(s.stigma.result, dict) else {}
        bad = []
        if not hb:
            bad.append(f"{s.where}: no heartbeat timeout configured on the Zigflow activity")
        if not no_summary(s.stigma) and not summary.get("heartbeats"):
            bad.append(f"{s.where}: Stigma sent no heartbeat by token")
        if s.zigflow is None or s.zigflow.status != "completed":
            bad.append(
                f"{s.where}: Zigflow activity is "
                f"{s.zigflow.status if s.zigflow else 'missing'}, expected completed"
            )
        elif hb and s.zigflow.duration_s is not None and s.zigflow.duration_s <= hb:
            bad.append(
                f"{s.where}: the agent took {s.zigflow.duration_s:.1f}s, not longer than "
                f"the {hb}s heartbeat timeout: nothing was proven"
            )
        return bad

    return _verdict(
        "heartbeats_kept_alive", agent_states(history, "handshake"), check, reads_summary=True
    )


def cancelled_through_heartbeat(history: History) -> Verdict:
    """Cancelling Zigflow reached Stigma (through a heartbeat's answer), the agent was
    stopped before it produced a result, and Zigflow ended cancelled, not timed out or
    failed.

    Whether Zigflow's workflow waits for Stigma's confirmation is Zigflow's choice:
    waiting (WAIT_CANCELLATION_COMPLETED), its activity ends canceled and Stigma's
    cancel by token is delivered; not waiting (TRY_CANCEL, the SDKs' default), the
    workflow closes with the activity's cancellation requested, Stigma's next heartbeat
    is answered NOT_FOUND and its cancel by token finds nobody (token_dead). Either way
    the agent must stop: a Stigma that lets it run on fails here."""

    def check(s: AgentState) -> list[str]:
        bad = []
        z = s.zigflow
        zig = s.call.zigflow
        waited = z is not None and z.status == "canceled"
        abandoned = (
            z is not None
            and z.status == "open"
            and z.cancel_requested_at is not None
            and zig is not None
            and zig.status == "canceled"
        )
        if not (waited or abandoned):
            bad.append(
                f"{s.where}: Zigflow activity is {z.status if z else 'missing'}"
                + (", its cancellation never requested" if z and not z.cancel_requested_at else "")
                + ", expected canceled (or its cancellation requested by a cancelled workflow)"
            )
        if zig is None or zig.status != "canceled":
            bad.append(
                f"{s.call.call_id}: Zigflow workflow is {zig.status if zig else 'missing'}, "
                "expected canceled"
            )
        if s.stigma is None:
            return [*bad, f"{s.where}: no Stigma execution"]
        summary = s.stigma.result if isinstance(s.stigma.result, dict) else {}
        told = not no_summary(s.stigma)
        if told and summary.get("agent_outcome") != "canceled":
            bad.append(
                f"{s.where}: agent outcome {summary.get('agent_outcome')!r}, expected 'canceled'"
            )
        if any(
            a.status == "completed" for a in s.stigma.of_type(contract.NAMES.stigma_agent_activity)
        ):
            bad.append(f"{s.where}: the agent ran to completion despite the cancellation")
        confirmed = "delivered" if waited else "token_dead"
        if told and _completion(s.stigma) != confirmed:
            bad.append(
                f"{s.where}: cancellation by token ended {_completion(s.stigma)!r}, expected "
                f"{confirmed!r} (Zigflow {'waited for' if waited else 'did not wait for'} it)"
            )
        return bad

    return _verdict(
        "cancelled_through_heartbeat", agent_states(history, "handshake"), check, reads_summary=True
    )


def _harness_agents(s: AgentState) -> list[dict[str, Any]]:
    """The attempts of this state's agent that the harness itself ran (harness/stack/agent.py)."""
    return s.call.agents.get(s.activity_id, [])


def at_most_one_agent_per_key(history: History) -> Verdict:
    """Per logical agent call (idempotency key): at most one agent execution, whatever
    the retries, lost ACKs and re-sent tokens: as Stigma's histories schedule it, in
    every run of its execution id (not only the newest), and as the harness's agent saw
    it run (attempts of one activity of one run are one execution)."""

    def check(s: AgentState) -> list[str]:
        scheduled = s.agent_runs
        # One execution = one activity of one run: a key started again as a new run
        # reuses the activity ids, so the run tells the two apart.
        ran = len({(a.get("run_id", ""), a["activity_id"]) for a in _harness_agents(s)})
        runs = max(scheduled, ran)
        if runs <= 1:
            return []
        return [
            f"{s.where}: {runs} agent runs for one idempotency key, in "
            f"{len(s.stigma_runs)} run(s) of its Stigma execution"
        ]

    return _verdict("at_most_one_agent_per_key", agent_states(history, "handshake"), check)


def agent_ran_once(history: History) -> Verdict:
    """The harness's own record: each agent was started once (one attempt of one
    activity) and ran to its end; nothing Stigma went through re-ran or dropped it."""

    def check(s: AgentState) -> list[str]:
        runs = _harness_agents(s)
        if len(runs) != 1:
            return [f"{s.where}: the harness ran {len(runs)} agent attempt(s), expected one"]
        if runs[0]["outcome"] not in ("succeeded", "failed"):
            return [f"{s.where}: the agent ended {runs[0]['outcome'] or 'still running'!r}"]
        return []

    return _verdict("agent_ran_once", agent_states(history), check)


def agents_heartbeat_watched(history: History) -> Verdict:
    """Stigma scheduled every agent with a heartbeat timeout (as the harness's agent saw
    it): an agent lost with its worker is retried within it, not at its StartToClose."""

    def check(s: AgentState) -> list[str]:
        runs = _harness_agents(s)
        if not runs:
            return [f"{s.where}: the harness ran no agent for this call"]
        return [
            f"{s.where}: agent attempt {a['attempt']} scheduled without a heartbeat timeout"
            for a in runs
            if not a.get("heartbeat_timeout_s")
        ]

    return _verdict("agents_heartbeat_watched", agent_states(history), check)


def no_token_lost(history: History) -> Verdict:
    """Every token handed to Stigma ends used once or reported dead with its reason:
    a completed Zigflow activity was completed by Stigma's delivery, and a Stigma
    that could not deliver says why (dead / rejected), never silence or a give-up."""

    def check(s: AgentState) -> list[str]:
        if s.stigma is None:
            return (
                []
                if s.zigflow is None or s.zigflow.status != "completed"
                else [f"{s.where}: Zigflow completed but no Stigma execution exists"]
            )
        if no_summary(s.stigma):
            return []  # judged by Temporal's side alone (every_call_resolved, ...)
        summary = s.stigma.result if isinstance(s.stigma.result, dict) else None
        if summary is None:
            return [f"{s.where}: Stigma execution is {s.stigma.status}: no account of its token"]
        completion = summary.get("completion") or {}
        status = completion.get("status")
        bad = []
        if status in (None, "gave_up"):
            bad.append(f"{s.where}: token outcome {status!r}: {completion.get('message', '')}")
        if status in ("token_dead", "token_rejected") and not completion.get("grpc_code"):
            bad.append(f"{s.where}: token {status} without the server's reason")
        if (
            s.zigflow
            and s.zigflow.status == "completed"
            and status not in ("delivered", "delivered_earlier")
        ):
            bad.append(f"{s.where}: Zigflow completed, but Stigma recorded {status!r}")
        return bad

    return _verdict("no_token_lost", agent_states(history, "handshake"), check, reads_summary=True)


def completion_outcome_is(history: History, status: str) -> Verdict:
    """Stigma's recorded completion outcome is ``status`` for every handshake (e.g.
    "delivered_earlier": a lost completion reply was recognised, not turned into a
    false failure)."""

    def check(s: AgentState) -> list[str]:
        got = _completion(s.stigma)
        if no_summary(s.stigma) or got == status:
            return []
        return [f"{s.where}: completion outcome {got!r}, expected {status!r}"]

    return _verdict(
        f"completion_outcome_is[{status}]",
        agent_states(history, "handshake"),
        check,
        reads_summary=True,
    )


def redelivered_to_live_attempt(history: History) -> Verdict:
    """After a lost ACK: Stigma's first delivery hit the dead token of the attempt that
    never got its ACK, the agent was not run again, and the result went to the newer
    Zigflow attempt's live token (the path the scenario exists to exercise)."""

    def check(s: AgentState) -> list[str]:
        if s.stigma is None or s.zigflow is None:
            return [f"{s.where}: missing Stigma or Zigflow record"]
        calls = s.stigma.of_type(contract.NAMES.stigma_complete_activity)
        statuses = [
            c.result.get("status") if isinstance(c.result, dict) else c.status for c in calls
        ]
        bad = []
        told = not no_summary(s.stigma)  # the calls' results say what each one met
        if len(calls) < 2 or (
            told and (statuses[0] != "token_dead" or statuses[-1] not in DELIVERED)
        ):
            bad.append(
                f"{s.where}: completion calls {statuses}: expected a dead token first, "
                "then a delivery (the fault did not hit the window it targets)"
            )
        if s.zigflow.attempts < 2:
            bad.append(
                f"{s.where}: Zigflow completed on attempt {s.zigflow.attempts}, "
                "expected a retried attempt"
            )
        if s.agent_runs != 1:
            bad.append(f"{s.where}: {s.agent_runs} agent runs")
        return bad

    return _verdict(
        "redelivered_to_live_attempt", agent_states(history, "handshake"), check, reads_summary=True
    )


def superseded_call_recorded(history: History) -> Verdict:
    """A completion racing a retry: Zigflow's attempt timed out while its agent was
    finishing, and Stigma's call by that attempt's token reached Temporal after the retry
    (a new attempt, a new token) was under way. That call must end NOT_FOUND, recorded
    by Stigma as a dead token with the server's code, after one call (never retried,
    never counted delivered); the agent's outcome must then reach the live attempt by
    a later call, once, with the agent run once. Names the bugs: a result or failure
    lost to the dead token (the live attempt left to time out), a dead call retried
    or reported delivered, or a second agent."""

    def check(s: AgentState) -> list[str]:
        z = s.zigflow
        if z is None or s.stigma is None:
            return [f"{s.where}: missing Stigma or Zigflow record"]
        bad: list[str] = []
        if z.attempts < 2 or z.last_failure.kind not in ("", failures.TIMEOUT):
            # (Where the server records how the attempt before the last ended: the
            # time-skipping server leaves it out.)
            bad.append(
                f"{s.where}: Zigflow's activity ended on attempt {z.attempts}, the attempt "
                f"before it with {z.last_failure.describe() or 'nothing recorded'}: "
                "expected a retry after a timeout (the race did not happen)"
            )
        kinds = (contract.NAMES.stigma_complete_activity, contract.NAMES.stigma_fail_activity)
        calls = sorted(
            (a for run in s.stigma_runs for a in run.activities if a.activity_type in kinds),
            key=lambda a: a.scheduled_at,
        )
        told = not no_summary(s.stigma)
        outcomes = [c.result if isinstance(c.result, dict) else {} for c in calls]
        statuses = [o.get("status", c.status) for o, c in zip(outcomes, calls, strict=True)]
        if len(calls) < 2:
            bad.append(
                f"{s.where}: {len(calls)} call(s) by token {statuses}: expected one by the "
                "timed-out attempt's token, then one to the live attempt"
            )
        else:
            dead, last = calls[:-1], calls[-1]
            for c, o in zip(dead, outcomes, strict=False):
                if told and (o.get("status"), o.get("grpc_code")) != ("token_dead", "NOT_FOUND"):
                    bad.append(
                        f"{s.where}: the call by the superseded token ended "
                        f"{o.get('status')!r} ({o.get('grpc_code') or 'no code'}), expected "
                        "'token_dead' (NOT_FOUND)"
                    )
                if c.attempts > 1:
                    bad.append(
                        f"{s.where}: the call by the superseded token was made "
                        f"{c.attempts} times: NOT_FOUND retried"
                    )
            if told and statuses[-1] not in DELIVERED:
                bad.append(
                    f"{s.where}: the last call by token ended {statuses[-1]!r}: the agent's "
                    "outcome never reached the live attempt"
                )
            if last.status != "completed":
                bad.append(f"{s.where}: the last call by token is {last.status}")
        if z.status not in ("completed", "failed"):
            bad.append(
                f"{s.where}: Zigflow's live attempt {z.attempts} ended {z.status}"
                + (f" ({z.failure.describe()})" if z.failure else "")
                + ": the agent's outcome was lost to the superseded token"
            )
        if told and _completion(s.stigma) not in DELIVERED:
            bad.append(
                f"{s.where}: Stigma's execution recorded {_completion(s.stigma)!r}, "
                f"expected one of {sorted(DELIVERED)} (the live attempt's delivery)"
            )
        if s.agent_runs != 1:
            bad.append(f"{s.where}: {s.agent_runs} agent runs")
        return bad

    return _verdict(
        "superseded_call_recorded", agent_states(history, "handshake"), check, reads_summary=True
    )


def damaged_token_handled(history: History, *, damaged_calls: set[str]) -> Verdict:
    """A call whose token was damaged in transit: Stigma stayed up and ended its
    completion call with a classified error (rejected / dead, with the server's code),
    never a give-up or an endless retry; the agent ran at most once; and the Zigflow
    activity was resolved (failed, or timed out with its reason), unless the damage was
    harmless and the right activity got the right result."""

    disturbed = any(f.name != "hold" for f in history.faults)

    def check(s: AgentState) -> list[str]:
        if s.call.call_id not in damaged_calls:
            return []
        bad = []
        z = s.zigflow
        if z is None or z.status == "open":
            bad.append(f"{s.where}: Zigflow activity unresolved ({z.status if z else 'missing'})")
        if s.stigma is not None:
            summary = s.stigma.result if isinstance(s.stigma.result, dict) else None
            if no_summary(s.stigma):
                pass  # no account to judge: Zigflow's side (above) still is
            elif summary is None:
                bad.append(
                    f"{s.where}: Stigma execution {s.stigma.status}: no account of the token"
                )
            else:
                c = summary.get("completion") or {}
                status = c.get("status")
                if status in ("token_rejected", "token_dead"):
                    if not c.get("grpc_code"):
                        bad.append(f"{s.where}: {status} without the server's status code")
                elif status in DELIVERED:
                    got = z.result if z is not None and isinstance(z.result, dict) else {}
                    right_result = (
                        z is not None
                        and z.status == "completed"
                        and got.get("zigflow_workflow_id") == s.call.call_id
                    )
                    failure_delivered = z is not None and z.status == "failed"
                    if not (right_result or failure_delivered):
                        bad.append(f"{s.where}: a damaged token 'delivered' somewhere else")
                elif status != "no_token":
                    bad.append(f"{s.where}: completion outcome {status!r}: not classified")
            completions = [
                a
                for a in s.stigma.activities
                if a.activity_type in contract.completion_activities()
            ]
            # A transient error (a fault on the timeline) may legitimately retry a
            # completion; without one, a retried damaged token is a retry loop.
            if any(a.attempts > 1 for a in completions) and not disturbed:
                bad.append(f"{s.where}: a completion with a damaged token was retried")
            if s.agent_runs > 1:
                bad.append(f"{s.where}: {s.agent_runs} agent runs")
        return bad

    return _verdict(
        "damaged_token_handled", agent_states(history, "handshake"), check, reads_summary=True
    )


def crossed_wires_detected(history: History) -> Verdict:
    """Swapped tokens: no Zigflow workflow accepted a result meant for another one; each
    refused it: its agent activity completed (the result arrived by token), yet the
    workflow failed by its own application failure (``refused_a_result``). What Zigflow
    calls that failure (the reference says CrossedWires) and how it words it are its own."""

    def check(call: Call) -> list[str]:
        zig = call.zigflow
        if zig is None:
            return [f"{call.call_id}: no Zigflow record"]
        bad = []
        for a in zig.activities:
            got = a.result if isinstance(a.result, dict) else {}
            foreign = got.get("zigflow_workflow_id") not in (None, call.call_id)
            if a.status == "completed" and foreign and zig.status == "completed":
                bad.append(
                    f"{call.call_id}: accepted a result meant for {got.get('zigflow_workflow_id')}"
                )
        states = [s for s in agent_states(history, "handshake") if s.call is call]
        took = [s for s in states if s.zigflow is not None and s.zigflow.status == "completed"]
        if not took:
            bad.append(
                f"{call.call_id}: no agent activity completed "
                f"({[s.zigflow.status if s.zigflow else 'missing' for s in states]}): "
                "no result reached Zigflow to be refused"
            )
        if not refused_a_result(zig):
            what = zig.failure.describe() if zig.failure else "no failure"
            bad.append(
                f"{call.call_id}: workflow {zig.status} ({what}), expected it to refuse the "
                "result: failed by an application failure of its own, not caused by an "
                "activity, a timeout or a cancellation"
            )
        return bad

    return _verdict("crossed_wires_detected", history.calls.values(), check)


def token_outcome(history: History, call_id: str) -> str:
    """What became of one call's (possibly damaged) token, in one line: Stigma's side
    (refused at StartAgent / completion status and server code / direct call), then
    Zigflow's activity (completed / failed type / timed out)."""
    states = [s for s in agent_states(history, "handshake") if s.call.call_id == call_id]
    if not states:
        return "no record"
    s = states[0]
    if s.stigma is None:
        stigma = "not started (StartAgent refused)"
    elif no_summary(s.stigma):
        stigma = "no summary"
    else:
        summary = s.stigma.result if isinstance(s.stigma.result, dict) else {}
        c = summary.get("completion") or {}
        status = c.get("status") or "no_token"
        stigma = f"{status} ({c['grpc_code']})" if c.get("grpc_code") else str(status)
    z = s.zigflow
    if z is None:
        zig = "missing"
    elif z.status == "failed":
        zig = f"failed {z.failure_type}"
    elif z.status == "timed_out":
        zig = f"timed out {z.timeout_type}".rstrip()
    else:
        zig = z.status
    wf = s.call.zigflow
    if z is not None and z.status == "completed" and wf is not None and wf.status == "failed":
        # The activity took the result, the workflow refused it: named by the innermost
        # application failure (the reference's CrossedWires under its StateFailed),
        # for the report only.
        root = wf.failure.root_application
        zig += f", workflow failed {root.type if root else wf.failure.kind}"
    return f"stigma: {stigma}; zigflow: {zig}"


def _stigma_side(s: AgentState) -> tuple[str, str | None]:
    """Stigma's side of one agent call (as ``token_outcome`` words it): its completion's
    status and the server's gRPC code; its execution's status when it left no summary
    because it did not complete."""
    if s.stigma is None:
        return "not_started", None
    if no_summary(s.stigma):
        return "no_summary", None
    summary = s.stigma.result if isinstance(s.stigma.result, dict) else None
    if summary is None:
        return str(s.stigma.status), None
    c = summary.get("completion") or {}
    code = c.get("grpc_code")
    return str(c.get("status") or "no_token"), (str(code) if code else None)


def observed_calls(history: History) -> list[dict[str, Any]]:
    """What became of every handshake agent call of a scenario, with no id, timing or
    seed in it (the report's server-kind comparison, harness.report.verdict): per
    distinct observation, Stigma's side of the token (its completion status and the
    server's gRPC code; ``not_started`` when StartAgent was refused, ``no_token`` for a
    direct call), the attempts (None when its history does not say) and end of
    Zigflow's activity (its failure or timeout type), and the end of Zigflow's workflow
    (its innermost application failure type), with how many calls were observed so.
    Sorted: the same calls give the same list."""
    found: dict[tuple[Any, ...], int] = {}
    for s in agent_states(history, "handshake"):
        stigma, code = _stigma_side(s)
        z = s.zigflow
        why: str | None = None
        if z is not None and z.status == "failed":
            why = z.failure_type or z.failure.kind or None
        elif z is not None and z.status == "timed_out":
            why = z.timeout_type or None
        wf = s.call.zigflow
        wf_failure: str | None = None
        if wf is not None and wf.status == "failed":
            root = wf.failure.root_application
            wf_failure = root.type if root else (wf.failure.kind or None)
        # 0: no started event was recorded (the time-skipping server records an attempt
        # that timed out at StartToClose without one): the attempt is not known.
        key = (
            stigma,
            code,
            z.attempts if z is not None and z.attempts > 0 else None,
            z.status if z is not None else "missing",
            why,
            wf.status if wf is not None else "missing",
            wf_failure,
        )
        found[key] = found.get(key, 0) + 1
    names = ("stigma", "code", "attempts", "zigflow", "why", "workflow", "workflow_failure")
    return [
        {**dict(zip(names, key, strict=True)), "count": n}
        for key, n in sorted(found.items(), key=lambda kv: repr(kv[0]))
    ]
