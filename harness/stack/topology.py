"""Who dials whom in a stack: each link from a service to its peer, hop by hop.

A stack's services never learn of each other directly: each is told one address per
peer, and the harness puts its proxies and relays between them. The address a service
dials is the outermost hop of its link, so it is derived here from the hops, in one
place, instead of being overwritten as each layer is started: adding a hop is the only
way an address changes, and ``values()`` renders what the services are told once all
layers are up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.links.network import LINKS
from harness.servers.ports import LOOPBACK, free_port

HopKind = Literal["toxiproxy", "start_agent_relay", "completion_relay"]

# Each link's ends: the service that dials, and the peer it means to reach.
ENDS = {
    "stigma_grpc": ("zigflow", "stigma"),
    "zigflow_temporal": ("zigflow", "temporal"),
    "stigma_temporal": ("stigma", "temporal"),
}


@dataclass(frozen=True)
class Hop:
    """One thing the harness put in a link: where it listens (it forwards inwards)."""

    kind: HopKind
    name: str  # a Toxiproxy proxy's name; "" for the relays (one of each per stack)
    listen: str


@dataclass
class Link:
    """A service's path to a peer: the peer's own address, then the hops in front of it,
    innermost (nearest the peer) first."""

    name: str
    upstream: str
    hops: list[Hop] = field(default_factory=list)

    @property
    def address(self) -> str:
        """What the service dials: the outermost hop, else the peer itself."""
        return self.hops[-1].listen if self.hops else self.upstream

    def add(self, kind: HopKind, listen: str, name: str = "") -> str:
        """Put a hop in front of the link as it stands; the link's new address."""
        self.hops.append(Hop(kind, name, listen))
        return self.address

    def describe(self) -> str:
        client, peer = ENDS.get(self.name, ("?", "?"))
        hops = [" ".join(filter(None, (h.kind, h.name, h.listen))) for h in reversed(self.hops)]
        return " -> ".join(
            [f"{self.name}: {client}", *hops, f"{peer} {self.upstream or '(not named)'}"]
        )


@dataclass
class Topology:
    """The stack's addresses and queues, and its links. Empty strings: not known (a
    deployed target's profile need not name them all)."""

    temporal_address: str
    namespace: str
    stigma_listen: str = ""
    zigflow_health_listen: str = ""
    zigflow_metrics_listen: str = ""
    stigma_metrics_listen: str = ""
    stigma_task_queue: str = ""
    agent_task_queue: str = ""
    zigflow_task_queue: str = ""
    links: dict[str, Link] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every link exists from the start, hopless: a service dials its peer directly
        # until a layer is put in between.
        for name in LINKS:
            if name not in self.links:
                upstream = self.stigma_listen if name == "stigma_grpc" else self.temporal_address
                self.links[name] = Link(name, upstream)

    @classmethod
    def local(cls, temporal_address: str, namespace: str, run_id: str) -> Topology:
        """The harness's own stack: its services listen on free loopback ports, its
        queues are the run's."""
        return cls(
            temporal_address=temporal_address,
            namespace=namespace,
            stigma_listen=f"{LOOPBACK}:{free_port()}",
            zigflow_health_listen=f"{LOOPBACK}:{free_port()}",
            zigflow_metrics_listen=f"{LOOPBACK}:{free_port()}",
            stigma_metrics_listen=f"{LOOPBACK}:{free_port()}",
            stigma_task_queue=f"stigma-queue-{run_id}",
            agent_task_queue=f"agent-{run_id}",
            zigflow_task_queue=f"zigflow-{run_id}",
        )

    def values(self) -> dict[str, str]:
        """The placeholders of the service commands (``harness.config.PLACEHOLDERS``), from
        which their environment is made too: each service's peers as its links reach them."""
        return {
            "temporal_address": self.temporal_address,
            "namespace": self.namespace,
            "stigma_listen": self.stigma_listen,
            "stigma_task_queue": self.stigma_task_queue,
            "agent_task_queue": self.agent_task_queue,
            "zigflow_task_queue": self.zigflow_task_queue,
            "zigflow_health_listen": self.zigflow_health_listen,
            "zigflow_metrics_listen": self.zigflow_metrics_listen,
            "stigma_metrics_listen": self.stigma_metrics_listen,
            # Stigma's own address, where the harness checks its health: not a link.
            "stigma_target": self.stigma_listen,
            "zigflow_stigma_target": self.links["stigma_grpc"].address,
            "zigflow_temporal_address": self.links["zigflow_temporal"].address,
            "stigma_temporal_address": self.links["stigma_temporal"].address,
            # Stigma completes Zigflow's activities on the same cluster, by the same path
            # as its own calls (so the completion relay sees them).
            "stigma_zigflow_temporal_address": self.links["stigma_temporal"].address,
        }

    def metrics(self, zigflow_level: str) -> dict[str, str]:
        """Each service's Prometheus endpoint, of those known. At activity level Zigflow's
        agent metrics (counted by its own workflow, which the harness's replaces) are
        not judged."""
        endpoints = {"zigflow": self.zigflow_metrics_listen, "stigma": self.stigma_metrics_listen}
        return {
            service: address
            for service, address in endpoints.items()
            if address and (service == "stigma" or zigflow_level == "workflow")
        }

    def describe(self) -> str:
        """One line per link, from the service that dials to the peer it reaches."""
        return "\n".join(link.describe() for link in self.links.values())
