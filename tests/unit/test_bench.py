"""Budget-run figures that one bad call cannot skew."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

from harness.measure.bench import (
    CallRecord,
    Phase,
    SharedDirect,
    _capacity,
    _where,
    run_level,
    stragglers,
)
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


def test_a_levels_progress_line_says_where_its_wall_time_went() -> None:
    def kind(calls: int, wall: float, arrivals: float, histories: float) -> dict[str, float]:
        return {"calls": calls, "wall_s": wall, "arrivals_s": arrivals, "histories_s": histories}

    entry = {"handshake": kind(110, 14.9, 13.3, 0.6), "direct": kind(100, 12.2, 12.1, 0.1)}
    assert _where(entry) == (
        "handshake 110 calls: arrivals 13.3 s + drain 1.6 s + histories 0.6 s; "
        "direct 100 calls: arrivals 12.1 s + drain 0.1 s + histories 0.1 s"
    )


class _FakeRunner:
    """What run_level asks of a Runner, recording which phases it ran."""

    def __init__(self) -> None:
        me = os.getpid()
        self.stack = SimpleNamespace(
            temporal=SimpleNamespace(process=SimpleNamespace(pid=me)),
            zigflow=SimpleNamespace(pid=me),
            stigma=SimpleNamespace(pid=me),
        )
        self.ran: list[tuple[str, float, float]] = []

    async def open_loop(self, kind: str, rate: float, seconds: float, agent_s: float) -> Phase:
        self.ran.append((kind, rate, agent_s))
        started = float(len(self.ran))
        calls = [CallRecord(f"{kind}-{started:g}", started=started, ended=started + 0.05, ok=True)]
        return Phase(kind, calls, wall_s=seconds, arrivals_s=seconds)

    async def samples(self, phase: Phase) -> list[Any]:
        del phase
        return []


async def test_open_levels_of_one_rate_share_one_direct_phase() -> None:
    # A direct call has no agent work: at one arrival rate every open level's direct
    # phase is the same calls, so it runs once and the later levels say whose it is.
    runner = _FakeRunner()
    shared: SharedDirect = {}
    levels = [
        await run_level(runner, n, "open", 6.0, 5.0, 100, shared)  # type: ignore[arg-type]
        for n in (1, 10, 100)
    ]
    assert [k for k, _, _ in runner.ran] == ["handshake", "direct", "handshake", "handshake"]
    assert [e["direct"]["measured_at_level"] for e in levels] == [1, 1, 1]
    assert levels[2]["direct"]["overhead_ms"] == levels[0]["direct"]["overhead_ms"]
    assert "direct: open N=1's (the same calls)" in _where(levels[2])
    assert "direct 1 calls" in _where(levels[0])
    # A different rate is a different direct phase: measured again.
    faster = await run_level(runner, 10, "open", 6.0, 50.0, 100, shared)  # type: ignore[arg-type]
    assert runner.ran[-1][0] == "direct"
    assert faster["direct"]["measured_at_level"] == 10
