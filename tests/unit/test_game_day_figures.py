"""A game day's per-window figures and its renderers, on hand-made samples."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.load import bridge
from harness.load.gameday import (
    Fault,
    JsonLines,
    LoadProgress,
    Recovered,
    recovered,
    steady_again,
    time_to_recover,
    window_figures,
)
from harness.report import game_day
from harness.report.model import Check, GameDay, GameDayWindow
from harness.report.verdict import DeploymentInput, game_day_judgement
from harness.target.profile import Profile, ServiceHooks

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
    with pytest.raises(ConfigError, match="no pause and resume hooks"):
        Fault("pause", service="stigma").check(profile)
    # Hooks without a health address to see them land are refused the same way.
    hooked = profile.model_copy(
        update={"stigma": ServiceHooks(pause="/bin/kill -STOP 1", resume="/bin/true")}
    )
    with pytest.raises(ConfigError, match=r"a grpc\.health\.v1 address to see the pause land"):
        Fault("pause", service="stigma").check(hooked)


def test_renderers_escape_and_show_every_window() -> None:
    check = Check(checker="exactly_once", ok=False, status="violated", checked=1,
                  evidence=["x: agent ran 2 times"])  # fmt: skip
    window = GameDayWindow(index=1, name="fault 1", kind="toxic", fault="<b>latency|x</b>",
                           start=T0, stop=T0 + 5, exactly_once=check)  # fmt: skip
    killed = GameDayWindow(index=2, name="fault 2", kind="kill", fault="stigma killed",
                           start=T0 + 9, stop=T0 + 14, exactly_once=check,
                           seen="the stream ended <now>")  # fmt: skip
    day = GameDay(
        run_id="r<1>", target="t", started_at=T0, ended_at=T0 + 19, windows=[window, killed]
    )
    md = game_day.markdown(day)
    assert "latency\\|x" in md
    assert "VIOLATED (1)" in md
    assert "agent ran 2 times" in md
    assert "- fault 2 (stigma killed): the stream ended <now>" in md
    assert "fault 1 (" not in md.split("seen to land")[1]  # a toxic has nothing to show
    page = game_day.html(day)
    assert "the stream ended &lt;now&gt;" in page
    assert "<b>" not in page
    assert "&lt;b&gt;latency|x&lt;/b&gt;" in page
    assert 'class="fail"' in page


# -- the recover window's end: the backlog drained, then a steady span ------------------


def test_a_handshake_the_load_gave_up_on_is_no_recovery() -> None:
    # The bridge's answer after its wait ran out is the load's, not the service's: that
    # handshake's workflow had not closed (still running, or lost with a killed worker).
    stop = T0 + 5
    gave_up = _sample(4.8, ok=False, end=64.8, resolved=False)
    ttr, why = time_to_recover([_sample(1, end=2), gave_up], stop, 70.0)
    assert ttr is None
    assert why.startswith("not recovered: 1 handshake(s) started before the stop got no result")
    started = {"load-a": T0 + 4.8, "load-b": T0 + 6}
    answered = {"load-a": gave_up, "load-b": _sample(6, end=6.1)}
    assert recovered(started, answered, stop=stop, now=T0 + 70, steady_s=1) == (
        "1 handshake(s) started before the stop got no result"
    )


def _run(
    *answers: tuple[float, bool, float | None],
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """(started, answered) of handshakes given as (start, ok, end); end None: in flight."""
    started, answered = {}, {}
    for i, (start, ok, end) in enumerate(answers):
        wf = f"load-r-{i}"
        started[wf] = T0 + start
        if end is not None:
            answered[wf] = {**_sample(start, ok=ok, end=end), "workflow_id": wf}
    return started, answered


STOP = T0 + 10


def test_the_recover_window_waits_for_the_backlog_then_a_steady_span() -> None:
    backlog = [(8, True, 12.5), (9.5, True, None)]  # started before the stop at 10
    after = [(10.5, True, 10.7), (11, True, 11.2), (13, True, 13.1), (14, True, 14.2)]
    started, answered = _run(*backlog, *after)
    state = recovered(started, answered, stop=STOP, now=T0 + 20, steady_s=1.0)
    assert state == "1 handshake(s) started before the stop still unanswered"
    started, answered = _run((8, True, 12.5), (9.5, False, 13.0), *after)  # a failure resolves
    # drained at 13.0; the span (13.0, 14.0] holds the one started at 14.
    assert "steady span" in str(recovered(started, answered, stop=STOP, now=T0 + 13.5, steady_s=1))
    state = recovered(started, answered, stop=STOP, now=T0 + 14.0, steady_s=1.0)
    assert state == Recovered(T0 + 13.0, T0 + 13.0, T0 + 14.0, 1)
    assert steady_again(state, STOP) == (
        3.0,
        "steady again 3.00s after the stop (1 handshake(s) succeeded over 1.0s)",
    )


def test_a_failure_after_the_stop_moves_the_steady_span_past_it() -> None:
    started, answered = _run((10.3, True, 11), (10.4, False, 11.5), (11, True, 11.6))
    state = recovered(started, answered, stop=STOP, now=T0 + 11.6, steady_s=0.5)
    # The failed one's start: the span is after it, stretched to the next handshake.
    assert state == Recovered(STOP, T0 + 10.4, T0 + 11, 1)
    # A failure after a clean span does not undo it: the earliest span counts.
    started, answered = _run((10.3, True, 10.4), (11, False, 11.5))
    state = recovered(started, answered, stop=STOP, now=T0 + 11.6, steady_s=0.5)
    assert state == Recovered(STOP, STOP, T0 + 10.5, 1)
    # A handshake of the span still in flight, or failing, keeps the window open.
    started, answered = _run((10.5, True, 11), (10.8, True, None))
    assert recovered(started, answered, stop=STOP, now=T0 + 12, steady_s=1) == (
        "1 handshake(s) of the steady span still unanswered"
    )
    started, answered = _run((10.5, True, 11), (10.8, False, 11.5))
    state = recovered(started, answered, stop=STOP, now=T0 + 12.5, steady_s=1)
    assert isinstance(state, str)
    assert "none started since" in state


def test_a_span_without_a_handshake_is_no_evidence_of_steady_state() -> None:
    started, answered = _run((5, True, 6))  # nothing in flight at the stop, none since
    state = recovered(started, answered, stop=STOP, now=T0 + 30, steady_s=1)
    assert isinstance(state, str)
    assert "none started since" in state
    # a slow load stretches the span to its next handshake
    started, answered = _run((5, True, 6), (25, True, 25.5))
    assert recovered(started, answered, stop=STOP, now=T0 + 30, steady_s=1) == Recovered(
        STOP, STOP, T0 + 25, 1
    )


def test_a_window_that_did_not_recover_says_why_and_fails_the_verdict(
    tmp_path: pathlib.Path,
) -> None:
    assert steady_again(None, STOP) == (None, "")  # not watched (a fault cut short)
    never = "not steady again within 3s: 2 handshake(s) started before the stop still unanswered"
    assert steady_again(never, STOP) == (None, never)
    check = Check(checker="exactly_once", ok=True, status="ok", checked=1)
    base = GameDayWindow(index=0, name="baseline", kind="baseline", fault="none", start=T0,
                         stop=STOP, exactly_once=check, overhead_p99_ms=40.0)  # fmt: skip
    drained = GameDayWindow(index=1, name="fault 1", kind="kill", fault="stigma killed",
                            start=T0 + 11, stop=T0 + 12, time_to_recover_s=0.0,
                            steady_after_s=None, recovery=f"nothing in flight at the stop; {never}",
                            exactly_once=check)  # fmt: skip
    late = drained.model_copy(
        update={"index": 2, "name": "fault 2", "time_to_recover_s": None, "recovery": "x"}
    )
    fine = drained.model_copy(update={"index": 3, "name": "fault 3", "steady_after_s": 1.5})
    day = GameDay(run_id="r", target="t", started_at=T0, ended_at=T0 + 20, recover_s=3,
                  steady_s=1, windows=[base, drained, late, fine])  # fmt: skip
    (tmp_path / "game_day.json").write_text(day.model_dump_json())
    d = DeploymentInput(target="t", zigflow_level="workflow", game_day="game_day.json")
    _, _, failing, named = game_day_judgement(tmp_path, d)
    # Not recovered fails the verdict; no steady span after the backlog drained is named.
    assert failing == ["game day: fault 2 (stigma killed): not recovered: x"]
    assert named == [
        "game day: fault 1 (stigma killed): recovered in 0.0 s, not steady again within 3 s",
        "game day: fault 3 (stigma killed): recovered in 0.0 s, steady again 1.5 s after the stop",
    ]
    assert "| not within 3 s |" in game_day.markdown(day)
    # A record whose recover periods were all held (no steady span) reads as before.
    held = day.model_copy(update={"steady_s": 0.0, "windows": [base, drained]})
    (tmp_path / "game_day.json").write_text(held.model_dump_json())
    assert game_day_judgement(tmp_path, d)[3] == [
        "game day: fault 1 (stigma killed): recovered in 0.0 s"
    ]


def test_the_load_runs_records_are_read_as_they_grow(tmp_path: pathlib.Path) -> None:
    samples = tmp_path / "samples-1.jsonl"
    started = bridge.started_path(samples)
    assert started == tmp_path / "started-1.jsonl"
    progress = LoadProgress(tmp_path)
    progress.refresh()
    assert (progress.started, progress.answered) == ({}, {})
    started.write_text(
        json.dumps({"workflow_id": "a", "started_at": T0}) + "\n" + '{"workflow_id": "b", "st'
    )
    progress.refresh()
    assert progress.started == {"a": T0}  # a line still being written waits
    with started.open("a") as f:
        f.write('arted_at": 1000001.0}\n')
    samples.write_text(json.dumps({**_sample(0, end=1), "workflow_id": "a"}) + "\n")
    progress.refresh()
    assert progress.started == {"a": T0, "b": T0 + 1}
    assert list(progress.answered) == ["a"]
    assert JsonLines(tmp_path, bridge.STARTED_GLOB).new() == [
        {"workflow_id": "a", "started_at": T0},
        {"workflow_id": "b", "started_at": T0 + 1},
    ]
