"""Toxiproxy: the server process and the one adapter over toxiproxy-python.

toxiproxy-python (0.1.1) is synchronous, keeps host/port on a class, sets no
request timeouts and lets 5xx answers through silently. Everything the harness
does with Toxiproxy goes through ``ToxiproxyAPI``, which adds a timeout to
every control call, turns any non-2xx answer into ``ToxiproxyError``, and runs
the blocking calls off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import re
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, HarnessError, NotReadyError, WaitTimeout
from harness.servers.ports import LOOPBACK, free_port
from harness.servers.procs import ManagedProcess
from harness.waits import eventually

CONTROL_TIMEOUT_S = 5.0
ROOT = pathlib.Path(__file__).resolve().parents[2]


class ToxiproxyError(HarnessError):
    """The Toxiproxy API refused or failed a control call."""


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    listen: str
    upstream: str


class ToxiproxyAPI:
    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = CONTROL_TIMEOUT_S,
        log_path: pathlib.Path | None = None,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.log_path = log_path  # our own server's log (None: an external server)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        from toxiproxy.api import APIConsumer

        APIConsumer.host, APIConsumer.port = self.host, self.port  # class-level in the library
        try:
            if method == "GET":
                resp = APIConsumer.get(path, timeout=self.timeout_s)
            elif method == "DELETE":
                resp = APIConsumer.delete(path, timeout=self.timeout_s)
            else:
                resp = APIConsumer.post(path, json=json, timeout=self.timeout_s)
        except Exception as err:  # library errors (409/404/400) and transport errors alike
            raise ToxiproxyError(f"toxiproxy {method} {path} failed: {err}") from err
        if not 200 <= resp.status_code < 300:
            raise ToxiproxyError(
                f"toxiproxy {method} {path} answered {resp.status_code}: {resp.text[:300]}"
            )
        return resp.json() if resp.content and method != "DELETE" else None

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        return await asyncio.to_thread(self._call, method, path, json)

    async def version(self) -> str:
        from toxiproxy.api import APIConsumer

        def get() -> str:
            APIConsumer.host, APIConsumer.port = self.host, self.port
            resp = APIConsumer.get("/version", timeout=self.timeout_s)
            if resp.status_code != 200:
                raise ToxiproxyError(f"toxiproxy /version answered {resp.status_code}")
            return _version_of(str(resp.text))

        return await asyncio.to_thread(get)

    async def create_proxy(self, name: str, upstream: str, listen: str) -> ProxyInfo:
        info = await self.call(
            "POST",
            "/proxies",
            {"name": name, "upstream": upstream, "listen": listen, "enabled": True},
        )
        return ProxyInfo(info["name"], info["listen"], info["upstream"])

    async def set_enabled(self, name: str, enabled: bool) -> None:
        proxy = await self.call("GET", f"/proxies/{name}")
        proxy["enabled"] = enabled
        await self.call("POST", f"/proxies/{name}", proxy)

    async def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        await self.call("POST", f"/proxies/{proxy}/toxics", toxic)

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self.call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def accepted_clients(self) -> dict[str, int] | None:
        """Connections each proxy has accepted since the server started, from the
        server's own JSON log ("Accepted client" lines); None for an external server
        whose log the harness cannot read. Toxiproxy's byte counters (-proxy-metrics)
        only move when a connection closes, and a gRPC channel stays open for the
        whole run, so they cannot tell."""
        if self.log_path is None:
            return None
        counts: dict[str, int] = {}
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == "Accepted client":
                name = str(entry.get("name", ""))
                counts[name] = counts.get(name, 0) + 1
        return counts

    def proxy_bytes(self) -> dict[str, float] | None:
        """Bytes each proxy has carried (both directions), from the server's /metrics
        (``-proxy-metrics``); None when it does not serve them. The counters move when
        a connection closes (see ``accepted_clients``)."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=self.timeout_s) as reply:
                text = reply.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return None
        # A server without -proxy-metrics answers 404 (an error above); with it, the
        # counters appear once a connection has closed.
        found: dict[str, float] = {}
        for line in text.splitlines():
            if not line.startswith(("toxiproxy_proxy_received_bytes_total",
                                    "toxiproxy_proxy_sent_bytes_total")):  # fmt: skip
                continue
            labels, _, value = line.rpartition(" ")
            match = re.search(r'proxy="([^"]*)"', labels)
            if match:
                found[match.group(1)] = found.get(match.group(1), 0.0) + float(value)
        return found

    async def reset(self) -> None:
        """Every proxy enabled, every toxic removed."""
        await self.call("POST", "/reset")


def server_binary() -> str:
    """The toxiproxy server built by `make setup` (.bin/), or one on PATH."""
    for candidate in (
        ROOT / ".bin" / "toxiproxy-server",
        pathlib.Path.cwd() / ".bin" / "toxiproxy-server",  # an installed harness, run here
        pathlib.Path(sys.executable).parent / "toxiproxy-server",
    ):
        if candidate.exists():
            return str(candidate)
    for name in ("toxiproxy-server",):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "toxiproxy-server not found in .bin/, beside python or on PATH: run `make setup` "
        "(it builds "
        "github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 with Go), or point "
        "HANDSHAKE_TOXIPROXY_URL at a running server"
    )


@contextlib.asynccontextmanager
async def toxiproxy_server(
    log_dir: pathlib.Path, ready_timeout_s: float, external: str = ""
) -> AsyncIterator[ToxiproxyAPI]:
    """A Toxiproxy server for this stack: ``external`` (its URL, from
    HANDSHAKE_TOXIPROXY_URL) or our own, on loopback with its own API port (one per
    xdist worker)."""
    if external:
        host, _, given = external.removeprefix("http://").rstrip("/").partition(":")
        api = ToxiproxyAPI(host, int(given or 8474))
        await api.version()
        yield api
        return
    api_port = free_port()
    proc = ManagedProcess(
        "toxiproxy",
        [server_binary(), "-host", LOOPBACK, "-port", str(api_port)],
        dict(os.environ),
        log_dir,
    )
    await proc.start()
    api = ToxiproxyAPI(LOOPBACK, api_port, log_path=proc.log_path)
    try:
        try:
            await eventually(
                api.version,
                timeout_s=ready_timeout_s,
                pending=lambda: f"toxiproxy API at {api.url}",
            )
        except WaitTimeout as err:
            raise NotReadyError(f"{err}\n--- toxiproxy log ---\n{proc.tail()}") from err
        yield api
    finally:
        await proc.stop(grace_s=5)


def _version_of(body: str) -> str:
    """v2.12.0 answers {"version": "2.12.0"}; older servers answered the bare string."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("version"), str):
        return str(parsed["version"])
    return body.strip()
