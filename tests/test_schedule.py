"""The xdist scheduling of the gate (harness/schedule.py): the costliest scenarios are
dealt out one at a time, round robin, and every later one goes to the first free worker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness import schedule


class _Config:
    """What LoadScheduling reads of pytest's config."""

    def __init__(self, workers: int, maxschedchunk: int | None = None, dist: str = "load") -> None:
        self._options: dict[str, Any] = {
            "tx": [f"{workers}*popen"],
            "maxschedchunk": maxschedchunk,
            "dist": dist,
        }

    def getvalue(self, name: str) -> Any:
        return self._options[name]

    getoption = getvalue


class _Node:
    """A worker as the scheduler sees it: what it was sent, in order."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def _started(tests: int, workers: int = 2) -> tuple[schedule.CostFirstScheduling, list[_Node]]:
    sched = schedule.make_scheduler(_Config(workers), None)  # type: ignore[arg-type]
    assert sched is not None
    nodes = [_Node(f"gw{i}") for i in range(workers)]
    collection = [f"test_{i}" for i in range(tests)]
    for node in nodes:
        sched.add_node(node)
    for node in nodes:
        sched.add_node_collection(node, collection)
    sched.schedule()
    return sched, nodes


def test_the_costliest_are_dealt_round_robin_one_running_one_queued_each() -> None:
    _, (a, b) = _started(20)
    # the collection is already costliest first: the two costliest start at once
    assert a.sent == [0, 2]
    assert b.sent == [1, 3]


def test_a_worker_that_finishes_gets_the_next_test_one_at_a_time() -> None:
    sched, (a, b) = _started(20)
    sched.mark_test_complete(b, 1, duration=0.2)
    assert b.sent == [1, 3, 4]
    sched.mark_test_complete(b, 3, duration=0.2)
    sched.mark_test_complete(a, 0, duration=5.0)
    assert b.sent == [1, 3, 4, 5]
    assert a.sent == [0, 2, 6]


def test_a_few_tests_are_left_to_xdist() -> None:
    _, (a, b) = _started(3)
    assert sorted(a.sent + b.sent) == [0, 1, 2]
    assert a.shutting_down
    assert b.shutting_down


@pytest.mark.parametrize("dist", ["loadscope", "loadfile", "worksteal", "each"])
def test_other_distribution_modes_are_xdist_own(dist: str) -> None:
    assert schedule.make_scheduler(_Config(2, dist=dist), None) is None  # type: ignore[arg-type]


def test_a_chunk_given_on_the_command_line_is_kept() -> None:
    sched = schedule.make_scheduler(_Config(2, maxschedchunk=4), None)  # type: ignore[arg-type]
    assert sched is not None
    assert sched.maxschedchunk == 4
