"""CPU per handshake of a load run's processes (harness/load/figures.py) and of the
bench's (harness/measure/bench.py), from /proc readings (harness/servers/procstat.py)."""

from __future__ import annotations

import argparse
import json
import os
import pathlib

import pytest

from harness.load import figures, run
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


def test_stages_read_after_the_load_merge_into_their_samples(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "samples-1.jsonl"
    lines = [
        {"id": 0, "ok": True, "workflow_id": "load-a", "started_at": 1.0, "e2e_ms": 90.0},
        {"id": 1, "ok": False, "workflow_id": "load-b", "started_at": 2.0, "error": "boom"},
        {"stages_of": "load-a", "ack_ms": 9.0, "overhead_ms": 31.0},
        {"event": "stages_read", "pid": 7, "handshakes": 1, "began_at": 5.0,
         "began_cpu_s": 1.0, "ended_at": 6.0, "ended_cpu_s": 1.25},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    samples = figures.read_samples([path])
    assert [s["id"] for s in samples] == [0, 1]  # the records after the load are no samples
    assert samples[0]["overhead_ms"] == 31.0
    assert samples[0]["ack_ms"] == 9.0
    assert "overhead_ms" not in samples[1]
    assert figures.read_stage_reads([path]) == [lines[3]]


def test_reads_after_the_load_are_outside_the_window_and_reported_on_their_own() -> None:
    # The bridge's once-a-second readings straddle the window's end (20.5 s): its reads
    # after the load burn 2 s of CPU from 20.5 s on, which interpolation would spread
    # into the window; its own reading when they began keeps them out.
    readings = {"bridge": {7: [(10.0, 0.0), (20.0, 1.0), (22.0, 3.05)]}}
    marks = [{"pid": 7, "handshakes": 10, "began_at": 20.5, "began_cpu_s": 1.05,
              "ended_at": 22.0, "ended_cpu_s": 3.05}]  # fmt: skip
    without = figures.cpu_per_handshake(readings, (10.0, 20.5), 10)
    assert without["processes"]["bridge"]["cpu_s"] == pytest.approx(1.512, abs=0.001)
    cpu = figures.cpu_per_handshake(readings, (10.0, 20.5), 10, marks)
    assert cpu["processes"]["bridge"]["cpu_s"] == pytest.approx(1.05)
    after = cpu["stage_reads_after"]
    assert after == {"handshakes": 10, "cpu_s": 2.0, "wall_s": 1.5, "ms_per_handshake": 200.0}
    assert "After the load window, the bridges read both histories of 10" in "\n".join(
        figures.cpu_markdown(cpu)
    )
    # A reading of its own a tick above the kernel's next one is kept between them.
    clamped = figures.with_stage_reads(readings, [{**marks[0], "began_cpu_s": 9.0}])
    assert (20.5, 3.05) in clamped["bridge"][7]


def test_cpu_and_resident_set_come_from_one_stat_read() -> None:
    reading = procstat.cpu_and_rss(os.getpid())
    assert reading is not None
    cpu, rss = reading
    assert cpu > 0
    status = pathlib.Path(f"/proc/{os.getpid()}/status").read_text()
    vm_rss_mb = int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1])
    assert rss == pytest.approx(vm_rss_mb / 1024.0, rel=0.1)
    assert procstat.cpu_and_rss(2**22 + 12345) is None


def test_the_runner_waits_longer_for_the_reads_of_a_long_load(tmp_path: pathlib.Path) -> None:
    (tmp_path / "started-1.jsonl").write_text('{"workflow_id": "a"}\n' * 3)
    (tmp_path / "started-2.jsonl").write_text('{"workflow_id": "b"}\n' * 2)
    after = argparse.Namespace(stages="after")
    allowance = run._stage_reads_allowance_s(after, tmp_path)
    assert allowance == pytest.approx(5 * figures.STAGE_READ_ALLOWANCE_S)
    assert run._stage_reads_allowance_s(argparse.Namespace(stages="inline"), tmp_path) == 0.0
