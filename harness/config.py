"""What stack to certify: Temporal target and service command lines.

Every setting comes from a pytest option or an environment variable
(``HANDSHAKE_*``), so CI and a staging run configure it the same way.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import sys
from dataclasses import dataclass, field

from harness.errors import ConfigError

ZIGFLOW_LEVELS = ("workflow", "activity")
TIME_SKIPPING = "time-skipping"
DEV = "dev"

REFERENCE_ZIGFLOW = [sys.executable, "-m", "reference_services.zigflow"]
REFERENCE_STIGMA = [sys.executable, "-m", "reference_services.stigma"]

# Placeholders a custom command line may use; the same values are also in the
# service's environment (see README, "Service contract"). Each service's command is
# expanded with the addresses *that service* must use: in a chaos or relay stack
# ``{temporal_address}`` in Zigflow's command is Zigflow's proxy to Temporal, and
# ``{stigma_target}`` there is the relay or proxy in front of Stigma, never the
# direct address (a service given a direct address would dodge every fault).
PLACEHOLDERS = (
    "temporal_address",
    "zigflow_temporal_address",
    "stigma_temporal_address",
    "stigma_zigflow_temporal_address",
    "namespace",
    "stigma_listen",
    "stigma_target",
    "zigflow_stigma_target",
    "stigma_task_queue",
    "agent_task_queue",
    "zigflow_task_queue",
    "zigflow_health_listen",
    "zigflow_metrics_listen",
    "stigma_metrics_listen",
)


@dataclass
class StackConfig:
    temporal: str = TIME_SKIPPING  # "time-skipping", "dev", or HOST:PORT of a cluster
    namespace: str = "default"
    zigflow_cmd: list[str] = field(default_factory=lambda: list(REFERENCE_ZIGFLOW))
    stigma_cmd: list[str] = field(default_factory=lambda: list(REFERENCE_STIGMA))
    # Few slots on purpose: agents pending by token must not hold any.
    zigflow_max_concurrent_activities: int = 2
    ready_timeout_s: float = 60.0
    # Every link between the services through its own Toxiproxy proxy (harness/network.py).
    chaos: bool = False
    # Zigflow reaches Stigma through an in-harness relay that can damage tokens
    # (harness/tamper.py).
    tamper: bool = False
    # Zigflow reaches Stigma through the harness's StartAgent relay (harness/tamper.py)
    # even when nothing is damaged: the harness then *sees* each ACK pass (what "after
    # the ACK" means in the kill scenarios) instead of inferring it. Off for bench and
    # load, which measure the production path.
    relay: bool = False
    # "workflow": the harness starts the team's own Zigflow workflow with a plan (the
    # reference's ZigflowWorkflow). "activity": the harness's own workflow
    # (harness/plan_workflow.py) calls the team's agent activity on Zigflow's task
    # queue, so a Zigflow needs nothing but that activity.
    zigflow_level: str = "workflow"
    # The dev server's web UI on this port (0: none, as in every test run).
    ui_port: int = 0
    log_dir: pathlib.Path = field(default_factory=lambda: pathlib.Path("reports/out/logs"))
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def external(self) -> bool:
        return self.temporal not in (TIME_SKIPPING, DEV)

    def validate(self) -> None:
        if self.external and ":" not in self.temporal:
            raise ConfigError(
                f"--temporal={self.temporal!r}: expected 'time-skipping', 'dev' or HOST:PORT"
            )
        if self.zigflow_level not in ZIGFLOW_LEVELS:
            raise ConfigError(
                f"--zigflow-level={self.zigflow_level!r}: expected one of "
                + ", ".join(ZIGFLOW_LEVELS)
            )
        if not self.zigflow_cmd or not self.stigma_cmd:
            raise ConfigError("--zigflow-cmd and --stigma-cmd must not be empty")


def parse_command(value: str | None, default: list[str], option: str) -> list[str]:
    if not value:
        return list(default)
    try:
        argv = shlex.split(value)
    except ValueError as err:
        raise ConfigError(f"{option}: cannot split {value!r} into words: {err}") from err
    if not argv:
        raise ConfigError(f"{option} is empty")
    return argv


def from_env(env: dict[str, str] | None = None) -> StackConfig:
    env = dict(os.environ) if env is None else env
    cfg = StackConfig(
        temporal=env.get("HANDSHAKE_TEMPORAL") or TIME_SKIPPING,
        namespace=env.get("HANDSHAKE_NAMESPACE") or "default",
        zigflow_cmd=parse_command(
            env.get("HANDSHAKE_ZIGFLOW_CMD"), REFERENCE_ZIGFLOW, "HANDSHAKE_ZIGFLOW_CMD"
        ),
        stigma_cmd=parse_command(
            env.get("HANDSHAKE_STIGMA_CMD"), REFERENCE_STIGMA, "HANDSHAKE_STIGMA_CMD"
        ),
    )
    cfg.validate()
    return cfg
