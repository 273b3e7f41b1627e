"""A stack's topology: hops added in order give the addresses the services are told."""

from __future__ import annotations

from harness.config import PLACEHOLDERS
from harness.links.network import LINKS
from harness.stack.topology import ENDS, Hop, Link, Topology

TEMPORAL = "127.0.0.1:7233"


def _topology() -> Topology:
    return Topology(
        temporal_address=TEMPORAL,
        namespace="default",
        stigma_listen="127.0.0.1:2000",
        zigflow_health_listen="127.0.0.1:2001",
        zigflow_metrics_listen="127.0.0.1:2002",
        stigma_metrics_listen="127.0.0.1:2003",
        stigma_task_queue="stigma-queue-r",
        agent_task_queue="agent-r",
        zigflow_task_queue="zigflow-r",
    )


def test_a_link_without_hops_dials_its_upstream() -> None:
    link = Link("stigma_grpc", "127.0.0.1:2000")
    assert link.address == "127.0.0.1:2000"
    values = _topology().values()
    assert values["zigflow_stigma_target"] == values["stigma_listen"] == "127.0.0.1:2000"
    assert values["zigflow_temporal_address"] == TEMPORAL
    assert values["stigma_temporal_address"] == values["stigma_zigflow_temporal_address"]
    assert values["stigma_temporal_address"] == TEMPORAL


def test_every_link_the_network_faults_has_its_ends() -> None:
    assert tuple(ENDS) == LINKS
    assert tuple(_topology().links) == LINKS


def test_hops_added_in_order_are_dialled_outermost_first() -> None:
    topology = _topology()
    grpc = topology.links["stigma_grpc"]
    assert grpc.add("toxiproxy", "127.0.0.1:3000", name="stigma_grpc-r") == "127.0.0.1:3000"
    assert grpc.add("start_agent_relay", "127.0.0.1:3001") == "127.0.0.1:3001"
    assert grpc.hops == [
        Hop("toxiproxy", "stigma_grpc-r", "127.0.0.1:3000"),
        Hop("start_agent_relay", "", "127.0.0.1:3001"),
    ]
    temporal = topology.links["stigma_temporal"]
    temporal.add("toxiproxy", "127.0.0.1:4000", name="stigma_temporal-r")
    temporal.add("completion_relay", "127.0.0.1:4001")
    values = topology.values()
    # Zigflow reaches Stigma through the relay; the harness checks Stigma's health on
    # Stigma itself.
    assert values["zigflow_stigma_target"] == "127.0.0.1:3001"
    assert values["stigma_target"] == values["stigma_listen"] == "127.0.0.1:2000"
    # Both of Stigma's paths to Temporal cross the completion relay, Zigflow's none.
    assert values["stigma_temporal_address"] == "127.0.0.1:4001"
    assert values["stigma_zigflow_temporal_address"] == "127.0.0.1:4001"
    assert values["zigflow_temporal_address"] == TEMPORAL
    assert values["temporal_address"] == TEMPORAL


def test_values_are_exactly_the_placeholders() -> None:
    values = _topology().values()
    assert set(values) == set(PLACEHOLDERS)
    assert values["stigma_task_queue"] == "stigma-queue-r"
    assert values["agent_task_queue"] == "agent-r"
    assert values["zigflow_task_queue"] == "zigflow-r"
    assert values["zigflow_health_listen"] == "127.0.0.1:2001"


def test_describe_names_each_hop_from_the_service_to_its_peer() -> None:
    topology = _topology()
    topology.links["stigma_temporal"].add("toxiproxy", "127.0.0.1:4000", name="stigma_temporal-r")
    topology.links["stigma_temporal"].add("completion_relay", "127.0.0.1:4001")
    assert topology.describe().splitlines() == [
        "stigma_grpc: zigflow -> stigma 127.0.0.1:2000",
        f"zigflow_temporal: zigflow -> temporal {TEMPORAL}",
        "stigma_temporal: stigma -> completion_relay 127.0.0.1:4001"
        f" -> toxiproxy stigma_temporal-r 127.0.0.1:4000 -> temporal {TEMPORAL}",
    ]


def test_metrics_at_activity_level_leave_zigflow_out() -> None:
    topology = _topology()
    assert topology.metrics("workflow") == {
        "zigflow": "127.0.0.1:2002",
        "stigma": "127.0.0.1:2003",
    }
    assert topology.metrics("activity") == {"stigma": "127.0.0.1:2003"}
    # a deployed target that names no endpoint: none to scrape
    assert Topology(TEMPORAL, "default").metrics("workflow") == {}


def test_the_local_stack_gets_free_ports_and_the_runs_queues() -> None:
    topology = Topology.local(TEMPORAL, "default", "r1")
    listens = {
        topology.stigma_listen,
        topology.zigflow_health_listen,
        topology.zigflow_metrics_listen,
        topology.stigma_metrics_listen,
    }
    assert len(listens) == 4
    assert topology.links["stigma_grpc"].upstream == topology.stigma_listen
    assert (topology.stigma_task_queue, topology.agent_task_queue) == (
        "stigma-queue-r1",
        "agent-r1",
    )
    assert topology.zigflow_task_queue == "zigflow-r1"
