"""Budget-run figures that one bad call cannot skew."""

from __future__ import annotations

import pytest

from harness.measure.bench import CallRecord, _capacity

pytestmark = pytest.mark.unit


def test_one_straggler_does_not_move_the_open_loop_capacity() -> None:
    calls = [CallRecord(f"w{i}", started=float(i), ended=i + 0.05, ok=True) for i in range(20)]
    steady = _capacity(calls)
    calls.append(CallRecord("slow", started=30.0, ended=50.0, ok=True))  # a 20 s straggler
    assert steady == 20.0
    assert _capacity(calls) == steady
    assert _capacity([]) is None
