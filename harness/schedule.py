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
"""

from __future__ import annotations

from typing import Any

import pytest

# xdist has annotations but ships no py.typed marker: its scheduler is Any to mypy.
from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]


def declared_cost_s(item: pytest.Item) -> float:
    """The seconds the scenario declares it takes by design (0: none declared)."""
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker is not None and marker.args else 0.0


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

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        if self.maxschedchunk is None:
            self.maxschedchunk = 1

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


def make_scheduler(config: pytest.Config, log: Any) -> CostFirstScheduling | None:
    """The scheduler for ``--dist load`` (what ``-n`` means without ``--dist``); None
    leaves any other distribution mode to xdist."""
    if config.getoption("dist") != "load":
        return None
    return CostFirstScheduling(config, log)
