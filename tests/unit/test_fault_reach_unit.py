"""Each service sees its own (proxied) addresses, and missing traffic is named."""

from __future__ import annotations

from harness.judge import reach
from harness.stack.stack import expand, values_for

VALUES = {
    "temporal_address": "127.0.0.1:7233",
    "zigflow_temporal_address": "127.0.0.1:1001",
    "stigma_temporal_address": "127.0.0.1:1002",
    "stigma_listen": "127.0.0.1:2000",
    "stigma_target": "127.0.0.1:2000",
    "zigflow_stigma_target": "127.0.0.1:3000",
}


def test_generic_placeholders_resolve_to_each_services_own_path() -> None:
    argv = ["svc", "--temporal={temporal_address}", "--stigma={stigma_target}"]
    assert expand(argv, values_for("zigflow", VALUES)) == [
        "svc",
        "--temporal=127.0.0.1:1001",
        "--stigma=127.0.0.1:3000",
    ]
    assert expand(argv, values_for("stigma", VALUES))[1] == "--temporal=127.0.0.1:1002"


def test_a_link_without_a_connection_and_an_unused_relay_are_named() -> None:
    before = reach.Snapshot({"stigma_grpc": 0, "zigflow_temporal": 1}, relay_requests=4)
    after = reach.Snapshot({"stigma_grpc": 0, "zigflow_temporal": 2}, relay_requests=4)
    found = reach.problems(before, after)
    assert len(found) == 2
    assert found[0].startswith("link stigma_grpc")
    assert "relay" in found[1]


def test_traffic_on_every_path_is_no_problem() -> None:
    before = reach.Snapshot({"stigma_grpc": 1}, relay_requests=0)
    after = reach.Snapshot({"stigma_grpc": 1}, relay_requests=3)
    assert reach.problems(before, after) == []
    # an external Toxiproxy (no log to read) and no relay: nothing to judge
    assert reach.problems(reach.Snapshot(None, None), reach.Snapshot(None, None)) == []


def test_a_stigma_that_reaches_temporal_around_the_relay_is_named() -> None:
    before = reach.Snapshot({"stigma_temporal": 1}, 0, stigma_temporal_calls=10, relay_acked=0)
    bypass = reach.Snapshot({"stigma_temporal": 1}, 2, stigma_temporal_calls=10, relay_acked=2)
    (found,) = reach.problems(before, bypass)
    assert "STIGMA_TEMPORAL_ADDRESS" in found
    through = reach.Snapshot({"stigma_temporal": 1}, 2, stigma_temporal_calls=14, relay_acked=2)
    assert reach.problems(before, through) == []
    # no ACK (requests refused by Stigma or answered by the relay): nothing to expect
    answered = reach.Snapshot({"stigma_temporal": 1}, 2, stigma_temporal_calls=10, relay_acked=0)
    assert reach.problems(before, answered) == []
