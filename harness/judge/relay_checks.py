"""What the harness's own relays saw, judged after every scenario on a stack that has them.

``acked_after_durable_start``: Stigma ACKs a StartAgent only after the agent's
workflow is durable in Temporal. This is the design's central promise: the ACK
tells Zigflow "you may stop waiting on this call, the agent will run and answer
by token". An ACK sent
before Temporal has the workflow (ACK first, start in the background) loses
the agent whenever that start then fails, and no happy-path scenario notices.

The harness sees both ends of the window at hops it owns: the ACK passing back
through its StartAgent relay, and Temporal's answer to Stigma's start passing
back through its relay in front of Temporal. Both are wall times of the same
process, and causally ordered for a correct Stigma (the answer reaches Stigma
before Stigma can send the ACK), so the check is exact, not statistical. It
runs after every scenario on a stack that has both relays.

``start_agent_has_deadline``: every StartAgent call Zigflow makes carries a gRPC
deadline. Without one, an ACK lost on a connection that stays open hangs the
attempt until its StartToClose (a day, in this design) instead of failing it fast
for a retry; most faults close the connection and so hide the missing deadline,
which is why it is read from the call itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness import contract
from harness.judge.checkers import DEADLINE_READ_SLACK_S, Verdict
from harness.links.completion_relay import StartSeen
from harness.links.tamper import Tampered

CHECKER = "acked_after_durable_start"
DEADLINE_CHECKER = "start_agent_has_deadline"


def verdict(acks: Iterable[Tampered], starts: list[StartSeen]) -> Verdict:
    """Every ACK of a request with an idempotency key follows a durable start (started,
    or already started) of ``{stigma_workflow_prefix}{key}``."""
    prefix = contract.NAMES.stigma_workflow_prefix
    evidence: list[str] = []
    checked = 0
    for ack in acks:
        if ack.acked_wall is None or not ack.idempotency_key:
            continue
        checked += 1
        workflow_id = prefix + ack.idempotency_key
        durable = [
            s.answered_wall
            for s in starts
            if workflow_id in s.workflow_ids and s.durable and s.answered_wall is not None
        ]
        if not durable:
            seen = [s for s in starts if workflow_id in s.workflow_ids]
            how = (
                "Temporal's answer to its start: " + ", ".join(s.answer or "none yet" for s in seen)
                if seen
                else f"no start of {workflow_id} reached Temporal through STIGMA_TEMPORAL_ADDRESS"
            )
            evidence.append(f"{_call(ack)}: ACKed, but {how}")
        elif min(durable) > ack.acked_wall:
            evidence.append(
                f"{_call(ack)}: ACKed "
                f"{(min(durable) - ack.acked_wall) * 1000:.0f} ms before Temporal had "
                f"{workflow_id}"
            )
    return Verdict(CHECKER, not evidence, checked, evidence)


def _call(ack: Tampered) -> str:
    return f"{ack.zigflow_workflow_id}/{ack.zigflow_activity_id} attempt {ack.attempt}"


def deadline_verdict(requests: Iterable[Tampered]) -> Verdict:
    """Every StartAgent request that reached the relay carried a deadline, and not one
    longer than ``contract.START_AGENT_DEADLINE_MAX_S`` (read as the time left when it
    arrived: ``DEADLINE_READ_SLACK_S`` over the bound is still the bound)."""
    ceiling = contract.START_AGENT_DEADLINE_MAX_S
    evidence: list[str] = []
    checked = 0
    for request in requests:
        checked += 1
        if request.deadline_s is None:
            evidence.append(f"{_call(request)}: StartAgent sent without a deadline")
        elif request.deadline_s > ceiling + DEADLINE_READ_SLACK_S:
            evidence.append(
                f"{_call(request)}: StartAgent deadline {request.deadline_s:.0f} s, longer "
                f"than {ceiling:.0f} s: a Stigma that never answers holds the attempt that long"
            )
    return Verdict(DEADLINE_CHECKER, not evidence, checked, evidence)
