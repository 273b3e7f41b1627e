"""Worker settings that make the handshake cheaper without changing what it does.

Each is a switch (flag or environment variable) so its effect can be measured
before/after with ``make bench``; the defaults are the fast settings.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

SANDBOX_MODES = ("passthrough", "full", "off")


def workflow_runner(mode: str) -> WorkflowRunner:
    """How workflow code runs.

    * passthrough (default): Temporal's sandbox, but our own modules (no
      module-level state) are imported once and shared instead of re-imported
      into every new workflow run's sandbox: the first task of each Stigma
      execution is the most frequent task there is. The price: the sandbox no
      longer watches calls made inside those modules, so a nondeterministic call
      there would go unnoticed; run with ``full`` when changing workflow code.
    * full: the stock sandbox (re-imports them for every run).
    * off: no sandbox at all (for measurement only: no determinism guard rails).
    """
    if mode == "full":
        return SandboxedWorkflowRunner()
    if mode == "off":
        return UnsandboxedWorkflowRunner()
    if mode != "passthrough":
        raise ValueError(f"unknown sandbox mode {mode!r}; one of {', '.join(SANDBOX_MODES)}")
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("reference_services")
    )


# Worker timeouts for a service whose workflows have short histories (the contract's
# recommendation, harness.contract.RECOMMENDED_STICKY_SCHEDULE_TO_START_S and
# RECOMMENDED_WORKFLOW_TASK_TIMEOUT_S; the Java Stigma sets the same). A task parked on a
# killed worker's sticky queue moves to the normal queue, where a live worker replays
# the few events in milliseconds, after this long instead of the SDK's 10 s.
STICKY_SCHEDULE_TO_START = timedelta(seconds=1)
# A workflow task handed to a worker that then died (eagerly, in the start reply) is
# retried after this instead of the server's default 10 s; a live worker answers a
# task of these workflows in milliseconds.
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=3)
