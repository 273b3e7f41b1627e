"""The order in which a run hands its scenarios to xdist workers: the costliest first,
one at a time, so that no worker is left with a long scenario when the others are done.

A scenario's cost is what it declares (``@pytest.mark.slow(seconds)``: how long it
takes in wall time by design, its comments say why), never a measured time: the order
is the same on every machine and every worker, as xdist requires of a collection.

xdist's default ``load`` scheduling hands each worker a batch of consecutive tests
first (a quarter of its share) and then refills it a few at a time: with the costliest
first, one worker's first batch would be the few longest scenarios while the other's is
the next few. ``CostFirstScheduling`` hands them out one at a time instead (one
running, one queued per worker), alternating, so the two costliest start at once on two
workers and each later test goes to whichever worker is free first (longest
processing time first: the tail is one short test, not a long one).

Each worker starts a stack of a kind (``@pytest.mark.stack``: a real server, a chaos
stack, ...) when its first test of that kind runs, 1-5 s each. Sent anywhere, every
worker would start every kind. So a worker is sent the first pending test of a kind it
has already started, or of a kind no worker has started yet (it claims the kind), or
one that needs no pooled stack. Only a worker with none of those pending takes
another's kind (a second start of it): the kind with the most tests pending, whose
second stack serves the most. It is never sent nothing while tests are pending: an
xdist worker starts a test only once it holds the next one (pytest's ``nextitem``), so
a worker sent nothing would sit on its queued test until the run ends (measured: one
worker idle for 17-22 s of the other's tests). The workers write
each test's kind (``stack_label``) into a file the controller reads
(``write_labels``): xdist's controller sees test ids, never their markers.
"""

from __future__ import annotations

import json
import pathlib
from collections import Counter
from typing import Any

import pytest

# xdist has annotations but ships no py.typed marker: its scheduler is Any to mypy.
from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]


def declared_cost_s(item: pytest.Item) -> float:
    """The seconds the scenario declares it takes by design (0: none declared)."""
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker is not None and marker.args else 0.0


LABELS_DIR = "handshake_stack_labels_dir"  # the workerinput key: where workers write kinds


def write_labels(directory: pathlib.Path, worker: str, labels: dict[str, str]) -> None:
    """A worker's map of test id to the kind of stack the test starts ("": none)."""
    (directory / f"{worker}.json").write_text(json.dumps(labels))


def read_labels(directory: pathlib.Path | None, worker: str) -> dict[str, str]:
    """What ``write_labels`` wrote for ``worker``; empty (every test free to go to any
    worker, as without kinds) when there is none."""
    if directory is None:
        return {}
    try:
        found = json.loads((directory / f"{worker}.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def costliest_first(items: list[pytest.Item]) -> None:
    """Sort ``items`` in place by declared cost, highest first (a stable sort: the
    rest keep their collection order)."""
    items.sort(key=lambda item: -declared_cost_s(item))


class CostFirstScheduling(LoadScheduling):  # type: ignore[misc]
    """``load`` scheduling that sends one test at a time (``--maxschedchunk 1`` unless
    given), starting with one each, round robin, over the collection's own order."""

    # LoadScheduling's own attributes (set in its __init__), as this class uses them.
    maxschedchunk: int | None
    collection: list[str] | None
    pending: list[int]

    node2pending: dict[Any, list[int]]

    def __init__(
        self, config: pytest.Config, log: Any = None, labels_dir: pathlib.Path | None = None
    ) -> None:
        super().__init__(config, log)
        if self.maxschedchunk is None:
            self.maxschedchunk = 1
        self.labels_dir = labels_dir
        self._labels: list[str] | None = None  # each collection index's kind of stack
        self._kinds: dict[Any, set[str]] = {}  # node -> the kinds of stack it started

    def _label(self, index: int) -> str:
        if self._labels is None:
            assert self.collection is not None
            first = next(iter(self.node2collection))
            found = read_labels(self.labels_dir, str(first.gateway.id))
            self._labels = [found.get(test, "") for test in self.collection]
        return self._labels[index]

    def _next_for(self, node: Any) -> int | None:
        """The pending test to send ``node`` next (module docstring); None: none left."""
        mine = self._kinds.setdefault(node, set())
        claimed = set().union(*self._kinds.values())
        for index in self.pending:
            label = self._label(index)
            if not label or label in mine or label not in claimed:
                return index
        if not self.pending:
            return None
        # None of its kinds left: the kind with the most tests pending (see above).
        label = Counter(self._label(index) for index in self.pending).most_common(1)[0][0]
        return next(index for index in self.pending if self._label(index) == label)

    def remove_node(self, node: Any) -> str | None:
        """xdist's, the node's kinds of stack released first: its tests, put back in
        the queue, go to a worker that has their stack or to the first free one."""
        self._kinds.pop(node, None)
        crashed: str | None = super().remove_node(node)
        return crashed

    def _send_tests(self, node: Any, num: int) -> None:
        """LoadScheduling's, one test at a time, each chosen by ``_next_for``."""
        for _ in range(num):
            index = self._next_for(node)
            if index is None:
                return
            self.pending.remove(index)
            self.node2pending[node].append(index)
            if self._label(index):
                self._kinds[node].add(self._label(index))
            node.send_runtest_some([index])

    def schedule(self) -> None:
        if self.collection is not None:
            super().schedule()  # later calls: refill every worker, as xdist does
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")  # as xdist does
            return
        collection = next(iter(self.node2collection.values()))
        if len(collection) < 2 * len(self.nodes):
            super().schedule()  # a few tests: xdist deals them out and shuts down
            return
        self.collection = collection
        self.pending[:] = range(len(collection))
        # Two each (one running, one queued, as xdist keeps), dealt round robin.
        for _ in range(2):
            for node in self.nodes:
                self._send_tests(node, 1)


def make_scheduler(
    config: pytest.Config, log: Any, labels_dir: pathlib.Path | None = None
) -> CostFirstScheduling | None:
    """The scheduler for ``--dist load`` (what ``-n`` means without ``--dist``); None
    leaves any other distribution mode to xdist. ``labels_dir``: where the workers write
    their tests' kinds of stack (``write_labels``)."""
    if config.getoption("dist") != "load":
        return None
    return CostFirstScheduling(config, log, labels_dir)
