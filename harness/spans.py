"""Where a test's time goes, as it happens: phase spans summed per process.

The harness's layers open a span around what a durations table shows apart (a stack's
start in ``harness.stack.pool``, every real-time wait in ``harness.waits``, the
after-scenario judgement in ``harness.judge.after_scenario``); the pytest plugin takes
the sums at each of a test's reports (``harness.measure.durations``). A base module,
with no harness import: every layer may open a span.

One ``Recorder`` per process (``RECORDER``): pytest runs one test at a time in a
process (an xdist worker too), so what was summed between two of a test's reports is
that test's. Spans of one phase that overlap (waits under ``asyncio.gather``) count
once: a phase's figure is the wall time during which at least one of its spans was
open, never more than the wall time that passed.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator

STACK_START = "stack_start"  # a stack's first use: every service started until SERVING
WAIT = "wait"  # inside a wait on real time (harness.waits)
JUDGE = "judge"  # the after-scenario checks


class Recorder:
    """Sums of phase spans since the last ``take``. Cheap: a clock read and a dict
    update per span, under a lock (a wait may run on another thread's loop)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, float]] = {}  # phase -> (open spans, since)
        self._done: dict[str, float] = {}

    @contextlib.contextmanager
    def span(self, phase: str) -> Iterator[None]:
        with self._lock:
            depth, since = self._open.get(phase, (0, 0.0))
            self._open[phase] = (depth + 1, self._clock() if depth == 0 else since)
        try:
            yield
        finally:
            with self._lock:
                depth, since = self._open[phase]
                if depth == 1:
                    del self._open[phase]
                    self._done[phase] = self._done.get(phase, 0.0) + self._clock() - since
                else:
                    self._open[phase] = (depth - 1, since)

    def take(self) -> dict[str, float]:
        """Seconds per phase since the last take (a span still open counts up to now,
        the rest of it goes to the next take); starts the sums again."""
        with self._lock:
            now = self._clock()
            taken, self._done = self._done, {}
            for phase, (depth, since) in self._open.items():
                taken[phase] = taken.get(phase, 0.0) + now - since
                self._open[phase] = (depth, now)
            return taken


RECORDER = Recorder()

# Work done in the background of whatever test is running (a stack started ahead of
# the tests that will use it) is none of that test's phases: its spans are not recorded.
_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("background", default=False)


def span(phase: str) -> contextlib.AbstractContextManager[None]:
    """A span of ``phase`` on this process's recorder (none in the background)."""
    if _BACKGROUND.get():
        return contextlib.nullcontext()
    return RECORDER.span(phase)


def background() -> None:
    """From now on in this context (an asyncio task's own), spans are not recorded."""
    _BACKGROUND.set(True)
