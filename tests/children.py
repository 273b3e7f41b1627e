"""Child runs the tests start (a pytest, a load run): bounded, and interrupted with
SIGINT past the bound so that they tear their stacks down (a SIGKILL would orphan
their servers); killed only if the interrupt is not obeyed either."""

from __future__ import annotations

import pathlib
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

import pytest

from harness.servers.procs import sigint_restored

ROOT = pathlib.Path(__file__).resolve().parent.parent
INTERRUPT_BOUND_S = 90  # for the teardown after the SIGINT, not a measurement


def run_bounded(
    argv: Sequence[str],
    *,
    bound_s: float,
    env: Mapping[str, str] | None = None,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` from the repository root to its end, or fail the test naming it
    (and its output's tail) if it is still going after ``bound_s``."""
    proc = subprocess.Popen(
        sigint_restored(argv),
        cwd=ROOT,
        env=None if env is None else dict(env),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=bound_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=INTERRUPT_BOUND_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"still going after {bound_s:.0f} s: {' '.join(argv[1:6])}\n{out[-3000:]}")
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err or "")


def run_printed(
    command: str, *extra: str, bound_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command as the harness prints it (a report's reproduce line), with
    ``extra`` arguments appended; its ``.venv/bin/python`` is this interpreter, since a
    test may run from another venv."""
    argv = shlex.split(command)
    if argv and argv[0] == ".venv/bin/python":
        argv[0] = sys.executable
    return run_bounded([*argv, *extra], bound_s=bound_s, env=env)
