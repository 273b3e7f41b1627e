"""The services a load run's local stack starts: the gate's --zigflow-cmd / --stigma-cmd.

Same options, same environment (HANDSHAKE_ZIGFLOW_CMD / HANDSHAKE_STIGMA_CMD), same
parsing (harness.config.parse_command) as the gate, so a team's own services are
what a load run measures. run.py hands the parsed commands to every child process
in their environment, always both and always explicit (the reference spelled out),
so no Locust process or bridge falls back to the reference on its own.

The locustfile imports this module under gevent's patching: nothing here imports
temporalio or asyncio code.
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from harness import setting_names
from harness.config import (
    DEV,
    REFERENCE_STIGMA,
    REFERENCE_ZIGFLOW,
    ZIGFLOW_LEVELS,
    LocalServers,
    StackConfig,
    parse_command,
)
from harness.errors import ConfigError

ENV = {"zigflow": "HANDSHAKE_ZIGFLOW_CMD", "stigma": "HANDSHAKE_STIGMA_CMD"}
OPTIONS = {"zigflow": "--zigflow-cmd", "stigma": "--stigma-cmd"}
LEVEL_ENV = "HANDSHAKE_ZIGFLOW_LEVEL"
REFERENCE = {"zigflow": REFERENCE_ZIGFLOW, "stigma": REFERENCE_STIGMA}


@dataclass(frozen=True)
class ServiceCommands:
    zigflow: list[str]
    stigma: list[str]
    # "workflow" or "activity" (harness/config.py): as the gate's --zigflow-level.
    zigflow_level: str = "workflow"

    def to_env(self) -> dict[str, str]:
        return {
            ENV["zigflow"]: shlex.join(self.zigflow),
            ENV["stigma"]: shlex.join(self.stigma),
            LEVEL_ENV: self.zigflow_level,
        }

    def stack_config(
        self, log_dir: pathlib.Path, servers: LocalServers | None = None
    ) -> StackConfig:
        """The local stack of a load run: a dev server (a real one: load would outrun
        the time-skipping server's single-stepping) and these services."""
        return StackConfig(
            temporal=DEV,
            zigflow_cmd=list(self.zigflow),
            stigma_cmd=list(self.stigma),
            log_dir=log_dir,
            zigflow_level=self.zigflow_level,
            servers=servers or LocalServers(),
        )


def add_arguments(add: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    # Default None, not the environment's value: from_options must tell a flag (named
    # in errors, refused for a remote target) from the environment.
    setting_names.add_options(
        add.add_argument,
        {},
        "load",
        *ENV.values(),
        notes={v: "the load run's local stack starts it" for v in ENV.values()},
        from_env=False,
    )


def _parse(value: str | None, name: str, env: Mapping[str, str]) -> list[str]:
    if value is not None:
        # An explicit empty flag is a mistake, not a request for the reference
        # (parse_command maps "" to the default, which is right for an unset variable).
        if not value.strip():
            raise ConfigError(f"{OPTIONS[name]} is empty")
        return parse_command(value, REFERENCE[name], OPTIONS[name])
    return parse_command(env.get(ENV[name]), REFERENCE[name], ENV[name])


def from_options(options: object, env: Mapping[str, str]) -> ServiceCommands:
    """Flags win over the environment; raises ConfigError naming the flag or variable."""
    level = env.get(LEVEL_ENV) or "workflow"
    if level not in ZIGFLOW_LEVELS:
        raise ConfigError(f"{LEVEL_ENV}={level!r}: expected one of {', '.join(ZIGFLOW_LEVELS)}")
    return ServiceCommands(
        zigflow=_parse(getattr(options, "zigflow_cmd", None), "zigflow", env),
        stigma=_parse(getattr(options, "stigma_cmd", None), "stigma", env),
        zigflow_level=level,
    )


def from_env(env: Mapping[str, str]) -> ServiceCommands:
    return from_options(None, env)


def given_options(options: object) -> list[str]:
    """The service flags given explicitly (for refusing them with a remote target)."""
    return [
        option
        for name, option in OPTIONS.items()
        if getattr(options, f"{name}_cmd", None) is not None
    ]
