"""Every Toxiproxy toxic on every link, in both directions: the generated fault matrix.

A cell is one (link, toxic, stream). Its attributes are drawn from the run's
chaos seed within bounds that keep a correct service able to finish (a
bandwidth of a few KB/s would only measure patience). Which cells run is a
selection, also drawn from the seed, so every xdist worker (they share the
seed) deselects the same ones:

  ``--fault-matrix N``       N cells (the gate: a short slice, a different one per seed)
  ``--fault-matrix toxics``  every toxic on every link, one direction each (certify)
  ``--fault-matrix full``    every cell (nightly)

A cell proves something only if its toxic met the services' traffic, so
``wait_traffic`` waits, while the toxic is on, for evidence on that link: a
new connection through it (Toxiproxy's log), or a handshake step that can
only have crossed it, observed at the harness's own relays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, FaultNotReached, WaitTimeout
from harness.links.network import LINKS, STREAMS, TOXICS
from harness.stack.stack import Stack
from harness.waits import eventually

MODES = ("toxics", "full")


@dataclass(frozen=True, order=True)
class Cell:
    link: str
    toxic: str
    stream: str

    @property
    def id(self) -> str:
        return f"{self.link}-{self.toxic}-{self.stream}"


def all_cells() -> list[Cell]:
    return [Cell(link, toxic, stream) for link in LINKS for toxic in TOXICS for stream in STREAMS]


def select(mode: str, seed: int) -> set[Cell]:
    """The cells a run with ``--fault-matrix mode`` and this seed runs."""
    rng = random.Random(f"fault-matrix:{seed}")
    cells = all_cells()
    if mode == "full":
        return set(cells)
    if mode == "toxics":
        return {Cell(link, toxic, rng.choice(STREAMS)) for link in LINKS for toxic in TOXICS}
    try:
        count = int(mode)
    except ValueError:
        raise ConfigError(
            f"--fault-matrix {mode!r}: expected a number of cells, or one of {MODES}"
        ) from None
    if count < 0:
        raise ConfigError(
            f"--fault-matrix {mode!r}: expected a number of cells (0 or more), or one of {MODES}"
        )
    return set(rng.sample(cells, min(count, len(cells))))


def attributes(cell: Cell, rng: random.Random) -> dict[str, Any]:
    """Seeded attributes within bounds a correct service survives (units: Toxiproxy's)."""
    toxic = cell.toxic
    if toxic == "latency":
        return {"latency": rng.randint(20, 300), "jitter": rng.randint(0, 50)}
    if toxic == "bandwidth":
        return {"rate": rng.randint(32, 256)}  # KB/s
    if toxic == "slow_close":
        return {"delay": rng.randint(100, 2000)}  # ms before a close goes through
    if toxic == "timeout":
        return {"timeout": rng.randint(200, 2000)}  # no data; closed after this many ms
    if toxic == "reset_peer":
        return {"timeout": rng.randint(0, 500)}  # RST after this many ms
    if toxic == "slicer":
        size = rng.randint(16, 512)
        return {"average_size": size, "size_variation": size // 2, "delay": rng.randint(0, 200)}
    if toxic == "limit_data":
        return {"bytes": rng.randint(1_000, 64_000)}  # connection closed after this many
    raise ConfigError(f"no attributes known for toxic {toxic!r}")


@dataclass(frozen=True)
class Mark:
    """What had crossed the paths around one link when a toxic went on."""

    clients: int | None
    relayed: int
    acked: int
    completions: int
    agents: int = 0  # agent attempts the harness's agent worker had started


def mark(stack: Stack, link: str) -> Mark:
    clients = stack.network.clients() if stack.network is not None else None
    if clients is None and stack.network is not None:
        # An external Toxiproxy: bytes counted on the link's connections that closed
        # (a timeout or reset toxic closes them; the services reconnect through it).
        clients = stack.network.bytes_carried()
    relay = stack.relay
    return Mark(
        clients=None if clients is None else clients.get(link, 0),
        relayed=len(relay.log) if relay is not None else 0,
        acked=sum(r.acked_wall is not None for r in relay.log) if relay is not None else 0,
        completions=len(stack.completions.completions) if stack.completions is not None else 0,
        agents=stack.agents.started,
    )


def _crossed(link: str, before: Mark, now: Mark, relays: bool = True) -> bool:
    if now.clients is not None and before.clients is not None and now.clients > before.clients:
        return True
    if not relays:
        # No harness relay in the path (a deployed target, whose links are proven to
        # carry the services' traffic: harness.judge.reach): an agent started since the
        # toxic went on had its StartAgent cross stigma_grpc, sent by Zigflow's activity
        # whose task crossed zigflow_temporal, and ACKed after Stigma's durable start
        # crossed stigma_temporal.
        return now.agents > before.agents
    if link == "stigma_grpc":
        # The relay sits in front of this link: a relayed request went into it.
        return now.relayed > before.relayed
    if link == "zigflow_temporal":
        # A StartAgent exists only after Zigflow's worker got the task over this link.
        return now.relayed > before.relayed
    # stigma_temporal: an ACK follows Stigma's durable start, which crossed this link,
    # and the completion relay's upstream is this link.
    return now.acked > before.acked or now.completions > before.completions


async def wait_traffic(stack: Stack, link: str, before: Mark, timeout_s: float) -> None:
    """Return once the services' traffic met ``link`` since ``before``; else
    ``FaultNotReached`` naming the link (the cell would have proved nothing)."""

    async def crossed() -> bool | None:
        relays = stack.relay is not None
        return True if _crossed(link, before, mark(stack, link), relays) else None

    try:
        await eventually(
            crossed,
            timeout_s=timeout_s,
            pending=lambda: f"traffic through link {link} while its toxic is on",
        )
    except WaitTimeout as err:
        raise FaultNotReached(
            f"no traffic met the toxic on link {link} within {timeout_s:.0f} s: no new "
            "connection through it and no handshake step that crosses it"
        ) from err
