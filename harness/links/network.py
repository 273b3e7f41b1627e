"""Network faults on the stack's links, through real Toxiproxy proxies.

Links (each a proxy; the services reach each other only through them in a
chaos stack):
  stigma_grpc       Zigflow's ExecuteAgent activity -> Stigma's gRPC server
  zigflow_temporal  Zigflow's worker                 -> Temporal
  stigma_temporal   Stigma's server and worker       -> Temporal (starts, completions)

Every fault is an async context manager that undoes itself and writes a start
and a stop on the history's fault timeline; ``Network.injected`` keeps what was
actually injected, for the report.

Toxiproxy decides toxicity per *connection*, and a gRPC channel is one
long-lived connection, so toxics are always applied with toxicity 1.0 and
switched on and off on a schedule (../shared/handshake-facts.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, WaitTimeout
from harness.observe.history import History
from harness.servers.toxiproxy import ProxyInfo, ToxiproxyAPI
from harness.waits import eventually

LINKS = ("stigma_grpc", "zigflow_temporal", "stigma_temporal")
TOXICS = ("latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")
STREAMS = ("upstream", "downstream")
_names = itertools.count(1)


@dataclass
class Network:
    api: ToxiproxyAPI
    proxies: dict[str, ProxyInfo]
    version: str
    injected: list[dict[str, Any]] = field(default_factory=list)
    cycled: list[str] = field(default_factory=list)  # proxies cycled to count their bytes

    def clients(self) -> dict[str, int] | None:
        """Connections each link has accepted so far (None: Toxiproxy's log is not ours)."""
        by_proxy = self.api.accepted_clients()
        if by_proxy is None:
            return None
        return {link: by_proxy.get(info.name, 0) for link, info in self.proxies.items()}

    def bytes_carried(self) -> dict[str, int] | None:
        """Bytes each link's closed connections carried (an external Toxiproxy's
        /metrics; None without them)."""
        counted = self.api.proxy_bytes()
        if counted is None:
            return None
        return {link: int(counted.get(info.name, 0.0)) for link, info in self.proxies.items()}

    async def carried(self) -> dict[str, int] | None:
        """Evidence per link that the services' traffic goes through it: connections
        accepted (the harness's own Toxiproxy: its log) or, for an external Toxiproxy,
        bytes its proxies carried (its /metrics, served with ``-proxy-metrics``). Those
        counters move only when a connection closes and a gRPC channel stays open, so a
        link showing none yet is cycled once (disabled, enabled: its connections close
        and are counted, the services reconnect through it, as after any network blip).
        None: no evidence readable (an external Toxiproxy without ``-proxy-metrics``)."""
        local = self.clients()
        if local is not None:
            return local
        counted = await asyncio.to_thread(self.api.proxy_bytes)
        if counted is None:
            return None
        silent = [i.name for i in self.proxies.values() if counted.get(i.name, 0.0) <= 0]
        for name in silent:
            await self.api.set_enabled(name, False)
            await self.api.set_enabled(name, True)
            self.cycled.append(name)
        if silent:

            async def counted_all() -> dict[str, float] | None:
                now = await asyncio.to_thread(self.api.proxy_bytes) or {}
                return now if all(now.get(n, 0.0) > 0 for n in silent) else None

            try:
                counted = await eventually(
                    counted_all,
                    timeout_s=5.0,
                    interval_s=0.1,
                    pending=lambda: f"bytes counted on proxies {', '.join(silent)}",
                )
            except WaitTimeout:
                counted = await asyncio.to_thread(self.api.proxy_bytes) or {}
        return {link: int(counted.get(info.name, 0.0)) for link, info in self.proxies.items()}

    @property
    def external(self) -> bool:
        """A Toxiproxy the harness did not start (a deployed target's)."""
        return self.api.log_path is None

    def _check(self, link: str) -> None:
        if link not in self.proxies:
            raise ConfigError(f"unknown link {link!r}; links are {', '.join(self.proxies)}")

    @contextlib.asynccontextmanager
    async def toxic(
        self,
        history: History,
        link: str,
        toxic: str,
        *,
        stream: str = "downstream",
        **attributes: Any,
    ) -> AsyncIterator[None]:
        """Apply one toxic (latency, bandwidth, slow_close, timeout, reset_peer, slicer,
        limit_data) to one direction of a link for the duration of the block."""
        self._check(link)
        if toxic not in TOXICS or stream not in STREAMS:
            raise ConfigError(f"toxic {toxic!r}/{stream!r}: expected one of {TOXICS} / {STREAMS}")
        name = f"{toxic}_{stream}_{next(_names)}"
        await self.api.add_toxic(
            self.proxies[link].name,
            {
                "name": name,
                "type": toxic,
                "stream": stream,
                "toxicity": 1.0,
                "attributes": attributes,
            },
        )
        history.fault("start", f"toxic:{toxic}", link, stream=stream, **attributes)
        self.injected.append(
            {
                "link": link,
                "toxic": toxic,
                "stream": stream,
                "scenario": history.name,
                "attributes": attributes,
            }
        )
        try:
            yield
        finally:
            await self.api.remove_toxic(self.proxies[link].name, name)
            history.fault("stop", f"toxic:{toxic}", link, stream=stream)

    @contextlib.asynccontextmanager
    async def down(self, history: History, link: str) -> AsyncIterator[None]:
        """Take a link down: its listener closes and live connections drop."""
        self._check(link)
        await self.api.set_enabled(self.proxies[link].name, False)
        history.fault("start", "link_down", link)
        self.injected.append(
            {
                "link": link,
                "toxic": "down",
                "stream": "both",
                "scenario": history.name,
                "attributes": {},
            }
        )
        try:
            yield
        finally:
            await self.api.set_enabled(self.proxies[link].name, True)
            history.fault("stop", "link_down", link)


def fault_coverage(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every toxic type on every link, with how often each direction was injected."""
    counts = {(link, toxic): dict.fromkeys(STREAMS, 0) for link in LINKS for toxic in TOXICS}
    for f in faults:
        by_stream = counts.get((f.get("link", ""), f.get("toxic", "")))
        if by_stream is not None and f.get("stream") in STREAMS:
            by_stream[f["stream"]] += 1
    return [{"link": link, "toxic": toxic, **n} for (link, toxic), n in counts.items()]


def coverage_cell(row: dict[str, Any]) -> str:
    """'up 2, down 1', or '-' when the toxic never ran on that link."""
    parts = [f"{word} {row[s]}" for s, word in zip(STREAMS, ("up", "down"), strict=True) if row[s]]
    return ", ".join(parts) or "-"
