"""What stack to certify: Temporal target and service command lines.

Every setting comes from a pytest option or an environment variable
(``HANDSHAKE_*``), so CI and a staging run configure it the same way.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import setting_names, tls
from harness.contract import DEFAULT_PAYLOAD_LIMIT_BYTES
from harness.errors import ConfigError

ZIGFLOW_LEVELS = ("workflow", "activity")
TIME_SKIPPING = "time-skipping"
DEV = "dev"

REFERENCE_ZIGFLOW = [sys.executable, "-m", "reference_services.zigflow"]
REFERENCE_STIGMA = [sys.executable, "-m", "reference_services.stigma"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / ".bin"
# A checkout (its Makefile beside the package) builds the Go and Java references into
# BIN; an installed harness (site-packages) has only the Python ones.
CHECKOUT = (ROOT / "Makefile").is_file()


@dataclass(frozen=True)
class Implementation:
    """One reference service in one language, as the harness starts it."""

    language: str
    command: tuple[str, ...]
    # The built program (None: runs from this checkout) and the make target building it.
    binary: pathlib.Path | None = None
    make_target: str | None = None
    # Zigflow only: the level it is certified at ("activity": it has no workflow).
    zigflow_level: str = "workflow"

    def missing(self) -> str | None:
        """Why it cannot run here, or None."""
        if self.binary is None or os.access(self.binary, os.X_OK):
            return None
        if not CHECKOUT:
            option = "--zigflow-cmd" if self.binary.name.startswith("zigflow") else "--stigma-cmd"
            return (
                f"the {self.language} reference is checkout-only (an installed harness has "
                f"the Python ones): run `make {self.make_target}` in a checkout of "
                f"handshake-harness and pass the .bin/{self.binary.name} it builds as {option}"
            )
        return f"{self.binary} not built: run `make {self.make_target}` (part of `make setup`)"


# The reference services per language: the presets ``--pairing ZIGFLOW-STIGMA`` (gate,
# bench) and ``--pairings`` (certify) choose from. Each takes the Python reference's
# flags and environment (docs handbook, "Service command line and environment").
ZIGFLOW_IMPLEMENTATIONS = {
    "python": Implementation("python", tuple(REFERENCE_ZIGFLOW)),
    "go": Implementation(
        "go",
        (str(BIN / "zigflow-go"),),
        BIN / "zigflow-go",
        "zigflow-go",
        zigflow_level="activity",
    ),
}
STIGMA_IMPLEMENTATIONS = {
    "python": Implementation("python", tuple(REFERENCE_STIGMA)),
    "java": Implementation("java", (str(BIN / "stigma-java"),), BIN / "stigma-java", "stigma-java"),
}


@dataclass(frozen=True)
class Pairing:
    """A Zigflow and a Stigma certified together, named ``<zigflow>-<stigma>``."""

    name: str
    zigflow: Implementation
    stigma: Implementation

    @property
    def zigflow_level(self) -> str:
        return self.zigflow.zigflow_level

    def missing(self) -> list[str]:
        return [m for m in (self.zigflow.missing(), self.stigma.missing()) if m]


PAIRINGS = {
    f"{z}-{s}": Pairing(f"{z}-{s}", zigflow, stigma)
    for z, zigflow in ZIGFLOW_IMPLEMENTATIONS.items()
    for s, stigma in STIGMA_IMPLEMENTATIONS.items()
}
DEFAULT_PAIRING = "python-python"


def pairing(name: str, option: str = "--pairing") -> Pairing:
    """The preset named ``name``; a ConfigError names the choices, or the make target
    that builds a missing binary."""
    found = PAIRINGS.get(name.strip())
    if found is None:
        raise ConfigError(f"{option} {name!r}: expected one of {', '.join(PAIRINGS)}")
    missing = found.missing()
    if missing:
        raise ConfigError(f"{option} {found.name}: " + "; ".join(missing))
    return found


@dataclass(frozen=True)
class Services:
    """What the harness starts: both command lines and Zigflow's level."""

    zigflow_cmd: list[str]
    stigma_cmd: list[str]
    zigflow_level: str
    pairing: str | None  # the preset's name, None for custom commands


def resolve_services(
    pairing_name: str | None,
    zigflow_cmd: str | None,
    stigma_cmd: str | None,
    zigflow_level: str | None,
) -> Services:
    """A preset (``--pairing``) or command lines (``--zigflow-cmd`` / ``--stigma-cmd``,
    each defaulting to the Python reference), never both; ``zigflow_level`` None means
    the preset's (a Go Zigflow has no workflow: activity level), else workflow."""
    if pairing_name:
        if zigflow_cmd or stigma_cmd:
            raise ConfigError(
                f"--pairing {pairing_name} names both services: give it or --zigflow-cmd / "
                "--stigma-cmd (HANDSHAKE_PAIRING / HANDSHAKE_*_CMD), not both"
            )
        chosen = pairing(pairing_name)
        if zigflow_level and zigflow_level != chosen.zigflow_level == "activity":
            raise ConfigError(
                f"--pairing {chosen.name}: its Zigflow ({chosen.zigflow.language}) is only "
                "an agent activity, certified with --zigflow-level activity"
            )
        return Services(
            list(chosen.zigflow.command),
            list(chosen.stigma.command),
            zigflow_level or chosen.zigflow_level,
            chosen.name,
        )
    return Services(
        parse_command(zigflow_cmd, REFERENCE_ZIGFLOW, "--zigflow-cmd"),
        parse_command(stigma_cmd, REFERENCE_STIGMA, "--stigma-cmd"),
        zigflow_level or "workflow",
        None,
    )


def add_service_options(
    add: Callable[..., Any], env: Mapping[str, str], *, pairing: bool = True
) -> None:
    """Declare which services to run (``--zigflow-cmd``, ``--stigma-cmd``, ``--pairing``,
    ``--zigflow-level``) on an argparse parser (``parser.add_argument``) or a pytest
    group (``group.addoption``), defaulting to the environment (option wins); the gate,
    bench and certify read them the same way (``resolve_services``). ``pairing=False``
    for a command that picks pairings its own way (certify's ``--pairings``)."""
    # Declared by the registry (harness.setting_names); the pairings and levels are
    # this module's.
    names = ["HANDSHAKE_ZIGFLOW_CMD", "HANDSHAKE_STIGMA_CMD"]
    names += ["HANDSHAKE_PAIRING"] if pairing else []
    setting_names.add_options(
        add,
        env,
        "gate",
        *names,
        "HANDSHAKE_ZIGFLOW_LEVEL",
        notes={"HANDSHAKE_PAIRING": "one of " + ", ".join(PAIRINGS)},
        choices={"HANDSHAKE_PAIRING": list(PAIRINGS), "HANDSHAKE_ZIGFLOW_LEVEL": ZIGFLOW_LEVELS},
    )


# Placeholders a custom command line may use; the same values are also in the
# service's environment (see docs handbook, "Service contract"). Each service's command is
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


# How long the harness waits for a server or service it starts to become ready, and
# for a cluster to accept clients (HANDSHAKE_READY_TIMEOUT_S, the gate's
# --ready-timeout). A loopback address that refuses connections fails at once whatever
# this says (harness.servers.ports.refused).
READY_TIMEOUT_ENV = "HANDSHAKE_READY_TIMEOUT_S"
DEFAULT_READY_TIMEOUT_S = 60.0


def configured_ready_timeout_s(env: Mapping[str, str]) -> float:
    """The readiness wait the settings give (an entry point's ``settings.environ()``)."""
    text = env.get(READY_TIMEOUT_ENV) or ""
    if not text:
        return DEFAULT_READY_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{READY_TIMEOUT_ENV}={text!r}: give a number of seconds above 0")
    return value


@dataclass(frozen=True)
class LocalServers:
    """How the harness runs the servers it starts itself (the entry points read these
    settings and hand them down; ``harness.servers`` never reads the environment)."""

    # An external Toxiproxy server (http://host:8474) instead of starting one.
    toxiproxy_url: str = ""
    # The embedded dev server as it ships, without the harness's settings (bench).
    dev_stock: bool = False
    # More dynamic-config settings of the embedded dev server, "key=value" each.
    dev_dynamic_config: tuple[str, ...] = ()
    # Its database in memory: only to show what a durable one buys (tests/test_mutants.py).
    dev_ephemeral: bool = False
    # The readiness wait of what the harness starts, and of a cluster's first answer.
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S


def local_servers(env: Mapping[str, str]) -> LocalServers:
    """From the settings (``harness.settings.environ()`` of an entry point)."""
    return LocalServers(
        toxiproxy_url=env.get("HANDSHAKE_TOXIPROXY_URL", "").strip(),
        dev_stock=env.get("HANDSHAKE_DEV_STOCK") == "1",
        dev_dynamic_config=tuple(
            kv.strip()
            for kv in env.get("HANDSHAKE_DEV_DYNAMIC_CONFIG", "").split(",")
            if kv.strip()
        ),
        dev_ephemeral=env.get("HANDSHAKE_DEV_EPHEMERAL") == "1",
        ready_timeout_s=configured_ready_timeout_s(env),
    )


# The limit of a cluster the harness did not start is a setting
# (HANDSHAKE_PAYLOAD_LIMIT_BYTES): the harness cannot read it from the cluster.
PAYLOAD_LIMIT_ENV = "HANDSHAKE_PAYLOAD_LIMIT_BYTES"


def configured_payload_limit(env: Mapping[str, str]) -> int:
    """The cluster's payload limit the settings give (default Temporal's 2 MiB)."""
    text = (env.get(PAYLOAD_LIMIT_ENV) or "").strip()
    if not text:
        return DEFAULT_PAYLOAD_LIMIT_BYTES
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{PAYLOAD_LIMIT_ENV}={text!r}: give the cluster's limit in bytes")
    return int(text)


def blob_limit_config(limit_bytes: int) -> tuple[str, ...]:
    """The dev server's dynamic config for a payload limit of ``limit_bytes``. The
    server checks the error limit only for a payload over the warn limit (512 KiB by
    default), so the warn limit goes below it."""
    return (f"limit.blobSize.error={limit_bytes}", f"limit.blobSize.warn={limit_bytes // 2}")


@dataclass
class StackConfig:
    temporal: str = TIME_SKIPPING  # "time-skipping", "dev", or HOST:PORT of a cluster
    namespace: str = "default"
    zigflow_cmd: list[str] = field(default_factory=lambda: list(REFERENCE_ZIGFLOW))
    stigma_cmd: list[str] = field(default_factory=lambda: list(REFERENCE_STIGMA))
    # Few slots on purpose: agents pending by token must not hold any.
    zigflow_max_concurrent_activities: int = 2
    # 0: the settings' (servers.ready_timeout_s); the gate's --ready-timeout sets it.
    ready_timeout_s: float = 0.0
    # Every link between the services through its own Toxiproxy proxy (harness/links/network.py).
    chaos: bool = False
    # Zigflow reaches Stigma through an in-harness relay that can damage tokens
    # (harness/links/tamper.py).
    tamper: bool = False
    # Zigflow reaches Stigma through the harness's StartAgent relay (harness/links/tamper.py)
    # even when nothing is damaged: the harness then *sees* each ACK pass (what "after
    # the ACK" means in the kill scenarios) instead of inferring it. Off for bench and
    # load, which measure the production path.
    relay: bool = False
    # "workflow": the harness starts the team's own Zigflow workflow with a plan (the
    # reference's ZigflowWorkflow). "activity": the harness's own workflow
    # (harness/stack/plan_workflow.py) calls the team's agent activity on Zigflow's task
    # queue, so a Zigflow needs nothing but that activity.
    zigflow_level: str = "workflow"
    # The dev server's web UI on this port (0: none, as in every test run).
    ui_port: int = 0
    log_dir: pathlib.Path = field(default_factory=lambda: pathlib.Path("reports/out/logs"))
    # TLS and authentication towards an external cluster (harness/tls.py): the
    # harness's own clients, the services and the relays between them use it.
    connection: tls.Connection = field(default_factory=tls.Connection)
    extra_env: dict[str, str] = field(default_factory=dict)
    servers: LocalServers = field(default_factory=LocalServers)
    # The payload limit of the Temporal server (limit.blobSize.error): the one the
    # harness set on the dev server it started (``stack(blob_limit_bytes=...)``), else
    # the cluster's as the settings give it. Told to the services (STIGMA_MAX_PAYLOAD_BYTES).
    payload_limit_bytes: int = DEFAULT_PAYLOAD_LIMIT_BYTES

    def __post_init__(self) -> None:
        if not self.ready_timeout_s > 0:
            self.ready_timeout_s = self.servers.ready_timeout_s

    @property
    def external(self) -> bool:
        return self.temporal not in (TIME_SKIPPING, DEV)

    def validate(self) -> None:
        if "," in self.temporal:
            # One spelling for every command: certify takes a list there, a stack one.
            raise ConfigError(
                f"--temporal={self.temporal!r}: one target here (a comma-separated list is "
                "for handshake certify)"
            )
        if self.external and not is_host_port(self.temporal):
            raise ConfigError(
                f"--temporal={self.temporal!r}: expected 'time-skipping', 'dev' or HOST:PORT"
            )
        if not self.ready_timeout_s > 0:
            raise ConfigError(f"--ready-timeout={self.ready_timeout_s}: give seconds above 0")
        if self.zigflow_level not in ZIGFLOW_LEVELS:
            raise ConfigError(
                f"--zigflow-level={self.zigflow_level!r}: expected one of "
                + ", ".join(ZIGFLOW_LEVELS)
            )
        if not self.zigflow_cmd or not self.stigma_cmd:
            raise ConfigError("--zigflow-cmd and --stigma-cmd must not be empty")
        if self.connection.uses_tls and not self.external:
            # The embedded servers speak plain text only: TLS settings there are a
            # mistake (a profile meant for a cluster), not something to ignore.
            raise ConfigError(
                f"TLS settings ({self.connection.describe()}) need --temporal HOST:PORT of a "
                f"cluster; the embedded {self.temporal} server speaks plain text"
            )
        self.connection.validate()


def is_host_port(address: str) -> bool:
    """Whether ``address`` is HOST:PORT with a port a socket can have."""
    host, sep, port = address.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def same_stack(a: StackConfig, b: StackConfig) -> bool:
    """Whether two configs start the same stack. ``tamper`` and ``relay`` put the same
    relays in the path (harness/stack/stack.py builds on ``tamper or relay``; whether a
    relay damages tokens is a scenario's ``tamper.set``), so only their union counts."""

    def shape(c: StackConfig) -> StackConfig:
        return dataclasses.replace(c, tamper=False, relay=c.tamper or c.relay)

    return shape(a) == shape(b)


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


def from_env(env: Mapping[str, str]) -> StackConfig:
    """From the settings an entry point resolved (``harness.settings.environ()``)."""
    cfg = StackConfig(
        temporal=env.get("HANDSHAKE_TEMPORAL") or TIME_SKIPPING,
        namespace=env.get("HANDSHAKE_NAMESPACE") or "default",
        zigflow_cmd=parse_command(
            env.get("HANDSHAKE_ZIGFLOW_CMD"), REFERENCE_ZIGFLOW, "HANDSHAKE_ZIGFLOW_CMD"
        ),
        stigma_cmd=parse_command(
            env.get("HANDSHAKE_STIGMA_CMD"), REFERENCE_STIGMA, "HANDSHAKE_STIGMA_CMD"
        ),
        connection=tls.from_env(env),
        servers=local_servers(env),
        payload_limit_bytes=configured_payload_limit(env),
    )
    cfg.validate()
    return cfg
