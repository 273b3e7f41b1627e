"""A stack whose services are already deployed: the other way a stack comes to be.

The harness's own stack (``harness.stack.stack.start_stack``) spawns the services and
puts its proxies and relays in their paths. A deployed target (a profile,
``harness.target.profile``) has its services running already, in their own paths:
what the harness brings is its side of the handshake (the plans it starts, the agent
it serves on the profile's agent task queue) and the profile's means of fault: the
external Toxiproxy's proxies become the stack's ``Network``, the hooks become its
services' kill/start/pause/resume. The scenarios see the same ``Stack``; what a
deployment cannot give (the harness's relays, a Temporal it restarts) is not there,
and the scenarios needing it are not run on the target (``harness.target.needs``).
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import AsyncIterator
from typing import Any

from harness.config import StackConfig
from harness.errors import ConfigError
from harness.links.network import Network
from harness.observe.history import History
from harness.servers.temporal import TemporalTarget, connect
from harness.servers.toxiproxy import ProxyInfo, ToxiproxyAPI
from harness.stack.agent import serve_agents
from harness.stack.stack import Layers, Stack, plan_worker
from harness.stack.topology import Link, Topology
from harness.target.hooks import (
    KILL_MISSING,
    PAUSE_MISSING,
    HookRunner,
    kill_watch,
    service_killed,
    service_paused,
)
from harness.target.kill_seen import KillWatch
from harness.target.profile import Profile, admin_host_port

DEPLOYED = "deployed"  # TemporalTarget.kind of a deployed target's cluster


class DeployedService:
    """A service the harness did not start: faulted and brought back by its hooks.

    It stands where the harness's own stack has a ``ManagedProcess``; it has no pid and
    no log here (its logs stay with the deployment, and the report says so)."""

    def __init__(self, runner: HookRunner, name: str) -> None:
        self.runner = runner
        self.name = name
        self.incarnation = 1
        self.pid: int | None = None
        self.log_paths: list[pathlib.Path] = []
        self.log_path = f"(deployed: {name}'s logs stay with target {runner.profile.name!r})"
        self._watch: KillWatch | None = None  # opened by a pause, for a kill inside it

    def running(self) -> bool:
        return True

    def exit_code(self) -> int | None:
        return None

    def tail(self, lines: int = 30) -> str:
        where = self.runner.profile.name
        return f"{self.name} is deployed: read its logs where it runs (target {where!r})"

    @contextlib.asynccontextmanager
    async def killed(self, history: History) -> AsyncIterator[DeployedService]:
        """Killed by its kill hook, the kill seen to land (its grpc.health.v1 Watch
        ended: ``harness.target.kill_seen``); on leaving, however, started again and
        ready."""
        if not self.runner.profile.can_kill(self.name):
            raise ConfigError(
                f"{self.name}: target {self.runner.profile.name!r} has {KILL_MISSING}"
            )
        incarnation = self.incarnation
        # Frozen (a pause around the kill), it answers no new Watch: the pause's own.
        watch, self._watch = self._watch, None
        try:
            async with service_killed(self.runner, self.name, watch) as seen:
                history.fault("start", "kill:hook", self.name, incarnation=incarnation, seen=seen)
                try:
                    yield self
                finally:
                    self.incarnation += 1
        finally:
            if self.incarnation > incarnation:
                history.fault("stop", "kill:hook", self.name, incarnation=self.incarnation)

    @contextlib.asynccontextmanager
    async def paused(self, history: History) -> AsyncIterator[DeployedService]:
        """Paused by its pause hook, the pause seen to land (its grpc.health.v1 stops
        answering: ``harness.target.pause_seen``); on leaving, however, resumed and
        answering again."""
        if not self.runner.profile.can_pause(self.name):
            raise ConfigError(
                f"{self.name}: target {self.runner.profile.name!r} has {PAUSE_MISSING}"
            )
        # A kill inside the pause must be seen to land on a process that answers nothing
        # new: the Watch is opened now, while it serves (when a kill can be seen at all).
        if self.runner.profile.can_kill(self.name):
            self._watch = await kill_watch(self.runner, self.name)
        started = False
        try:
            async with service_paused(self.runner, self.name) as seen:
                history.fault("start", "pause", self.name, seen=seen)
                started = True
                yield self
        finally:
            if self._watch is not None:  # no kill inside the pause used it
                await self._watch.close()
                self._watch = None
            if started:
                history.fault("stop", "pause", self.name)


def _metrics_address(url: str | None) -> str | None:
    """``http://host:9464/metrics`` -> ``host:9464`` (the scrapers add ``/metrics``)."""
    if not url:
        return None
    host, port = admin_host_port(url.removesuffix("/metrics"))
    if not host:
        raise ConfigError(f"metrics {url!r}: expected http://HOST:PORT/metrics")
    return f"{host}:{port}"


async def external_network(profile: Profile) -> Network | None:
    """The profile's Toxiproxy proxies as the stack's links (None: no Toxiproxy)."""
    if profile.toxiproxy is None:
        return None
    host, port = admin_host_port(profile.toxiproxy.admin_url)
    api = ToxiproxyAPI(host, port)
    proxies: dict[str, ProxyInfo] = {}
    for link, name in profile.toxiproxy.proxies.items():
        info: dict[str, Any] = await api.call("GET", f"/proxies/{name}")
        proxies[link] = ProxyInfo(str(info["name"]), str(info["listen"]), str(info["upstream"]))
    return Network(api, proxies, await api.version())


def topology_of(profile: Profile) -> Topology:
    """The deployment's addresses as the profile names them (its proxies are added as
    they are read from the Toxiproxy)."""
    return Topology(
        temporal_address=profile.temporal,
        namespace=profile.namespace,
        stigma_listen=profile.stigma_address or "",
        zigflow_health_listen=profile.zigflow.ready_grpc_health or "",
        zigflow_metrics_listen=_metrics_address(profile.metrics.zigflow) or "",
        stigma_metrics_listen=_metrics_address(profile.metrics.stigma) or "",
        agent_task_queue=profile.agent_task_queue,
        zigflow_task_queue=profile.zigflow_task_queue,
    )


def config_of(profile: Profile) -> StackConfig:
    """The stack settings a deployed target implies (no command: nothing is spawned)."""
    return StackConfig(
        temporal=profile.temporal,
        namespace=profile.namespace,
        zigflow_cmd=[],
        stigma_cmd=[],
        zigflow_max_concurrent_activities=profile.zigflow_max_concurrent_activities or 0,
        zigflow_level=profile.zigflow_level,
        connection=profile.connection(),
    )


@contextlib.asynccontextmanager
async def deployed_stack(
    profile: Profile, runner: HookRunner, log_dir: pathlib.Path, timeout_s: float = 30.0
) -> AsyncIterator[Stack]:
    """The deployed services of ``profile`` as a ``Stack``: the harness connects, serves
    its agent on the profile's agent task queue (and, at activity level, its plan
    workflow on a queue of the run), and takes the proxies named in the profile."""
    config = config_of(profile)
    run_id = runner.run_id
    log_dir = log_dir / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    client = await connect(
        profile.temporal, profile.namespace, timeout_s, f"target {profile.name}", config.connection
    )
    async with contextlib.AsyncExitStack() as on_temporal:
        plan_queue = profile.zigflow_task_queue
        if profile.zigflow_level == "activity":
            plan_queue = f"plan-{run_id}"
            await on_temporal.enter_async_context(plan_worker(client, plan_queue))
        agents = await on_temporal.enter_async_context(
            serve_agents(client, profile.agent_task_queue)
        )
        topology = topology_of(profile)
        network = await external_network(profile)
        for link, proxy in network.proxies.items() if network is not None else ():
            # The external proxy is the link's one hop: what the deployed service dials
            # (the profile says so), its upstream the peer.
            topology.links[link] = Link(link, proxy.upstream)
            topology.links[link].add("toxiproxy", proxy.listen, name=proxy.name)
        yield Stack.of(
            topology,
            config,
            Layers(network=network),
            temporal=TemporalTarget(DEPLOYED, profile.temporal, profile.namespace, "deployed"),
            client=client,
            stigma=DeployedService(runner, "stigma"),  # type: ignore[arg-type]
            zigflow=DeployedService(runner, "zigflow"),  # type: ignore[arg-type]
            log_dir=log_dir,
            agents=agents,
            plan_task_queue=plan_queue,
            run_id=run_id,
            runner=runner,
        )
