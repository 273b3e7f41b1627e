"""A game day's per-window figures and its renderers, on hand-made samples."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ConfigError
from harness.load.gameday import Fault, time_to_recover, window_figures
from harness.report import game_day
from harness.report.model import Check, GameDay, GameDayWindow
from harness.target.profile import Profile

T0 = 1_000_000.0


def _sample(start: float, ok: bool = True, end: float | None = None, **kw: float) -> dict[str, Any]:
    s = {"started_at": T0 + start, "ok": ok, "error": "" if ok else "boom"}
    if end is not None:
        s["ended_at"] = T0 + end
    return {**s, **kw}


def test_window_figures_count_the_handshakes_started_in_the_window() -> None:
    samples = [
        _sample(-1, end=0.5, overhead_ms=99),  # before the window
        *[_sample(i, end=i + 0.2, overhead_ms=10 * (i + 1)) for i in range(4)],
        _sample(4, ok=False, end=4.5),
        _sample(10, end=10.1, overhead_ms=1),  # after
    ]
    fig = window_figures(samples, T0, T0 + 5)
    assert fig["handshakes"] == 5
    assert fig["succeeded"] == 4
    assert fig["handshakes_per_s"] == 0.8
    assert fig["error_ratio"] == 0.2
    assert fig["overhead_p50_ms"] == 20.0  # nearest rank of 10, 20, 30, 40
    assert fig["overhead_p99_ms"] == 40.0


def test_time_to_recover_is_when_the_backlog_drained() -> None:
    stop = T0 + 5
    drained = [_sample(1, end=2), _sample(4, end=7.5), _sample(6, end=6.1)]
    assert time_to_recover(drained, stop, 5.0) == (2.5, "backlog drained 2.50s after the stop")
    late = [_sample(4, end=20)]
    ttr, why = time_to_recover(late, stop, 5.0)
    assert ttr is None
    assert "not recovered within 5s" in why
    ttr, why = time_to_recover(drained, stop, 5.0, unanswered_before_stop=2)
    assert ttr is None
    assert "2 handshake(s)" in why


def test_a_fault_the_profile_cannot_undo_is_refused() -> None:
    profile = Profile.model_validate(
        {
            "name": "p",
            "temporal": "h:1",
            "namespace": "n",
            "allowed_namespaces": ["n"],
            "zigflow_task_queue": "z",
            "agent_task_queue": "a",
        }
    )
    with pytest.raises(ConfigError, match="no Toxiproxy proxy"):
        Fault("toxic", link="stigma_grpc").check(profile)
    with pytest.raises(ConfigError, match="no kill hook"):
        Fault("kill", service="stigma").check(profile)


def test_renderers_escape_and_show_every_window() -> None:
    check = Check(checker="exactly_once", ok=False, status="violated", checked=1,
                  evidence=["x: agent ran 2 times"])  # fmt: skip
    window = GameDayWindow(index=1, name="fault 1", kind="toxic", fault="<b>latency|x</b>",
                           start=T0, stop=T0 + 5, exactly_once=check)  # fmt: skip
    day = GameDay(run_id="r<1>", target="t", started_at=T0, ended_at=T0 + 9, windows=[window])
    md = game_day.markdown(day)
    assert "latency\\|x" in md
    assert "VIOLATED (1)" in md
    assert "agent ran 2 times" in md
    page = game_day.html(day)
    assert "<b>" not in page
    assert "&lt;b&gt;latency|x&lt;/b&gt;" in page
    assert 'class="fail"' in page
