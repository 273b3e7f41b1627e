"""Where load goes: a Temporal cluster (address, namespace, TLS, API key) and the task
queue Zigflow's workers poll. Flags and environment use the names Temporal's own CLI
uses (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY), so a
staging profile that works for `temporal workflow list` works here.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

# The locustfile imports this module under gevent's patching: temporalio is imported
# only inside the methods the bridge process calls, never at import time.
if TYPE_CHECKING:
    from temporalio.client import Client, TLSConfig

# Environment of the bridge process (set by run.py or the locustfile from its options).
ENV = {
    "address": "TEMPORAL_ADDRESS",
    "namespace": "TEMPORAL_NAMESPACE",
    "tls": "TEMPORAL_TLS",
    "tls_ca_path": "TEMPORAL_TLS_CA",
    "tls_cert_path": "TEMPORAL_TLS_CERT",
    "tls_key_path": "TEMPORAL_TLS_KEY",
    "tls_server_name": "TEMPORAL_TLS_SERVER_NAME",
    "api_key": "TEMPORAL_API_KEY",
    "zigflow_task_queue": "LOAD_ZIGFLOW_TASK_QUEUE",
    "stigma_namespace": "LOAD_STIGMA_NAMESPACE",
    "plan_task_queue": "LOAD_PLAN_TASK_QUEUE",
}


@dataclass(frozen=True)
class LoadTarget:
    address: str = ""  # empty: bring up the local stack
    namespace: str = "default"
    tls: bool = False
    tls_ca_path: str = ""
    tls_cert_path: str = ""
    tls_key_path: str = ""
    tls_server_name: str = ""
    api_key: str = ""
    zigflow_task_queue: str = "zigflow"
    stigma_namespace: str = ""  # where Stigma's executions live; default: namespace
    # Activity level: the queue of the harness's own plan workflow (harness/stack/plan_workflow.py),
    # served by the process that brought the local stack up; empty: Zigflow's workflow.
    plan_task_queue: str = ""

    @property
    def local(self) -> bool:
        return not self.address

    def to_env(self) -> dict[str, str]:
        values = asdict(self)
        return {
            var: ("1" if values[key] else "") if key == "tls" else str(values[key])
            for key, var in ENV.items()
        }

    def describe(self) -> str:
        """For logs and reports: never the API key or key material."""
        if self.local:
            return "local stack (dev server)"
        auth = "api-key" if self.api_key else ("mTLS" if self.tls_cert_path else "none")
        return (
            f"{self.address} namespace={self.namespace} tls={self.uses_tls} auth={auth} "
            f"queue={self.zigflow_task_queue}"
        )

    @property
    def uses_tls(self) -> bool:
        # Temporal Cloud with an API key needs TLS; so does any client certificate.
        return self.tls or bool(self.tls_ca_path or self.tls_cert_path or self.api_key)

    def tls_config(self) -> TLSConfig | bool:
        from temporalio.client import TLSConfig

        if not self.uses_tls:
            return False

        def read(path: str) -> bytes | None:
            return pathlib.Path(path).read_bytes() if path else None

        return TLSConfig(
            server_root_ca_cert=read(self.tls_ca_path),
            client_cert=read(self.tls_cert_path),
            client_private_key=read(self.tls_key_path),
            domain=self.tls_server_name or None,
        )

    async def connect(self, namespace: str | None = None) -> Client:
        from temporalio.client import Client

        return await Client.connect(
            self.address,
            namespace=namespace or self.namespace,
            tls=self.tls_config(),
            api_key=self.api_key or None,
        )


def from_env(env: Mapping[str, str]) -> LoadTarget:
    got = {key: env.get(var, "") for key, var in ENV.items()}
    return LoadTarget(
        address=got["address"],
        namespace=got["namespace"] or "default",
        tls=got["tls"].lower() in ("1", "true", "yes"),
        tls_ca_path=got["tls_ca_path"],
        tls_cert_path=got["tls_cert_path"],
        tls_key_path=got["tls_key_path"],
        tls_server_name=got["tls_server_name"],
        api_key=got["api_key"],
        zigflow_task_queue=got["zigflow_task_queue"] or "zigflow",
        stigma_namespace=got["stigma_namespace"],
        plan_task_queue=got["plan_task_queue"],
    )


def add_arguments(
    add: argparse.ArgumentParser | argparse._ArgumentGroup,
    env: Mapping[str, str],
    secret: Mapping[str, Any] | None = None,
) -> None:
    """The target's flags, defaulting to the environment (flag wins). ``secret``: extra
    keyword arguments for the API key's flag (Locust: keep it out of its web UI)."""
    t = from_env(env)
    add.add_argument(
        "--temporal-address",
        default=t.address,
        help="Temporal frontend host:port; empty: the local stack (env TEMPORAL_ADDRESS)",
    )
    add.add_argument(
        "--temporal-namespace",
        default=t.namespace,
        help="namespace of Zigflow's workflows (env TEMPORAL_NAMESPACE)",
    )
    add.add_argument(
        "--temporal-tls",
        action="store_true",
        default=t.tls,
        help="connect with TLS (env TEMPORAL_TLS=1)",
    )
    add.add_argument(
        "--temporal-tls-ca",
        default=t.tls_ca_path,
        help="server CA certificate, PEM (env TEMPORAL_TLS_CA)",
    )
    add.add_argument(
        "--temporal-tls-cert",
        default=t.tls_cert_path,
        help="client certificate for mTLS, PEM (env TEMPORAL_TLS_CERT)",
    )
    add.add_argument(
        "--temporal-tls-key",
        default=t.tls_key_path,
        help="client private key for mTLS, PEM (env TEMPORAL_TLS_KEY)",
    )
    add.add_argument(
        "--temporal-tls-server-name",
        default=t.tls_server_name,
        help="TLS server name override (env TEMPORAL_TLS_SERVER_NAME)",
    )
    add.add_argument(
        "--temporal-api-key",
        default=t.api_key,
        help="API key, sent as a bearer token (env TEMPORAL_API_KEY)",
        **(secret or {}),
    )
    add.add_argument(
        "--zigflow-task-queue",
        default=t.zigflow_task_queue,
        help="task queue of the Zigflow workers under load (env LOAD_ZIGFLOW_TASK_QUEUE)",
    )
    add.add_argument(
        "--stigma-namespace",
        default=t.stigma_namespace,
        help="namespace of Stigma's executions, read for stage timings; "
        "default: --temporal-namespace (env LOAD_STIGMA_NAMESPACE)",
    )
    add.add_argument(
        "--plan-task-queue",
        default=t.plan_task_queue,
        help="activity level: task queue of the harness's plan workflow, served by the "
        "process that runs the local stack (env LOAD_PLAN_TASK_QUEUE; set by "
        "`python -m harness.load.run`)",
    )


def from_options(options: object) -> LoadTarget:
    def get(name: str) -> str:
        return str(getattr(options, name, "") or "")

    return LoadTarget(
        address=get("temporal_address"),
        namespace=get("temporal_namespace") or "default",
        tls=bool(getattr(options, "temporal_tls", False)),
        tls_ca_path=get("temporal_tls_ca"),
        tls_cert_path=get("temporal_tls_cert"),
        tls_key_path=get("temporal_tls_key"),
        tls_server_name=get("temporal_tls_server_name"),
        api_key=get("temporal_api_key"),
        zigflow_task_queue=get("zigflow_task_queue") or "zigflow",
        stigma_namespace=get("stigma_namespace"),
        plan_task_queue=get("plan_task_queue"),
    )
