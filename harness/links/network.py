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

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError
from harness.observe.history import History
from harness.servers.toxiproxy import ProxyInfo, ToxiproxyAPI

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

    def clients(self) -> dict[str, int] | None:
        """Connections each link has accepted so far (None: Toxiproxy's log is not ours)."""
        by_proxy = self.api.accepted_clients()
        if by_proxy is None:
            return None
        return {link: by_proxy.get(info.name, 0) for link, info in self.proxies.items()}

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
