"""Where load goes: a Temporal cluster (address, namespace, TLS, API key) and the task
queue Zigflow's workers poll. The same settings as every command: ``--temporal``
(HANDSHAKE_TEMPORAL), ``--namespace``, the TLS set of ``harness.tls``; the names
Temporal's own CLI uses (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*,
TEMPORAL_API_KEY) reach them through ``harness.settings.environ``, so a staging
profile that works for `temporal workflow list` works here. ``--temporal-address`` and
``--temporal-namespace`` are the old spellings, still accepted with a note.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import setting_names, tls
from harness.config import DEV, TIME_SKIPPING
from harness.errors import ConfigError
from harness.setting_names import Deprecated

# The locustfile imports this module under gevent's patching: temporalio is imported
# only inside the methods the bridge process calls, never at import time.
if TYPE_CHECKING:
    from temporalio.client import Client

# Environment of the bridge process (set by run.py or the locustfile from its options;
# the harness's names, so that a TEMPORAL_* of the user's shell never overrides them);
# the connection's own variables come from ``tls.Connection.to_env``.
ENV = {
    "address": "HANDSHAKE_TEMPORAL",
    "namespace": "HANDSHAKE_NAMESPACE",
    "zigflow_task_queue": "LOAD_ZIGFLOW_TASK_QUEUE",
    "stigma_namespace": "LOAD_STIGMA_NAMESPACE",
    "plan_task_queue": "LOAD_PLAN_TASK_QUEUE",
}


@dataclass(frozen=True)
class LoadTarget:
    address: str = ""  # empty: bring up the local stack
    namespace: str = "default"
    connection: tls.Connection = dataclasses.field(default_factory=tls.Connection)
    zigflow_task_queue: str = "zigflow"
    stigma_namespace: str = ""  # where Stigma's executions live; default: namespace
    # Activity level: the queue of the harness's own plan workflow (harness/stack/plan_workflow.py),
    # served by the process that brought the local stack up; empty: Zigflow's workflow.
    plan_task_queue: str = ""

    @property
    def local(self) -> bool:
        return not self.address

    @property
    def uses_tls(self) -> bool:
        return self.connection.uses_tls

    def to_env(self) -> dict[str, str]:
        return {
            **{var: str(getattr(self, key)) for key, var in ENV.items()},
            **self.connection.to_env(),
        }

    def describe(self) -> str:
        """For logs and reports: never the API key or key material."""
        if self.local:
            return "local stack (dev server)"
        return (
            f"{self.address} namespace={self.namespace} tls={self.uses_tls} "
            f"auth={self.connection.auth} queue={self.zigflow_task_queue}"
        )

    async def connect(self, namespace: str | None = None) -> Client:
        from temporalio.client import Client

        return await Client.connect(
            self.address,
            namespace=namespace or self.namespace,
            **self.connection.client_kwargs(),
        )


def address_of(temporal: str, option: str = "--temporal") -> str:
    """The cluster a ``--temporal`` value names for a load run; empty for the local stack
    (``dev``, or nothing). A load run needs a real clock: time-skipping is refused."""
    value = temporal.strip()
    if value in ("", DEV):
        return ""
    if value == TIME_SKIPPING or ":" not in value or "," in value:
        raise ConfigError(
            f"{option} {value!r}: a load run takes dev (the local stack, the default) or "
            "one HOST:PORT of a cluster"
        )
    return value


def from_env(env: Mapping[str, str]) -> LoadTarget:
    got = {key: env.get(var, "") for key, var in ENV.items()}
    return LoadTarget(
        address=address_of(got["address"], ENV["address"]),
        namespace=got["namespace"] or "default",
        connection=tls.from_env(env),
        zigflow_task_queue=got["zigflow_task_queue"] or "zigflow",
        stigma_namespace=got["stigma_namespace"],
        plan_task_queue=got["plan_task_queue"],
    )


def add_arguments(
    add: argparse.ArgumentParser | argparse._ArgumentGroup,
    env: Mapping[str, str],
    extra: Callable[[tls.Setting], dict[str, Any]] | None = None,
) -> None:
    """The target's flags, defaulting to the settings (``harness.settings.environ()``;
    flag wins). ``extra``: more keyword arguments for the connection's flags (Locust:
    ``env_var``, ``is_secret``)."""
    # The target (dev: the local stack) and the namespace of Zigflow's workflows, as
    # every command declares them; then load's own old spellings of both.
    setting_names.add_options(add.add_argument, env, "load", ENV["address"], ENV["namespace"])
    add.add_argument(
        "--temporal-address", dest="temporal", action=Deprecated, use="--temporal"
    )  # fmt: skip
    add.add_argument(
        "--temporal-namespace", dest="namespace", action=Deprecated, use="--namespace"
    )  # fmt: skip
    tls.add_options(add.add_argument, env, extra=extra)
    # Where the services under load are: declared by the registry too.
    setting_names.add_options(
        add.add_argument,
        env,
        "load",
        ENV["zigflow_task_queue"],
        ENV["stigma_namespace"],
        ENV["plan_task_queue"],
    )


def from_options(options: object) -> LoadTarget:
    def get(name: str) -> str:
        return str(getattr(options, name, "") or "")

    return LoadTarget(
        address=address_of(get("temporal")),
        namespace=get("namespace") or "default",
        connection=tls.from_options(options),
        zigflow_task_queue=get("zigflow_task_queue") or "zigflow",
        stigma_namespace=get("stigma_namespace"),
        plan_task_queue=get("plan_task_queue"),
    )
