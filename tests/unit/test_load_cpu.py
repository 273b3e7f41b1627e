"""CPU per handshake of a load run's processes (harness/load/figures.py) and of the
bench's (harness/measure/bench.py), from /proc readings (harness/servers/procstat.py)."""

from __future__ import annotations

import os

import pytest

from harness.load import figures
from harness.measure import bench
from harness.servers import procstat

pytestmark = pytest.mark.unit


def test_cpu_between_readings_is_interpolated_and_clamped_outside_them() -> None:
    readings = [(10.0, 1.0), (12.0, 2.0), (14.0, 2.0)]
    assert figures.cpu_at(readings, 11.0) == pytest.approx(1.5)
    assert figures.cpu_at(readings, 13.0) == pytest.approx(2.0)
    assert figures.cpu_at(readings, 5.0) == 1.0  # before the first reading
    assert figures.cpu_at(readings, 99.0) == 2.0  # after the last
    assert figures.cpu_at([], 1.0) == 0.0


def test_window_runs_from_the_first_start_to_the_last_answer() -> None:
    samples = [
        {"started_at": 100.0, "ended_at": 100.5, "ok": True},
        {"started_at": 101.0, "ok": True, "e2e_ms": 2000.0},  # no ended_at: start + e2e
        {"started_at": 102.0, "ended_at": 102.1, "ok": False},
    ]
    assert figures.handshake_window(samples) == (100.0, 103.0)
    assert figures.handshake_window([]) is None


def test_cpu_per_handshake_counts_only_the_window_and_sums_each_processes_pids() -> None:
    readings = {
        # start-up (0 -> 10 s) burns 5 s of CPU that must not count
        "runner": {1: [(0.0, 0.0), (10.0, 5.0), (20.0, 5.5)]},
        "bridge": {2: [(10.0, 1.0), (20.0, 1.5)], 3: [(10.0, 0.0), (20.0, 0.5)]},
        "locust": {4: [(10.0, 0.0), (20.0, 0.0)]},
        "temporal": {5: [(10.0, 0.0), (20.0, 4.0)]},
    }
    cpu = figures.cpu_per_handshake(readings, (10.0, 20.0), 100)
    p = cpu["processes"]
    assert p["runner"] == {"role": "harness", "cpu_s": 0.5, "ms_per_handshake": 5.0}
    assert p["bridge"]["ms_per_handshake"] == pytest.approx(10.0)  # both bridges
    assert p["temporal"]["role"] == "service"
    assert cpu["harness_ms"] == pytest.approx(15.0)
    assert cpu["services_ms"] == pytest.approx(40.0)
    assert cpu["handshakes_per_s_per_harness_core"] == pytest.approx(66.7)
    assert cpu["window_s"] == 10.0
    md = "\n".join(figures.cpu_markdown(cpu))
    assert "| bridge | harness | 1.0 | 10.0 |" in md
    assert "about 66.7 handshakes/s" in md


def test_no_handshake_no_cpu_figure() -> None:
    assert figures.cpu_per_handshake({"runner": {1: [(0.0, 1.0)]}}, None, 0)["processes"] == {}
    assert figures.cpu_markdown({"processes": {}}) == []


def test_this_process_and_its_children_are_read_from_proc() -> None:
    cpu = procstat.cpu_seconds(os.getpid())
    assert cpu is not None
    assert cpu > 0
    assert procstat.cpu_seconds(2**22 + 12345) is None  # no such pid
    tree = procstat.descendants({"me": os.getpid(), "parent": os.getppid()})
    assert os.getpid() in tree["me"]
    assert os.getpid() in tree["parent"]


def test_bench_splits_the_harness_cpu_per_call_from_the_services() -> None:
    usage: dict[str, dict[str, float | None]] = {
        "temporal": {"cpu_s": 2.0},
        "zigflow": {"cpu_s": 0.5},
        "stigma": {"cpu_s": None},  # exited: unknown, not zero
        "harness": {"cpu_s": 0.4},
    }
    cpu = bench.cpu_per_call(usage, 100)
    assert cpu["harness_ms"] == 4.0
    assert cpu["services_ms"] == 25.0
    assert cpu["by_process"]["stigma"] is None
    assert cpu["calls_per_s_per_harness_core"] == 250.0
    assert bench.cpu_per_call(usage, 0)["harness_ms"] is None


def test_figures_say_the_warm_up_and_the_cpu_split() -> None:
    result = figures.summarize([{"id": 1, "ok": True, "started_at": 1.0, "e2e_ms": 5.0}])
    result["warm_up"] = {"handshakes": 5, "succeeded": 5}
    result["cpu_per_handshake"] = figures.cpu_per_handshake(
        {"bridge": {7: [(1.0, 0.0), (2.0, 0.004)]}}, (1.0, 2.0), 1
    )
    md = figures.markdown(result, [], [])
    assert "5 of 5 warm-up handshakes succeeded (not counted here)" in md
    assert "| bridge | harness | 0.004 | 4.0 |" in md
