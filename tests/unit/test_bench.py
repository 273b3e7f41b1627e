"""Budget-run figures that one bad call cannot skew."""

from __future__ import annotations

import pytest

from harness.measure.bench import CallRecord, _capacity, stragglers
from harness.report import html as report_html
from harness.report import render
from tests.unit.test_report_html import synthetic_report

pytestmark = pytest.mark.unit


def test_one_straggler_does_not_move_the_open_loop_capacity() -> None:
    calls = [CallRecord(f"w{i}", started=float(i), ended=i + 0.05, ok=True) for i in range(20)]
    steady = _capacity(calls)
    calls.append(CallRecord("slow", started=30.0, ended=50.0, ok=True))  # a 20 s straggler
    assert steady == 20.0
    assert _capacity(calls) == steady
    assert _capacity([]) is None


def test_stragglers_are_named_slowest_first_and_reach_the_report() -> None:
    calls = [CallRecord(f"w{i}", started=float(i), ended=i + 0.05, ok=True) for i in range(20)]
    assert stragglers(calls) == []
    calls += [
        CallRecord("gc-pause", started=30.0, ended=50.0, ok=True),
        CallRecord("slow-poll", started=31.0, ended=32.0, ok=True),
        CallRecord("a-bit-slow", started=33.0, ended=33.2, ok=True),  # 4x the median
    ]
    named = stragglers(calls)
    assert named == [
        {"workflow_id": "gc-pause", "seconds": 20.0},
        {"workflow_id": "slow-poll", "seconds": 1.0},
    ]
    row = synthetic_report()["concurrency"][0] | {"stragglers": named}
    report = synthetic_report() | {"concurrency": [row]}
    md = render.markdown(report)
    assert "`gc-pause` 20.0 s" in md
    assert "<code>gc-pause</code> 20.0 s" in report_html.render(report)
