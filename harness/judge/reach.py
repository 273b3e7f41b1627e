"""Evidence that a scenario's faults could reach the services under test.

A chaos or corruption scenario that passes although the service never went
through the proxy or relay (say, a command line given the direct address of
Temporal or Stigma) has proved nothing, and is the worst false pass a gate can
give. So around each such scenario the harness reads its own evidence:

- every Toxiproxy link has accepted a connection (Toxiproxy's own log; gRPC channels
  stay open for a whole run, so this is counted since the stack started, not per
  scenario). Each link has a single client: the service it belongs to, or, in a
  relay stack, the harness's relay in front of it (stigma_grpc: the StartAgent
  relay; stigma_temporal: the relay in front of Temporal), whose own checks below
  cover the service;
- the StartAgent relay, where the stack has one, relayed at least one request
  during the scenario;
- the relay in front of Temporal, where the stack has one, carried at least one of
  Stigma's calls during a scenario in which Stigma ACKed a StartAgent (an ACK
  follows a durable start, which is a call to Temporal).

No connection on a link, or no request through the relay, is
``FaultNotReached`` naming the path and what to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import FaultNotReached
from harness.observe.history import History
from harness.stack.stack import Stack

# Who reaches its peer through which link (harness/links/network.py).
LINK_USERS = {
    "stigma_grpc": "Zigflow's StartAgent calls to Stigma",
    "zigflow_temporal": "Zigflow's worker and client to Temporal",
    "stigma_temporal": "Stigma's worker and client to Temporal",
}
KEY = "fault_reach"  # history.measurements[KEY]
EXTERNAL_TOXIPROXY = "not verified: an external Toxiproxy's log is not readable by the harness"


@dataclass(frozen=True)
class Snapshot:
    link_clients: dict[str, int] | None  # None: no Toxiproxy log to read
    relay_requests: int | None  # None: no relay in this stack
    stigma_temporal_calls: int | None = None  # None: no relay in front of Temporal
    relay_acked: int = 0  # StartAgent requests Stigma ACKed (each after a start in Temporal)
    # An external Toxiproxy whose evidence cannot be read (no -proxy-metrics): its
    # faults are unproven, so the scenario cannot pass.
    unverifiable: str = ""


async def snapshot(stack: Stack) -> Snapshot:
    carried = await stack.network.carried() if stack.network is not None else None
    unverifiable = ""
    if stack.network is not None and stack.network.external and carried is None:
        unverifiable = (
            f"the external Toxiproxy at {stack.network.api.url} serves no /metrics: the "
            "harness cannot see whether the services' traffic goes through its proxies, "
            "so no fault on them is proven; start it with -proxy-metrics"
        )
    return Snapshot(
        link_clients=carried,
        unverifiable=unverifiable,
        relay_requests=len(stack.relay.log) if stack.relay is not None else None,
        stigma_temporal_calls=stack.completions.calls if stack.completions is not None else None,
        relay_acked=sum(r.acked_wall is not None for r in stack.relay.log)
        if stack.relay is not None
        else 0,
    )


def problems(before: Snapshot, after: Snapshot) -> list[str]:
    """The paths that carried none of the services' traffic (empty: all did)."""
    found = [
        f"link {link} ({LINK_USERS.get(link, link)}) never carried traffic through "
        "Toxiproxy: the service reached its peer another way (a direct address in its "
        "command line or configuration?), so no fault on this link applied"
        for link, clients in sorted((after.link_clients or {}).items())
        if clients <= 0
    ]
    if after.unverifiable:
        found.append(after.unverifiable)
    relayed = _relayed(before, after)
    if relayed is not None and relayed <= 0:
        found.append(
            "no StartAgent request went through the harness's relay during the scenario: "
            "Zigflow called Stigma another way (it must use ZIGFLOW_STIGMA_TARGET or "
            "{stigma_target}), so no token damage applied"
        )
    if (
        after.relay_acked > before.relay_acked
        and after.stigma_temporal_calls is not None
        and before.stigma_temporal_calls is not None
        and after.stigma_temporal_calls <= before.stigma_temporal_calls
    ):
        found.append(
            "Stigma ACKed StartAgent requests but made no call to Temporal through "
            "STIGMA_TEMPORAL_ADDRESS ({temporal_address}): it reached Temporal another way, "
            "so no fault on its link applied"
        )
    return found


def judge(history: History, before: Snapshot, after: Snapshot) -> None:
    """Record the evidence; raise ``FaultNotReached`` if a path carried nothing."""
    history.measurements[KEY] = {
        "link_clients": after.link_clients
        if after.link_clients is not None
        else EXTERNAL_TOXIPROXY,
        "relay_requests": _relayed(before, after),
    }
    found = problems(before, after)
    if found:
        raise FaultNotReached(
            f"{history.name}: its faults could not reach the service under test, so it "
            "proved nothing:\n- " + "\n- ".join(found)
        )


def _relayed(before: Snapshot, after: Snapshot) -> int | None:
    if after.relay_requests is None or before.relay_requests is None:
        return None
    return after.relay_requests - before.relay_requests
