"""Child runs the tests start (a pytest, a load run): bounded, and interrupted with
SIGINT past the bound so that they tear their stacks down (a SIGKILL would orphan
their servers); killed only if the interrupt is not obeyed either."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import pathlib
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

import pytest

from harness.servers.procs import sigint_restored

ROOT = pathlib.Path(__file__).resolve().parent.parent
INTERRUPT_BOUND_S = 90  # for the teardown after the SIGINT, not a measurement


def run_to_end(
    argv: Sequence[str],
    *,
    bound_s: float,
    env: Mapping[str, str] | None = None,
    merge_stderr: bool = False,
) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run ``argv`` from the repository root to its end, or interrupt it past ``bound_s``
    (then True with what it wrote): usable off the test's thread, where pytest.fail
    would not fail the test."""
    proc = subprocess.Popen(
        sigint_restored(argv),
        cwd=ROOT,
        env=None if env is None else dict(env),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
    )
    hung = False
    try:
        out, err = proc.communicate(timeout=bound_s)
    except subprocess.TimeoutExpired:
        hung = True
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=INTERRUPT_BOUND_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err or ""), hung


def hung_message(argv: Sequence[str], bound_s: float, output: str) -> str:
    return f"still going after {bound_s:.0f} s: {' '.join(argv[1:6])}\n{output[-3000:]}"


def run_bounded(
    argv: Sequence[str],
    *,
    bound_s: float,
    env: Mapping[str, str] | None = None,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` from the repository root to its end, or fail the test naming it
    (and its output's tail) if it is still going after ``bound_s``."""
    done, hung = run_to_end(argv, bound_s=bound_s, env=env, merge_stderr=merge_stderr)
    if hung:
        pytest.fail(hung_message(argv, bound_s, done.stdout))
    return done


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


@dataclasses.dataclass(frozen=True)
class Child:
    """A child run a test judges: its command line and environment."""

    argv: list[str]
    env: dict[str, str]
    # Run with no other child of the pool at the same time: a case whose outcome the
    # load of the others was seen to change. Never taken ahead; run by its own test.
    alone: bool = False


class RunsAhead:
    """Child runs started ahead of the tests that judge them, on threads of this process.

    A mutant case is a child pytest that mostly waits (on its stack's startup, and on
    the timeouts by which a broken service shows), so a worker running them one at a
    time sat idle. Here ``threads`` threads of each worker take cases ahead, last first,
    while the worker's tests reach them in order; a test takes its case itself if no
    one has yet, else waits for its result. Whoever runs a case claims it first (a
    directory made in ``shared``, which every xdist worker of the run sees), so each
    runs once; the test still judges it as if it had run it (exit code and output).
    """

    def __init__(
        self, shared: pathlib.Path, children: Mapping[str, Child], *, bound_s: float, threads: int
    ) -> None:
        shared.mkdir(parents=True, exist_ok=True)
        self.shared = shared
        self.children = dict(children)
        self.bound_s = bound_s
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._ahead, name=f"runs-ahead-{i}", daemon=True)
            for i in range(threads)
        ]

    def __enter__(self) -> RunsAhead:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # No new case after the session's last test here; the ones running are waited
        # for (a test on another worker may be waiting for them, and a child left
        # running would outlive the worker).
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _claim(self, key: str) -> bool:
        try:
            (self.shared / key).mkdir(parents=True)
        except FileExistsError:
            return False
        return True

    def _run(self, key: str) -> None:
        child = self.children[key]
        result: dict[str, object]
        began = time.monotonic()
        try:
            with (self.shared / "alone.lock").open("a") as lock:
                # Shared by the pool's children, exclusive for one that runs alone
                # (it waits for the running ones to end; new ones wait for it).
                fcntl.flock(lock, fcntl.LOCK_EX if child.alone else fcntl.LOCK_SH)
                began = time.monotonic()
                done, hung = run_to_end(child.argv, bound_s=self.bound_s, env=child.env)
            result = {"returncode": done.returncode, "output": done.stdout + done.stderr}
            result["hung"] = hung
        except Exception as err:  # recorded for the test that judges it, on any thread
            result = {"returncode": None, "output": f"the child did not run: {err!r}"}
            result["hung"] = False
        # For whoever measures where the module's time goes: never judged.
        result["elapsed_s"] = round(time.monotonic() - began, 3)
        path = self.shared / key / "result.json"
        path.with_suffix(".tmp").write_text(json.dumps(result))
        path.with_suffix(".tmp").replace(path)  # whole or not there, for a waiting test

    def _ahead(self) -> None:
        for key in reversed(self.children):
            if self._stop.is_set():
                return
            if not self.children[key].alone and self._claim(key):
                self._run(key)

    def result(self, key: str) -> tuple[int | None, str]:
        """``key``'s exit code and output: run here if no one has taken it yet, else
        waited for (bounded: a run that never ends was interrupted by its runner)."""
        if self._claim(key):
            self._run(key)
        path = self.shared / key / "result.json"
        limit = time.monotonic() + self.bound_s + INTERRUPT_BOUND_S + 60
        pause = threading.Event()
        while not path.exists():
            if time.monotonic() > limit:
                pytest.fail(f"no result of the child run {key}, taken ahead, in {path}")
            pause.wait(0.2)  # polls a file another process may write: no event to wait on
        got = json.loads(path.read_text())
        if got["hung"]:
            pytest.fail(hung_message(self.children[key].argv, self.bound_s, got["output"]))
        return got["returncode"], got["output"]
