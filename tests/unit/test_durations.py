"""The phase recorder (harness.spans) and the per-test phases (harness.measure.durations)."""

from __future__ import annotations

import asyncio
import json
import pathlib
from dataclasses import dataclass, field

import pytest

from harness import spans, waits
from harness.measure import durations

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_span_sums_the_time_it_was_open_and_take_starts_again() -> None:
    clock = FakeClock()
    rec = spans.Recorder(clock)
    with rec.span("wait"):
        clock.now += 2.0
    clock.now += 5.0  # outside any span: counted nowhere
    with rec.span("wait"):
        clock.now += 1.5
    with rec.span("judge"):
        clock.now += 0.25
    assert rec.take() == {"wait": 3.5, "judge": 0.25}
    assert rec.take() == {}


def test_overlapping_spans_of_a_phase_count_the_wall_time_once() -> None:
    clock = FakeClock()
    rec = spans.Recorder(clock)
    outer = rec.span("wait")
    inner = rec.span("wait")
    outer.__enter__()
    clock.now += 1.0
    inner.__enter__()  # a second wait while the first is open (asyncio.gather)
    clock.now += 2.0
    outer.__exit__(None, None, None)  # the first ends: the second still waits
    clock.now += 3.0
    inner.__exit__(None, None, None)
    assert rec.take() == {"wait": 6.0}  # not 1 + 2 + 2 + 3


def test_a_span_open_at_take_splits_between_the_two_takes() -> None:
    clock = FakeClock()
    rec = spans.Recorder(clock)
    with rec.span("stack_start"):
        clock.now += 4.0
        assert rec.take() == {"stack_start": 4.0}
        clock.now += 1.0
    assert rec.take() == {"stack_start": 1.0}


def test_a_span_ended_by_an_error_still_counts() -> None:
    clock = FakeClock()
    rec = spans.Recorder(clock)

    def fails() -> None:
        with rec.span("wait"):
            clock.now += 0.5
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fails()
    assert rec.take() == {"wait": 0.5}


def test_the_harness_waits_open_a_wait_span() -> None:
    spans.RECORDER.take()  # what earlier tests left

    async def run() -> None:
        await waits.hold_for(0.05, "the point of the test: a real-time hold")
        calls = iter([None, None, True])

        async def probe() -> bool | None:
            return next(calls)

        await waits.eventually(probe, timeout_s=5, pending=lambda: "x", interval_s=0.01)

    asyncio.run(run())
    taken = spans.RECORDER.take()
    assert taken[spans.WAIT] >= 0.05


def test_a_reports_phases_split_its_duration_and_never_exceed_it() -> None:
    assert durations.phases_of("setup", 10.0, {"stack_start": 7.5, "wait": 3.0}) == {
        "stack_start": 7.5,
        "setup": 2.5,
    }
    assert durations.phases_of("call", 10.0, {"wait": 6.0, "judge": 1.0}) == {
        "wait": 6.0,
        "judge": 1.0,
        "body": 3.0,
    }
    # A span summed longer than pytest's duration (a clock read apart): capped.
    assert durations.phases_of("call", 2.0, {"wait": 5.0, "judge": 0.5}) == {
        "wait": 1.5,
        "judge": 0.5,
        "body": 0.0,
    }
    assert durations.phases_of("teardown", 0.75, {"wait": 0.5}) == {"teardown": 0.75}


@dataclass
class FakeReport:
    nodeid: str
    when: str
    outcome: str
    user_properties: list[tuple[str, object]] = field(default_factory=list)


def test_the_keeper_writes_each_tests_phases_from_its_reports(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "d" / "gate.json"
    keeper = durations.DurationsKeeper(out, workers=2)
    props = {
        "setup": {"stack_start": 3.0, "setup": 0.5},
        "call": {"wait": 2.0, "judge": 0.25, "body": 1.0},
        "teardown": {"teardown": 0.125},
    }
    for when, phases in props.items():
        prop = (durations.PROPERTY, json.dumps({"worker": "gw1", "phases": phases}))
        outcome = "failed" if when == "call" else "passed"
        keeper.pytest_runtest_logreport(FakeReport("s/t.py::a", when, outcome, [prop]))
    keeper.pytest_runtest_logreport(FakeReport("s/t.py::b", "setup", "passed"))  # no property
    keeper.pytest_sessionfinish(object(), 0)
    doc = json.loads(out.read_text())
    assert doc["workers"] == 2
    assert doc["tests"] == {
        "s/t.py::a": {
            "outcome": "call failed",
            "worker": "gw1",
            "phases": {
                "stack_start": 3.0,
                "setup": 0.5,
                "wait": 2.0,
                "judge": 0.25,
                "body": 1.0,
                "teardown": 0.125,
            },
        }
    }
    merged = durations.merged(json.dumps({"worker": "gw0", "phases": p}) for p in props.values())
    assert merged == doc["tests"]["s/t.py::a"]["phases"]


def test_workers_of_an_xdist_run() -> None:
    assert durations.workers_of(2) == 2
    assert durations.workers_of(None) == 1
    assert durations.workers_of(0) == 1


def test_a_scenarios_record_keeps_its_phases_for_certify() -> None:
    from harness.report import records

    record = records.scenario_record(
        "scenarios/t.py::a", "passed", 3.0, None, [], None, "", phases_s={"wait": 2.0}
    )
    assert record.result().phases_s == {"wait": 2.0}  # what certification.json keeps
