"""A running stack: Temporal, Stigma and Zigflow, each reachable only by its contract."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from harness import contract, tls
from harness.config import PLACEHOLDERS, StackConfig
from harness.errors import ComponentDied, ConfigError, NotReadyError, WaitTimeout
from harness.links.completion_relay import CompletionRelay
from harness.links.network import Network
from harness.links.tamper import TokenTamper
from harness.observe.token_scan import LogScanner, ScanReport
from harness.servers import health
from harness.servers.ports import LOOPBACK, free_port
from harness.servers.procs import ManagedProcess, require_executable
from harness.servers.temporal import TemporalTarget, connect, temporal_target, until_serving
from harness.servers.toxiproxy import toxiproxy_server
from harness.stack import plan_workflow
from harness.stack.agent import Agents, serve_agents
from harness.stack.topology import HopKind, Link, Topology
from harness.target.hooks import HookRunner
from harness.waits import eventually


class Layers(NamedTuple):
    """What the harness put in a stack's links (None: not there)."""

    network: Network | None = None  # the Toxiproxy proxies
    relay: TokenTamper | None = None  # the StartAgent relay
    completions: CompletionRelay | None = None  # the relay in front of Temporal


@dataclass
class Stack:
    config: StackConfig
    temporal: TemporalTarget
    client: Client
    stigma: ManagedProcess
    zigflow: ManagedProcess
    stigma_target: str
    zigflow_health: str
    zigflow_task_queue: str
    stigma_task_queue: str
    log_dir: pathlib.Path
    # The harness's agent: a worker in this process serving Stigma's agent task queue.
    agents: Agents
    # Who dials whom: each link's hops, as the services were told them.
    topology: Topology
    # Prometheus endpoint (host:port) of each service: {"zigflow": ..., "stigma": ...}
    metrics: dict[str, str] = field(default_factory=dict)
    network: Network | None = None
    # The harness's StartAgent relay in Zigflow's path to Stigma (relay and tamper stacks).
    relay: TokenTamper | None = None
    # The harness's relay in front of Temporal for Stigma's calls by token (same stacks).
    completions: CompletionRelay | None = None
    # Where the harness starts plans: the team's Zigflow workflow on Zigflow's queue, or
    # (activity level) the harness's own workflow on the harness's queue.
    plan_workflow: str = ""
    plan_task_queue: str = ""
    # How far the services' logs were scanned for tokens, and the tokens' needles.
    log_scanner: LogScanner = field(default_factory=LogScanner)
    # On a time-skipping server: the workflows the scenarios on this stack started, while
    # they run, which virtual time must release the locks of (harness/faults/clock.py).
    time_skipping_watched: dict[str, None] = field(default_factory=dict)
    # The run's id: in every workflow id the driver starts (a deployed target's
    # leftovers are found, and told apart from another run's, by it).
    run_id: str = ""
    # A deployed target's hooks (harness.stack.deployed); None on the harness's own stack.
    runner: HookRunner | None = None

    @property
    def stigma_tls(self) -> tls.ServiceTLS | None:
        """TLS towards Stigma's gRPC at ``stigma_target``: a deployed target's (its
        ``grpc-tls-*`` keys); the harness's own services serve plain text."""
        return self.runner.profile.grpc_tls("stigma") if self.runner else None

    @classmethod
    def of(
        cls,
        topology: Topology,
        config: StackConfig,
        layers: Layers,
        *,
        temporal: TemporalTarget,
        client: Client,
        stigma: ManagedProcess,
        zigflow: ManagedProcess,
        log_dir: pathlib.Path,
        agents: Agents,
        plan_task_queue: str,
        run_id: str,
        runner: HookRunner | None = None,
    ) -> Stack:
        """A stack whose addresses, queues and plan workflow are its topology's and its
        level's: the harness's own and a deployed target's alike."""
        return cls(
            config=config,
            temporal=temporal,
            client=client,
            stigma=stigma,
            zigflow=zigflow,
            stigma_target=topology.stigma_listen,
            zigflow_health=topology.zigflow_health_listen,
            zigflow_task_queue=topology.zigflow_task_queue,
            stigma_task_queue=topology.stigma_task_queue,
            log_dir=log_dir,
            agents=agents,
            topology=topology,
            metrics=topology.metrics(config.zigflow_level),
            network=layers.network,
            relay=layers.relay,
            completions=layers.completions,
            plan_workflow=plan_workflow_of(config.zigflow_level),
            plan_task_queue=plan_task_queue,
            run_id=run_id,
            runner=runner,
        )

    @property
    def deployed(self) -> bool:
        return self.runner is not None

    def tokens_seen(self) -> list[bytes]:
        """Every token handed to Stigma, as Zigflow sent it and as the relay forwarded it
        (damaged ones too). Not the tokens of Stigma's own activities, which its relay
        in front of Temporal also carries: those are its worker's business with Temporal,
        not Zigflow's capability."""
        return list(self.relay.tokens) if self.relay is not None else []

    def service_logs(self) -> list[pathlib.Path]:
        """Every log of the services under test, every incarnation."""
        return [*self.stigma.log_paths, *self.zigflow.log_paths]

    def scan_logs_for_tokens(self) -> ScanReport:
        """Scan what the services logged since the last scan for every token seen."""
        return self.log_scanner.scan(self.tokens_seen(), self.service_logs())

    def completion_relay(self) -> CompletionRelay:
        """The relay in front of Temporal for Stigma's calls by token."""
        if self.completions is None:
            raise ConfigError("this stack has no completion relay (StackConfig.relay is off)")
        return self.completions

    def plan_input(self, plan: dict[str, Any]) -> dict[str, Any]:
        """What the plan workflow is started with."""
        if self.config.zigflow_level == "activity":
            return plan_workflow.plan_input(
                plan, self.zigflow_task_queue, contract.NAMES.zigflow_agent_activity
            )
        return plan

    @property
    def namespace(self) -> str:
        return self.temporal.namespace

    async def restart_temporal(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the embedded Temporal server and start it again on the same port and data."""
        proc = self.temporal.process
        if proc is None:
            raise ConfigError("cannot restart an external Temporal cluster from the harness")
        await proc.kill(sig)
        await proc.start()
        await until_serving(
            proc, self.temporal.address, self.namespace, self.config.ready_timeout_s
        )

    async def restart(self, proc: ManagedProcess) -> None:
        """Start a stopped service again (a new incarnation, new log) and wait until ready."""
        await proc.start()
        if proc is self.stigma:
            await wait_healthy(
                proc, self.stigma_target, contract.STIGMA_SERVICE, self.config.ready_timeout_s
            )
            if self.relay is not None:
                await self.relay.reconnect()
        else:
            await wait_healthy(proc, self.zigflow_health, "", self.config.ready_timeout_s)

    def logs(self, lines: int = 30) -> str:
        """The tail of each service's log, every token in it named by its fingerprint."""
        needles = self.log_scanner.needles
        needles.add(self.tokens_seen())
        parts = []
        for proc in (self.stigma, self.zigflow):
            tail = needles.redact(proc.tail(lines))
            parts.append(f"--- {proc.name} (pid {proc.pid}, {proc.log_path}) ---\n{tail}")
        return "\n".join(parts)


def service_env(
    values: dict[str, str], config: StackConfig, connection_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment contract of both services (docs handbook, "Service contract");
    ``connection_env``: their TLS settings towards Temporal (``harness.tls``)."""
    env = dict(os.environ)  # keeps PATH, and coverage's subprocess hook when measuring
    env.update(
        {
            "ZIGFLOW_TEMPORAL_ADDRESS": values["zigflow_temporal_address"],
            "ZIGFLOW_NAMESPACE": values["namespace"],
            "ZIGFLOW_TASK_QUEUE": values["zigflow_task_queue"],
            "ZIGFLOW_STIGMA_TARGET": values["zigflow_stigma_target"],
            "ZIGFLOW_HEALTH_LISTEN": values["zigflow_health_listen"],
            "ZIGFLOW_MAX_CONCURRENT_ACTIVITIES": str(config.zigflow_max_concurrent_activities),
            "STIGMA_TEMPORAL_ADDRESS": values["stigma_temporal_address"],
            "STIGMA_NAMESPACE": values["namespace"],
            "STIGMA_TASK_QUEUE": values["stigma_task_queue"],
            "STIGMA_AGENT_TASK_QUEUE": values["agent_task_queue"],
            "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS": values["stigma_zigflow_temporal_address"],
            "STIGMA_LISTEN": values["stigma_listen"],
            # Prometheus endpoints (reference_services/common/metrics.py); other
            # services may ignore them, and the metrics checks then say so.
            "ZIGFLOW_METRICS_LISTEN": values["zigflow_metrics_listen"],
            "STIGMA_METRICS_LISTEN": values["stigma_metrics_listen"],
            # The cluster's payload limit: Stigma fails Zigflow's activity with
            # ResultTooLarge rather than complete it with a result over it.
            "STIGMA_MAX_PAYLOAD_BYTES": str(config.payload_limit_bytes),
        }
    )
    env.update(connection_env or {})
    env.update(config.extra_env)
    return env


def values_for(service: str, values: dict[str, str]) -> dict[str, str]:
    """The placeholders as ``service`` must see them: the generic names resolve to that
    service's own (possibly proxied) addresses, so a command written with
    ``{temporal_address}`` / ``{stigma_target}`` goes through the faults too."""
    own = dict(values)
    own["temporal_address"] = values[f"{service}_temporal_address"]
    if service == "zigflow":
        own["stigma_target"] = values["zigflow_stigma_target"]
    return own


def expand(argv: list[str], values: dict[str, str]) -> list[str]:
    try:
        return [arg.format(**values) for arg in argv]
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"service command {argv!r} uses an unknown placeholder ({err}); "
            f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        ) from err


async def wait_healthy(proc: ManagedProcess, target: str, service: str, timeout_s: float) -> None:
    """grpc.health.v1 says SERVING; fails at once if the process died meanwhile."""
    async with health.probe(target) as checks:

        async def serving() -> bool | None:
            if not proc.running():
                raise ComponentDied(
                    f"{proc.name} exited with code {proc.exit_code()} before it was ready\n"
                    f"--- {proc.name} log ---\n{proc.tail()}"
                )
            return True if await checks.status(service) == health.SERVING else None

        try:
            await eventually(
                serving,
                timeout_s=timeout_s,
                pending=lambda: f"{proc.name} health {service!r} at {target} to be SERVING",
            )
        except WaitTimeout as err:
            raise NotReadyError(f"{err}\n--- {proc.name} log ---\n{proc.tail()}") from err


@contextlib.asynccontextmanager
async def start_stack(config: StackConfig, run_id: str | None = None) -> AsyncIterator[Stack]:
    """Temporal, the harness's proxies and relays, its agent worker, Stigma, then
    Zigflow; torn down in reverse (the proxies and relays after Temporal), always. Each
    layer in between puts its hop in the topology's links."""
    config.validate()
    # A service that cannot start fails the stack before Temporal and the proxies start
    # for it (seconds on a busy machine, and the same error after them).
    # (A program named by a placeholder is known only then: checked at its start.)
    for name, argv in (("stigma", config.stigma_cmd), ("zigflow", config.zigflow_cmd)):
        if "{" not in argv[0]:
            require_executable(name, argv, os.environ)
    run_id = run_id or uuid.uuid4().hex[:8]
    log_dir = config.log_dir / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    async with (
        contextlib.AsyncExitStack() as links,  # entered first: closed after Temporal
        temporal_target(config, log_dir) as temporal,
        contextlib.AsyncExitStack() as on_temporal,  # closed while Temporal still runs
    ):
        connection = config.connection  # plain text unless an external cluster (validate)
        client = await connect(
            temporal.address, temporal.namespace, config.ready_timeout_s, "Temporal", connection
        )
        topology = Topology.local(temporal.address, temporal.namespace, run_id)
        layers = await links.enter_async_context(
            harness_links(config, topology, temporal, log_dir, run_id)
        )
        agents, plan_queue = await on_temporal.enter_async_context(
            harness_workers(client, config, topology, run_id)
        )
        async with services(config, topology, layers, log_dir) as (stigma, zigflow):
            yield Stack.of(
                topology,
                config,
                layers,
                temporal=temporal,
                client=client,
                stigma=stigma,
                zigflow=zigflow,
                log_dir=log_dir,
                agents=agents,
                plan_task_queue=plan_queue,
                run_id=run_id,
            )


@contextlib.asynccontextmanager
async def harness_links(
    config: StackConfig,
    topology: Topology,
    temporal: TemporalTarget,
    log_dir: pathlib.Path,
    run_id: str,
) -> AsyncIterator[Layers]:
    """What the harness puts in the services' links, innermost first: the network's
    proxies (chaos), then its relays (tamper, relay)."""
    relays = config.tamper or config.relay
    async with contextlib.AsyncExitStack() as layers:
        network = None
        if config.chaos:
            network = await layers.enter_async_context(chaos(topology, log_dir, run_id, config))
        relay = await layers.enter_async_context(start_agent_relay(topology)) if relays else None
        completions = None
        if relays:
            server_name = tls.server_name_for(config.connection, temporal.address)
            completions = await layers.enter_async_context(
                completion_relay(topology, config.connection, server_name)
            )
            if relay is not None:
                completions.handed_at = relay.handed_at
        yield Layers(network, relay, completions)


@contextlib.asynccontextmanager
async def chaos(
    topology: Topology, log_dir: pathlib.Path, run_id: str, config: StackConfig
) -> AsyncIterator[Network]:
    """A Toxiproxy proxy on every link: the services reach each other only through them."""
    async with toxiproxy_server(
        log_dir, config.ready_timeout_s, config.servers.toxiproxy_url
    ) as api:
        proxies = {}
        for link in topology.links.values():
            proxy = await api.create_proxy(
                f"{link.name}-{run_id}", link.address, f"{LOOPBACK}:{free_port()}"
            )
            link.add("toxiproxy", proxy.listen, name=proxy.name)
            proxies[link.name] = proxy
        yield Network(api, proxies, await api.version())


class _Relay(Protocol):
    async def start(self) -> str: ...  # where it listens
    async def stop(self) -> None: ...


RelayT = TypeVar("RelayT", bound=_Relay)


@contextlib.asynccontextmanager
async def _relaying(link: Link, kind: HopKind, relay: RelayT) -> AsyncIterator[RelayT]:
    """``relay`` started as ``link``'s next hop (what it relays to is the link's address
    as it stood), stopped on leaving: every relay of the harness goes in a link so."""
    link.add(kind, await relay.start())
    try:
        yield relay
    finally:
        await relay.stop()


def start_agent_relay(topology: Topology) -> contextlib.AbstractAsyncContextManager[TokenTamper]:
    """The StartAgent relay, in front of whatever Zigflow would reach (Stigma, or its
    proxy in a chaos stack): tokens are damaged before the network's faults apply."""
    link = topology.links["stigma_grpc"]
    # A hop already in the link is a proxy that outlives Stigma's restarts: a refusal
    # there is the link being down.
    relay = TokenTamper(link.address, refused_means_link_down=bool(link.hops))
    return _relaying(link, "start_agent_relay", relay)


@contextlib.asynccontextmanager
async def completion_relay(
    topology: Topology, connection: tls.Connection, server_name: str
) -> AsyncIterator[CompletionRelay]:
    """All of Stigma's calls to Temporal go through the harness too (after the network's
    faults: the relay's upstream is Stigma's link to Temporal as it stands): its durable
    starts and its calls by token are what the harness observes, parks and refuses."""
    with relay_certificate(connection, server_name) as certificate:
        link = topology.links["stigma_temporal"]
        completions = CompletionRelay(link.address, connection, server_name, certificate)
        async with _relaying(link, "completion_relay", completions):
            yield completions


@contextlib.contextmanager
def relay_certificate(
    connection: tls.Connection, server_name: str
) -> Iterator[tls.HarnessCA | None]:
    """The completion relay reads gRPC, so over TLS it terminates it with a certificate
    of a per-stack CA (also valid for the cluster's name, which Stigma checks); None
    in plain text."""
    if not connection.uses_tls:
        yield None
        return
    harness_ca = tls.HarnessCA.create(
        (LOOPBACK, "localhost", server_name), connection.read("ca") or tls.system_cas()
    )
    try:
        yield harness_ca
    finally:
        harness_ca.remove()


def connection_env(
    config: StackConfig, topology: Topology, completions: CompletionRelay | None
) -> dict[str, str]:
    """Both services' TLS settings towards Temporal. Through a Toxiproxy link TLS passes
    untouched: the services check the cluster's own name on a certificate that came
    from another address. Stigma trusts the completion relay's CA when it has one."""
    connection = config.connection
    server_name = tls.server_name_for(connection, topology.temporal_address)
    certificate = completions.certificate if completions is not None else None
    return {
        **tls.service_env("zigflow", connection, connection.ca, server_name),
        **tls.service_env(
            "stigma",
            connection,
            str(certificate.bundle) if certificate else connection.ca,
            server_name,
        ),
    }


@contextlib.asynccontextmanager
async def harness_workers(
    client: Client, config: StackConfig, topology: Topology, run_id: str
) -> AsyncIterator[tuple[Agents, str]]:
    """The harness's agent worker (up before Stigma can schedule an agent, gone after
    both services have stopped) and, at activity level, its plan worker; the agents,
    and the queue plans are started on."""
    async with contextlib.AsyncExitStack() as workers:
        plan_queue = topology.zigflow_task_queue
        if config.zigflow_level == "activity":
            plan_queue = f"plan-{run_id}"
            await workers.enter_async_context(plan_worker(client, plan_queue))
        agents = await workers.enter_async_context(serve_agents(client, topology.agent_task_queue))
        yield agents, plan_queue


@contextlib.asynccontextmanager
async def services(
    config: StackConfig,
    topology: Topology,
    layers: Layers,
    log_dir: pathlib.Path,
) -> AsyncIterator[tuple[ManagedProcess, ManagedProcess]]:
    """Stigma, then Zigflow, launched in that order and waited on together until both
    are healthy; stopped in reverse, always. What they are
    told is rendered here, once every hop is in place."""
    values = topology.values()
    env = service_env(values, config, connection_env(config, topology, layers.completions))
    stigma = ManagedProcess(
        "stigma", expand(config.stigma_cmd, values_for("stigma", values)), env, log_dir
    )
    zigflow = ManagedProcess(
        "zigflow", expand(config.zigflow_cmd, values_for("zigflow", values)), env, log_dir
    )

    async def stigma_ready() -> None:
        await wait_healthy(
            stigma, values["stigma_target"], contract.STIGMA_SERVICE, config.ready_timeout_s
        )
        if layers.relay is not None:
            await layers.relay.connected(config.ready_timeout_s)

    try:
        # Zigflow is launched once Stigma's process is, and both come up side by side:
        # Zigflow's only call to Stigma is a StartAgent made for a plan, and no plan
        # starts before both are SERVING (a stack's start is two interpreters' imports
        # otherwise paid one after the other).
        await stigma.start()
        await zigflow.start()
        await first_error(
            stigma_ready(),
            wait_healthy(zigflow, values["zigflow_health_listen"], "", config.ready_timeout_s),
        )
        yield stigma, zigflow
    finally:
        await zigflow.stop()
        await stigma.stop()


async def first_error(*waits: Coroutine[Any, Any, None]) -> None:
    """Run ``waits`` side by side until all are done; the first to fail fails the whole
    with its own error (not an ExceptionGroup: the callers map error classes to exit
    codes), the others cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def plan_workflow_of(zigflow_level: str) -> str:
    """The workflow plans are started as: the team's Zigflow workflow, or (activity
    level) the harness's own."""
    if zigflow_level == "activity":
        return plan_workflow.WORKFLOW
    return contract.NAMES.zigflow_workflow


@contextlib.asynccontextmanager
async def plan_worker(client: Client, task_queue: str) -> AsyncIterator[None]:
    """The harness's plan workflow, served from this process (activity level). Not
    sandboxed: it is the harness's own small deterministic workflow, and the sandbox
    would re-import the harness package on every run."""
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[plan_workflow.HandshakePlan],
        activities=[plan_workflow.echo],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        yield
