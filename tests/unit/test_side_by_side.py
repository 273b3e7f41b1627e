"""Children run side by side (certify's gates, ``child_runs.run_side_by_side``): up to N at
once, each its output in its own log; one child whose end stops the run has every other
told to stop (one SIGINT to its group, as a terminal's Ctrl-C), waited for through its
teardown, and none left behind; a Ctrl-C to the parent reaches each running child once."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from harness import child_runs
from harness.waits import eventually

pytestmark = pytest.mark.unit

BOUND_S = 30.0  # a bound on a hang, not a measurement
TORN_DOWN = 7  # a child's exit code once it has finished its "teardown" after a SIGINT

# A child that says it started (a file), may wait for another child's start (so two of
# them can only both end when they run at the same time), then either exits with a
# given code or, with "hold", starts a grandchild in its own group (as xdist workers
# are) and waits for SIGINT, counting them, tears down (ends the grandchild) and exits 7.
CHILD = """
import pathlib, signal, subprocess, sys, time
me, wait_for, then = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
got = []
def on_sigint(signum, frame):
    got.append(signum)
    me.with_suffix(".sigints").write_text(str(len(got)))
signal.signal(signal.SIGINT, signal.SIG_IGN if then == "hold" else on_sigint)
grandchild = None
if then == "hold":
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    me.with_suffix(".grandchild").write_text(str(grandchild.pid))
    signal.signal(signal.SIGINT, on_sigint)
print("output of", me.name, flush=True)
me.write_text("started")
if wait_for != "-":
    deadline = time.monotonic() + 30
    while not pathlib.Path(wait_for).exists():
        if time.monotonic() > deadline:
            sys.exit(f"{me.name}: {wait_for} never appeared")
        time.sleep(0.02)
if then != "hold":
    sys.exit(int(then))
while not got:
    signal.pause()
grandchild.kill()
grandchild.wait()
sys.exit(7)
"""


def _child(tmp_path: pathlib.Path, name: str, then: str, wait_for: str = "-") -> child_runs.Child:
    argv = [sys.executable, "-c", CHILD, str(tmp_path / name), wait_for, then]
    return child_runs.Child(name, argv, tmp_path / "logs" / f"{name}.log")


class Stop(Exception):
    pass


def _alive(pid: int) -> bool:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_children_run_side_by_side_each_with_its_own_log(tmp_path: pathlib.Path) -> None:
    # Each waits for the other's start: both end only if they ran at the same time.
    a = _child(tmp_path, "a", "0", wait_for=str(tmp_path / "b"))
    b = _child(tmp_path, "b", "1", wait_for=str(tmp_path / "a"))
    events: list[str] = []
    ends = child_runs.run_side_by_side(
        [a, b],
        2,
        on_start=lambda c: events.append(f"start {c.label}"),
        on_end=lambda e: events.append(f"end {e.child.label}"),
        check=lambda e: None,
    )
    assert [(e.child.label, e.code, e.stopped) for e in ends] == [("a", 0, False), ("b", 1, False)]
    assert events[:2] == ["start a", "start b"]
    assert a.log.read_text() == "output of a\n"
    assert b.log.read_text() == "output of b\n"


def test_one_at_a_time_each_starts_after_the_last_ended(tmp_path: pathlib.Path) -> None:
    events: list[str] = []
    child_runs.run_side_by_side(
        [_child(tmp_path, name, "0") for name in ("a", "b", "c")],
        1,
        on_start=lambda c: events.append(f"start {c.label}"),
        on_end=lambda e: events.append(f"end {e.child.label}"),
        check=lambda e: None,
    )
    assert events == ["start a", "end a", "start b", "end b", "start c", "end c"]


def test_a_child_that_stops_the_run_stops_the_others_through_their_teardown(
    tmp_path: pathlib.Path,
) -> None:
    # given: a child holding a grandchild, running beside one that fails to set up
    # (exit 3, once the other has started), and a third not started yet
    held = _child(tmp_path, "held", "hold")
    broken = _child(tmp_path, "broken", "3", wait_for=str(tmp_path / "held.grandchild"))
    never = _child(tmp_path, "never", "0")
    ended: list[child_runs.Ended] = []

    def check(e: child_runs.Ended) -> None:
        if e.code == 3:
            raise Stop(e.child.label)

    # when: the failed child's end is judged a reason to stop
    with pytest.raises(Stop, match="broken"):
        child_runs.run_side_by_side(
            [held, broken, never], 2, on_start=lambda c: None, on_end=ended.append, check=check
        )
    # then: the held one got one SIGINT, tore down (exit 7), and nothing of it is left;
    # the third never started
    by_label = {e.child.label: e for e in ended}
    assert set(by_label) == {"held", "broken"}
    assert (by_label["held"].code, by_label["held"].stopped) == (TORN_DOWN, True)
    assert (by_label["broken"].code, by_label["broken"].stopped) == (3, False)
    assert (tmp_path / "held.sigints").read_text() == "1"
    assert not _alive(int((tmp_path / "held.grandchild").read_text()))
    assert not (tmp_path / "never").exists()


PARENT = """
import pathlib, sys
from harness import child_runs
tmp = pathlib.Path(sys.argv[1])
children = [
    child_runs.Child(name, [sys.executable, "-c", sys.argv[2], str(tmp / name), "-", "hold"],
              tmp / f"{name}.log")
    for name in ("a", "b")
]
try:
    child_runs.run_side_by_side(children, 2, on_start=lambda c: None,
                         on_end=lambda e: print(e.child.label, e.code, e.stopped, flush=True),
                         check=lambda e: None)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize(
    ("group", "sig"),
    [(True, signal.SIGINT), (False, signal.SIGINT), (False, signal.SIGTERM)],
    ids=["terminal-ctrl-c", "ctrl-c-to-the-parent-alone", "sigterm-to-the-parent"],
)
async def test_a_ctrl_c_reaches_every_running_child_once(
    tmp_path: pathlib.Path, group: bool, sig: signal.Signals
) -> None:
    """(A SIGTERM, e.g. a cancelled CI job, stops them the same way: without it the
    children, in their own groups, would run on without the parent.)"""
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(tmp_path), CHILD,
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )  # fmt: skip
    try:

        async def both_holding() -> bool | None:
            ready = all((tmp_path / f"{n}.grandchild").exists() for n in ("a", "b"))
            return True if ready and all((tmp_path / n).exists() for n in ("a", "b")) else None

        await eventually(both_holding, timeout_s=BOUND_S, pending=lambda: "both children")
        if group:
            os.killpg(parent.pid, sig)
        else:
            os.kill(parent.pid, sig)
        out, _ = await asyncio.wait_for(parent.communicate(), BOUND_S)
    finally:
        if parent.returncode is None:
            os.killpg(parent.pid, signal.SIGKILL)
            await parent.wait()
    assert parent.returncode == 130
    assert sorted(out.decode().split("\n")[:2]) == [f"a {TORN_DOWN} True", f"b {TORN_DOWN} True"]
    for name in ("a", "b"):
        assert (tmp_path / f"{name}.sigints").read_text() == "1"
        assert not _alive(int((tmp_path / f"{name}.grandchild").read_text()))
