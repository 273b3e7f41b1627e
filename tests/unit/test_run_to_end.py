"""A command that runs a child (the gate's pytest, certify's runs) waits for it after
Ctrl-C, and the child gets exactly one SIGINT: the terminal's (sent to the whole
group), or, sent to the parent alone, the one the parent passes on."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys
import time

import pytest

from harness.waits import eventually

pytestmark = pytest.mark.unit

FORWARD_AFTER_S = 2.0  # the parent's FORWARD_SIGINT_AFTER_S in these runs
BOUND_S = 30.0  # a bound on a hang, not a measurement
TORN_DOWN = 7  # the child's exit code once it has finished its "teardown"

# A child that counts the SIGINTs it gets and, after the first, takes a moment to tear
# down (shorter than the forward delay: a second SIGINT would be a duplicate).
CHILD = """
import pathlib, signal, sys, time
count, ready = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
got = []
def on_sigint(signum, frame):
    got.append(signum)
    count.write_text(str(len(got)))
signal.signal(signal.SIGINT, on_sigint)
ready.write_text("ready")
while not got:
    signal.pause()
end = time.monotonic() + 0.3  # the teardown's length, held on purpose
while time.monotonic() < end:
    time.sleep(0.02)
sys.exit(7)
"""

PARENT = (
    "import sys; from harness import child_runs; "
    f"child_runs.FORWARD_SIGINT_AFTER_S = {FORWARD_AFTER_S}; "
    "sys.exit(child_runs.run_to_end(sys.argv[1:]))"
)


async def _run(tmp_path: pathlib.Path, *, group: bool) -> tuple[int, int, float]:
    count, ready = tmp_path / "count", tmp_path / "ready"
    parent = await asyncio.create_subprocess_exec(
        *[sys.executable, "-c", PARENT, sys.executable, "-c", CHILD, str(count), str(ready)],
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:

        async def started() -> bool | None:
            return True if ready.exists() else None

        await eventually(started, timeout_s=BOUND_S, pending=lambda: "the child to start")
        t0 = time.monotonic()
        if group:
            os.killpg(parent.pid, signal.SIGINT)
        else:
            os.kill(parent.pid, signal.SIGINT)
        code = await asyncio.wait_for(parent.wait(), BOUND_S)
        return code, int(count.read_text()), time.monotonic() - t0
    finally:
        if parent.returncode is None:
            os.killpg(parent.pid, signal.SIGKILL)
            await parent.wait()


async def test_a_terminal_ctrl_c_is_not_passed_on_a_second_time(tmp_path: pathlib.Path) -> None:
    code, sigints, _ = await _run(tmp_path, group=True)
    assert code == TORN_DOWN  # waited for the child's teardown, never killed it
    assert sigints == 1


async def test_a_ctrl_c_to_the_parent_alone_reaches_the_child(tmp_path: pathlib.Path) -> None:
    code, sigints, took = await _run(tmp_path, group=False)
    assert code == TORN_DOWN
    assert sigints == 1
    assert took >= FORWARD_AFTER_S  # passed on only once a group's Ctrl-C would be over
