"""Child processes the commands run to their end: one in the foreground (the gate,
a budget run), or several side by side, each in its own process group with its output
in a file (certify's gates). Either way a Ctrl-C, a SIGTERM or a closed terminal
reaches the children and this process waits for their teardown, so no server of
theirs outlives the command."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A Ctrl-C sent to this process alone (``kill -INT PID``, not the terminal's, which
# reaches the whole group) is passed on to a child still running this long after it:
# longer than the teardown a group Ctrl-C starts (about 2 s measured with two xdist
# workers), so a child that got the terminal's Ctrl-C is not interrupted twice, which
# would cut its teardown short.
FORWARD_SIGINT_AFTER_S = 20.0


def run_to_end(argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run a child to its end and return its exit code. Ctrl-C reaches the child too
    (the terminal signals the whole foreground group); this process then waits for
    the child to finish its teardown instead of leaving it behind:
    ``subprocess.run`` would SIGKILL it 0.25 s after the interrupt, orphaning its xdist
    workers, which then tear their stacks down (and print) after the prompt is back."""
    interrupted_at: float | None = None

    def interrupted(signum: int, frame: object) -> None:
        nonlocal interrupted_at
        interrupted_at = interrupted_at or time.monotonic()

    child = subprocess.Popen(list(argv), env=env)
    previous = signal.signal(signal.SIGINT, interrupted)
    forwarded = False
    try:
        while True:
            try:
                # Bounded only so that a Ctrl-C sent to this process alone is passed
                # on once FORWARD_SIGINT_AFTER_S have gone by without the child ending.
                return child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                waited = time.monotonic() - (interrupted_at or time.monotonic())
                if not forwarded and waited >= FORWARD_SIGINT_AFTER_S:
                    child.send_signal(signal.SIGINT)
                    forwarded = True
    finally:
        signal.signal(signal.SIGINT, previous)
        if child.poll() is None:  # an exception other than Ctrl-C left it running
            child.kill()
            child.wait()


@dataclass(frozen=True)
class Child:
    """One child of ``run_side_by_side``: its command line, environment, and the file
    its output (stdout and stderr) goes to."""

    label: str
    argv: Sequence[str]
    log: pathlib.Path
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class Ended:
    """How a child of ``run_side_by_side`` ended: its exit code (negative: the signal
    that ended it), its wall time, and whether this process had told it to stop (another
    child's end stopped the run, or a Ctrl-C)."""

    child: Child
    code: int
    seconds: float
    stopped: bool


# A child told to stop (SIGINT to its process group, as a terminal's Ctrl-C) is given
# this long to tear its stacks down (about 2 s measured for a gate with two xdist
# workers) before its group is killed: a bound on a hang, so that certify still ends.
STOP_BOUND_S = 120.0


def run_side_by_side(
    children: Sequence[Child],
    parallel: int,
    *,
    on_start: Callable[[Child], None],
    on_end: Callable[[Ended], None],
    check: Callable[[Ended], None],
) -> list[Ended]:
    """Run ``children`` up to ``parallel`` at once, in order, each to its end; return
    how each ended, in the order given.

    ``on_start`` and ``on_end`` are told of each start and end (to print them);
    ``check`` judges each end as it comes and may raise to stop the run: the children
    still running are then told to stop and waited for, those not started never start,
    and the exception goes on. Each child runs in its own process group, so that one can
    be stopped the way a terminal's Ctrl-C stops it (SIGINT to the child and its xdist
    workers), its teardown included, without touching the others. A Ctrl-C to this
    process (the terminal's, which no longer reaches the children, or one sent to it
    alone) is passed on to every running child's group once, at once, and once they have
    all ended, raises KeyboardInterrupt; so are a SIGTERM (a CI job cancelled) and a
    SIGHUP (the terminal closed), which would otherwise end this process alone and leave
    the children, in their own groups, running without it."""
    if parallel < 1:
        raise ValueError(f"parallel={parallel}: give 1 or more")
    queue = list(enumerate(children))
    running: dict[subprocess.Popen[bytes], tuple[int, float]] = {}  # position, start
    told: set[int] = set()  # the pids whose group got its SIGINT (never a second one)
    ended: dict[int, Ended] = {}  # by position in ``children``
    interrupted = False

    def tell(proc: subprocess.Popen[bytes], sig: int) -> None:
        if sig == signal.SIGINT:
            if proc.pid in told:
                return
            told.add(proc.pid)
        with contextlib.suppress(ProcessLookupError):  # the group has gone already
            os.killpg(proc.pid, sig)

    def on_stop(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        for proc in list(running):
            tell(proc, signal.SIGINT)

    def finish(proc: subprocess.Popen[bytes], code: int) -> Ended:
        at, began = running.pop(proc)
        done = Ended(children[at], code, time.monotonic() - began, stopped=proc.pid in told)
        ended[at] = done
        on_end(done)
        return done

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_stop) for sig in stops}
    try:
        while queue or running:
            while queue and len(running) < parallel and not interrupted:
                at, child = queue.pop(0)
                child.log.parent.mkdir(parents=True, exist_ok=True)
                with child.log.open("wb") as log:
                    proc = subprocess.Popen(
                        list(child.argv),
                        env=child.env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        process_group=0,
                    )
                running[proc] = (at, time.monotonic())
                if interrupted:  # a Ctrl-C came while it was starting
                    tell(proc, signal.SIGINT)
                on_start(child)
            if interrupted and not running:
                break
            done = [(p, c) for p in list(running) if (c := p.poll()) is not None]
            for proc, code in done:
                check(finish(proc, code))
            if not done:
                # Bounded: another child's end is seen within this long.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    next(iter(running)).wait(timeout=0.2)
        if interrupted:
            raise KeyboardInterrupt
        return [ended[i] for i in range(len(children))]
    finally:
        # Stopped early (``check`` raised, a Ctrl-C, a crash here): every child still
        # running is told to stop and waited for, so none is left behind.
        for proc in running:
            if proc.poll() is None:  # (one that has ended is not signalled: its pid is free)
                tell(proc, signal.SIGINT)
        deadline = time.monotonic() + STOP_BOUND_S
        for proc in list(running):
            try:
                code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                tell(proc, signal.SIGKILL)
                code = proc.wait()
            finish(proc, code)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
