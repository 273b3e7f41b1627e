"""Before and after faults on a deployed target: the preflight and the cleanup.

``preflight`` checks, before the first fault, everything a run on the target relies
on: Temporal answers for the profile's (allowed) namespace, each service's hooks name
programs that exist and its readiness holds, the external Toxiproxy answers and each
named proxy exists, is enabled and carries no toxic, Stigma's address and the metrics
endpoints answer. It invokes no kill/start/restart/pause/resume hook: only readiness.

``cleanup`` undoes what a killed run may have left (``handshake target cleanup``):
every toxic removed from the profile's proxies, every proxy enabled, each service
started by its hook when its readiness does not hold.

Here rather than in ``harness.target`` because the external Toxiproxy is reached
through the one Toxiproxy adapter (``harness.servers.toxiproxy``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from harness import contract
from harness.errors import HarnessError
from harness.servers.toxiproxy import ToxiproxyAPI
from harness.target.hooks import HookRunner, health_status, mask
from harness.target.profile import SERVICES, Profile, admin_host_port

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.what}" + (
            f": {self.detail}" if self.detail else ""
        )


def toxiproxy_api(profile: Profile) -> ToxiproxyAPI | None:
    if profile.toxiproxy is None:
        return None
    host, port = admin_host_port(profile.toxiproxy.admin_url)
    return ToxiproxyAPI(host, port)


async def _checked(what: str, probe: Callable[[], Awaitable[str]]) -> Check:
    """A check from a probe that returns its detail, or raises what is wrong."""
    try:
        return Check(what, True, await probe())
    except Exception as err:  # every failure is the check's finding, not a crash
        return Check(what, False, str(err) or type(err).__name__)


async def _temporal(profile: Profile, env: Mapping[str, str]) -> str:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    connection = profile.connection(env)
    connection.validate()
    client = await asyncio.wait_for(
        Client.connect(profile.temporal, namespace=profile.namespace, **connection.client_kwargs()),
        timeout=CONNECT_TIMEOUT_S,
    )
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=profile.namespace), timeout=None
    )
    return (
        f"{profile.temporal} answers; namespace {described.namespace_info.name} "
        f"({connection.describe()})"
    )


def _program(runner: HookRunner, service: str, hook: str) -> str:
    argv = runner.argv(service, hook)
    if os.sep in argv[0] and os.access(argv[0], os.X_OK):
        return argv[0]
    found = shutil.which(argv[0], path=runner.env.get("PATH"))
    if found is None:
        raise HarnessError(f"{argv[0]}: not found on PATH")
    return found


async def _toxiproxy(api: ToxiproxyAPI, proxies: Mapping[str, str]) -> list[Check]:
    try:
        version = await api.version()
        listed = await api.call("GET", "/proxies")
    except Exception as err:  # version() lets transport errors through unwrapped
        return [Check(f"toxiproxy {api.url}", False, f"{type(err).__name__}: {err}"[:300])]
    checks = [Check(f"toxiproxy {api.url}", True, f"version {version}")]
    for link, name in proxies.items():
        proxy = listed.get(name) if isinstance(listed, dict) else None
        what = f"toxiproxy proxy {name} ({link})"
        if proxy is None:
            checks.append(Check(what, False, f"no such proxy (proxies: {', '.join(listed)})"))
        elif not proxy.get("enabled", False):
            checks.append(Check(what, False, "disabled: run handshake target cleanup"))
        elif proxy.get("toxics"):
            left = ", ".join(str(t.get("name")) for t in proxy["toxics"])
            checks.append(Check(what, False, f"toxics left ({left}): run handshake target cleanup"))
        else:
            checks.append(Check(what, True, f"{proxy.get('listen')} -> {proxy.get('upstream')}"))
    return checks


async def _http(url: str) -> str:
    def get() -> str:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as reply:
            return f"HTTP {reply.status}"

    return await asyncio.to_thread(get)


async def preflight(profile: Profile, runner: HookRunner) -> list[Check]:
    """Every check of the target, each a Check (none raises)."""
    env = runner.env
    checks = [
        Check(
            "namespace allowed",
            profile.namespace in profile.allowed_namespaces,
            f"{profile.namespace} in {profile.allowed_namespaces}",
        ),
        await _checked("temporal", lambda: _temporal(profile, env)),
    ]
    for service in SERVICES:
        hooks = runner.hooks(service)
        for hook in hooks.commands():
            checks.append(
                await _checked(
                    f"{service} {hook} hook program", _as_async(_program, runner, service, hook)
                )
            )
        if hooks.readiness:

            async def ready(service: str = service) -> str:
                if not await runner.ready_once(service):
                    said = runner.log.runs[-1].output_tail.splitlines() or ["no output"]
                    raise HarnessError(f"not ready: {said[-1]}")
                return runner.log.runs[-1].command

            checks.append(await _checked(f"{service} ready", ready))
    if profile.stigma_address:
        address = profile.stigma_address

        async def stigma() -> str:
            status = await health_status(
                address, contract.STIGMA_SERVICE, CONNECT_TIMEOUT_S, profile.grpc_tls("stigma")
            )
            if status != "SERVING":
                hint = (
                    f" (a Stigma that serves only TLS needs grpc-tls-* keys in "
                    f"[targets.{profile.name}.stigma])"
                    if status.startswith("UNAVAILABLE") and profile.grpc_tls("stigma") is None
                    else ""
                )
                raise HarnessError(f"{address}: {status}{hint}")
            tls = profile.grpc_tls("stigma")
            return f"{address} SERVING" + (f" ({tls.describe()})" if tls else "")

        checks.append(await _checked("stigma address", stigma))
    api = toxiproxy_api(profile)
    if api is not None and profile.toxiproxy is not None:
        checks += await _toxiproxy(api, profile.toxiproxy.proxies)
    for service in SERVICES:
        url = getattr(profile.metrics, service)
        if url:
            checks.append(await _checked(f"{service} metrics {url}", _as_async_http(url)))
    return _masked(checks, runner)


def _as_async(fn: Callable[..., str], *args: object) -> Callable[[], Awaitable[str]]:
    async def call() -> str:
        return fn(*args)

    return call


def _as_async_http(url: str) -> Callable[[], Awaitable[str]]:
    return lambda: _http(url)


def _masked(checks: list[Check], runner: HookRunner) -> list[Check]:
    return [Check(c.what, c.ok, mask(c.detail, runner.secrets)) for c in checks]


async def cleanup(profile: Profile, runner: HookRunner) -> list[Check]:
    """Undo what a run may have left; each step a Check (none raises)."""
    checks: list[Check] = []
    api = toxiproxy_api(profile)
    if api is not None and profile.toxiproxy is not None:
        for link, name in profile.toxiproxy.proxies.items():
            checks.append(await _checked(f"toxiproxy proxy {name} ({link})", _healed(api, name)))
    for service in SERVICES:
        hooks = runner.hooks(service)
        if not hooks.readiness:
            checks.append(Check(f"{service}", True, "no readiness check: left as it is"))
            continue

        async def back(service: str = service) -> str:
            if await runner.ready_once(service):
                return "ready"
            if not (runner.hooks(service).start or runner.hooks(service).restart):
                raise HarnessError("not ready, and no start or restart hook to bring it back")
            await runner.bring_back(service)
            return "was not ready: started by its hook, ready again"

        checks.append(await _checked(f"{service}", back))
    return _masked(checks, runner)


def _healed(api: ToxiproxyAPI, name: str) -> Callable[[], Awaitable[str]]:
    async def heal() -> str:
        proxy = await api.call("GET", f"/proxies/{name}")
        removed = [str(t["name"]) for t in proxy.get("toxics") or []]
        for toxic in removed:
            await api.remove_toxic(name, toxic)
        done = [f"removed {', '.join(removed)}"] if removed else ["no toxic"]
        if not proxy.get("enabled", False):
            await api.set_enabled(name, True)
            done.append("enabled again")
        return "; ".join(done)

    return heal
