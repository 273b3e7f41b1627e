"""What is judged after every scenario, whatever the scenario asserted.

- ``start_agent_has_deadline`` and ``acked_after_durable_start``: on a stack with both
  relays, every StartAgent carried a gRPC deadline, and no ACK went back to Zigflow
  before Temporal had the agent's workflow (``harness.judge.relay_checks``);
- ``no_token_in_logs``: the services' logs on every stack it ran on hold none of the
  tokens handed to Stigma (the StartAgent relay saw them), in any encoding
  (``harness.observe.token_scan``); a hit names file and line;
- ``no_secret_in_logs``: on a cluster with an API key or a client key, the services'
  logs hold neither (``harness.judge.log_checks``);
- ``agent_activity_options``: every agent call it made was scheduled with the timeouts
  and retry policy the plan asked for and the design needs.

The pytest plugin runs this at the end of the test's call phase, so that a violated
check is the test's failure (a teardown error would read "passed" on dashboards that
count failures); every verdict is recorded, and all the violated ones fail together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from harness import spans
from harness.drive.driver import Driver
from harness.judge import checkers, log_checks, relay_checks
from harness.judge.checkers import Verdict
from harness.judge.expect import holds
from harness.observe import token_scan
from harness.observe.history import History
from harness.stack.stack import Stack


def verdicts(history: History, stacks: Sequence[Stack], began_wall: float) -> list[Verdict]:
    """The after-scenario verdicts for a scenario that began at ``began_wall`` (wall
    clock) and ran on ``stacks``; records the token scan's figures in ``history``."""
    found: list[Verdict] = []
    for running in stacks:
        if running.relay is None or running.completions is None:
            continue
        requests = [r for r in running.relay.log if r.wall >= began_wall]
        if requests:
            found.append(relay_checks.deadline_verdict(requests))
        acks = [r for r in requests if r.acked_wall is not None]
        if acks:
            found.append(relay_checks.verdict(acks, running.completions.starts))
    if stacks:  # a scenario with its own stack (a subprocess) scans nothing here
        reports = [s.scan_logs_for_tokens() for s in stacks]
        history.measurements[token_scan.KEY] = token_scan.summary(reports)
        found.append(log_checks.no_raw_token(reports))
        for running in stacks:
            secret = log_checks.no_secret_in_logs(running.config.connection, running.service_logs())
            if secret is not None:
                found.append(secret)
    if any(c.zigflow is not None for c in history.calls.values()):
        found.append(checkers.agent_activity_options(history))
    return found


def judge(history: History, stacks: Sequence[Stack], began_wall: float) -> None:
    """Record the after-scenario verdicts; raise (AssertionError) naming every violated one."""
    with spans.span(spans.JUDGE):
        found = verdicts(history, stacks, began_wall)
    holds(history, *found)


def stacks_in(values: Iterable[object]) -> list[Stack]:
    """The stacks among a test's fixture values (its driver's and its stack), each once:
    the stacks it ran on, not every stack of the session."""
    found: list[Stack] = []
    for value in values:
        stack = value.stack if isinstance(value, Driver) else value
        if isinstance(stack, Stack) and all(stack is not s for s in found):
            found.append(stack)
    return found


@dataclass(frozen=True)
class Pending:
    """The after-scenario judgement of one scenario, made when its body has run.

    ``stacks`` is asked then, not when the scenario begins: the test's stack and driver
    are set up after the judgement is made ready."""

    history: History
    stacks: Callable[[], Sequence[Stack]]
    began_wall: float

    def judge(self) -> None:
        """After a body that passed: a violated check is the test's failure."""
        judge(self.history, self.stacks(), self.began_wall)

    def beside_failure(self) -> str | None:
        """After a body that failed: the body's failure is the test's; what the checks
        found is returned, to be shown beside it (None: nothing violated)."""
        try:
            self.judge()
        except Exception as err:  # kept, not raised: the test is already failing
            return str(err)
        return None
