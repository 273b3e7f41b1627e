"""Where the time of one handshake goes, from both workflows' Temporal histories.

Server timestamps only (see traces.py), so the figures do not depend on where
the harness runs. The stages are consecutive spans; the ones inside Zigflow's
activity add up to its duration, so that

    overhead = Zigflow activity duration - agent work
             = sum of every stage except ``agent_work`` and ``resume``.

This is the issue's definition with the agent's work taken as the ``run_agent``
activity itself (started -> closed; the agent runs in the harness, on the agents'
task queue, and holds inside it). It is stricter than the gate's ``checkers.overhead_samples_ms``,
which also counts the agent activity's dispatch as work: here that dispatch is
a stage of its own, because a direct call would not pay it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import contract
from harness.observe.traces import ActivitySpan, StigmaTrace, WorkflowTrace

# In order along the token's path (docs handbook, "The token's life").
HANDSHAKE_STAGES = (
    "zigflow_dispatch",  # Zigflow's ExecuteAgent: scheduled -> started
    "start_agent_rpc",  # activity started -> Stigma's workflow durably started (StartAgent + ACK)
    "stigma_workflow_start",  # Stigma's workflow started -> its first workflow task done
    "agent_dispatch",  # run_agent scheduled -> started
    "agent_work",  # run_agent started -> closed (not overhead)
    "agent_end_to_completion_call",  # run_agent closed -> completion activity started
    "completion_call",  # completion activity started -> Zigflow's activity completed
    "resume",  # Zigflow's activity closed -> its next workflow task done (not in the duration)
)
# Parts of a stage above ("stage.part"), shown with it but never added to a sum.
DETAIL_STAGES = ("stigma_workflow_start.dispatch", "resume.dispatch")
DIRECT_STAGES = ("zigflow_dispatch", "activity_run", "resume")
NOT_OVERHEAD = frozenset({"agent_work", "resume"})


@dataclass(frozen=True)
class Sample:
    """One measured call: its overhead and every stage, in milliseconds."""

    overhead_ms: float
    stages_ms: dict[str, float]


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


def _next_task_done(trace: WorkflowTrace, after: float) -> float | None:
    return next((t for t in trace.task_completed if t >= after), None)


def _first_attempt_completed(span: ActivitySpan | None) -> bool:
    return span is not None and span.status == "completed" and span.attempts == 1


def _framed(
    zigflow: WorkflowTrace, z: ActivitySpan, **between: float | None
) -> dict[str, float] | None:
    """The stages of Zigflow's first-attempt activity ``z``, a handshake's or a direct
    call's alike: its dispatch, the spans ``between`` in their order, then the workflow's
    resume after it; None when a span is not in the histories."""
    spans = {
        "zigflow_dispatch": _ms(z.scheduled_at, z.started_at),
        **between,
        "resume": _ms(z.closed_at, _next_task_done(zigflow, z.closed_at or 0.0)),
    }
    if any(v is None for v in spans.values()):
        return None
    return {k: float(v or 0.0) for k, v in spans.items()}


def handshake(zigflow: WorkflowTrace, activity_id: str, stigma: StigmaTrace) -> Sample | None:
    """The stages of one successful first-attempt handshake; None when the histories
    do not hold one (failed, retried, or still open: such calls are counted apart)."""
    z = zigflow.activity(activity_id)
    runs = [
        a for a in stigma.of_type(contract.NAMES.stigma_agent_activity) if a.closed_at is not None
    ]
    completions = [a for t in contract.completion_activities() for a in stigma.of_type(t)]
    if not _first_attempt_completed(z) or not runs or not completions:
        return None
    assert z is not None
    agent, completion = runs[0], min(completions, key=lambda a: a.scheduled_at)
    first_done = stigma.first_task_done_at
    # Anything a Stigma waits on before scheduling its agent is the agent's own time.
    waited = _ms(first_done, agent.scheduled_at) or 0.0
    stages = _framed(
        zigflow,
        z,
        start_agent_rpc=_ms(z.started_at, stigma.started_at),
        stigma_workflow_start=_ms(stigma.started_at, first_done),
        agent_dispatch=_ms(agent.scheduled_at, agent.started_at),
        agent_work=_ms(agent.started_at, agent.closed_at),
        agent_end_to_completion_call=_ms(agent.closed_at, completion.started_at),
        completion_call=_ms(completion.started_at, z.closed_at),
    )
    if stages is None:
        return None
    stages["agent_work"] += waited
    # Parts of the two workflow-task stages: waiting for the task vs running it.
    for name, trace, since in (
        ("stigma_workflow_start", stigma, stigma.started_at),
        ("resume", zigflow, z.closed_at or 0.0),
    ):
        picked = next((t for t in trace.task_started if t >= since), None)
        if picked is not None:
            stages[f"{name}.dispatch"] = (picked - since) * 1000.0
    duration = _ms(z.scheduled_at, z.closed_at) or 0.0
    return Sample(duration - stages["agent_work"], stages)


def direct(zigflow: WorkflowTrace, activity_id: str) -> Sample | None:
    """The baseline: the same (trivial) work as a plain synchronous activity of
    Zigflow's, no token, no second workflow. Its overhead is its whole duration."""
    z = zigflow.activity(activity_id)
    if not _first_attempt_completed(z):
        return None
    assert z is not None
    stages = _framed(zigflow, z, activity_run=_ms(z.started_at, z.closed_at))
    if stages is None:
        return None
    return Sample(_ms(z.scheduled_at, z.closed_at) or 0.0, stages)
