"""The fault matrix: cells, seeded selection, bounded attributes, coverage grid."""

from __future__ import annotations

import random

import pytest

from harness.errors import ConfigError
from harness.faults import matrix as fault_matrix
from harness.faults.matrix import Cell
from harness.links import network
from harness.report import html as report_html
from harness.report import report

pytestmark = pytest.mark.unit


def test_every_toxic_on_every_link_in_both_directions() -> None:
    cells = fault_matrix.all_cells()
    assert len(cells) == len(network.LINKS) * len(network.TOXICS) * len(network.STREAMS) == 42
    assert len({c.id for c in cells}) == 42


def test_selection_is_a_function_of_the_seed() -> None:
    assert fault_matrix.select("3", 7) == fault_matrix.select("3", 7)
    assert len(fault_matrix.select("3", 7)) == 3
    slices = {frozenset(fault_matrix.select("3", seed)) for seed in range(20)}
    assert len(slices) > 1, "every seed picked the same slice"
    assert fault_matrix.select("full", 1) == set(fault_matrix.all_cells())
    toxics = fault_matrix.select("toxics", 1)
    assert {(c.link, c.toxic) for c in toxics} == {
        (link, toxic) for link in network.LINKS for toxic in network.TOXICS
    }
    assert len(toxics) == 21
    assert fault_matrix.select("0", 1) == set()


@pytest.mark.parametrize("bad", ["lots", "-1", ""])
def test_a_bad_selection_says_what_is_allowed(bad: str) -> None:
    with pytest.raises(ConfigError, match="toxics"):
        fault_matrix.select(bad, 1)


def test_attributes_are_seeded_and_bounded() -> None:
    for cell in fault_matrix.all_cells():
        first = fault_matrix.attributes(cell, random.Random(5))
        assert first == fault_matrix.attributes(cell, random.Random(5))
        assert all(isinstance(v, int) and v >= 0 for v in first.values()), (cell, first)
    slow = fault_matrix.attributes(Cell("stigma_grpc", "bandwidth", "downstream"), random.Random(1))
    assert slow["rate"] >= 32  # KB/s: a result of 20 KB crosses in under a second
    with pytest.raises(ConfigError):
        fault_matrix.attributes(Cell("stigma_grpc", "teleport", "upstream"), random.Random(1))


def test_coverage_grid_shows_every_pair_and_counts_directions() -> None:
    faults = [
        {"link": "stigma_grpc", "toxic": "latency", "stream": "upstream"},
        {"link": "stigma_grpc", "toxic": "latency", "stream": "upstream"},
        {"link": "stigma_grpc", "toxic": "latency", "stream": "downstream"},
        {"link": "stigma_temporal", "toxic": "down", "stream": "both"},  # not a toxic
    ]
    grid = network.fault_coverage(faults)
    assert len(grid) == 21
    row = next(r for r in grid if (r["link"], r["toxic"]) == ("stigma_grpc", "latency"))
    assert (row["upstream"], row["downstream"]) == (2, 1)
    assert network.coverage_cell(row) == "up 2, down 1"
    empty = next(r for r in grid if (r["link"], r["toxic"]) == ("stigma_temporal", "limit_data"))
    assert network.coverage_cell(empty) == "-"


def test_coverage_grid_is_in_both_reports() -> None:
    from tests.unit.test_report_html import synthetic_report

    r = synthetic_report()
    r["fault_coverage"] = network.fault_coverage(
        [{"link": "zigflow_temporal", "toxic": "reset_peer", "stream": "downstream"}]
    )
    md = report.markdown(r)
    assert "## Fault coverage: 1 of 21 toxic x link pairs injected" in md
    assert "| zigflow_temporal | - | - | - | - | down 1 | - | - |" in md
    page = report_html.render(r)
    assert "Fault coverage: 1 of 21 toxic &times; link pairs injected" in page
