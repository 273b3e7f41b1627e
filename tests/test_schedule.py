"""The xdist scheduling of the gate (harness/schedule.py): the costliest scenarios are
dealt out one at a time, round robin, and every later one goes to the first free worker."""

from __future__ import annotations

import pathlib
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

    def __init__(self, name: str, sent: list[int] | None = None) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = list(sent or [])
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def _started(
    tests: int, workers: int = 2, kinds: list[str] | None = None, tmp: pathlib.Path | None = None
) -> tuple[schedule.CostFirstScheduling, list[_Node]]:
    """A scheduler that has dealt ``tests`` out to ``workers``; ``kinds``: each test's
    kind of stack, as the workers write them into ``tmp``."""
    collection = [f"test_{i}" for i in range(tests)]
    if kinds is not None:
        assert tmp is not None
        for i in range(workers):
            schedule.write_labels(tmp, f"gw{i}", dict(zip(collection, kinds, strict=True)))
    sched = schedule.make_scheduler(_Config(workers), None, tmp)  # type: ignore[arg-type]
    assert sched is not None
    nodes = [_Node(f"gw{i}") for i in range(workers)]
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


def _run(sched: schedule.CostFirstScheduling, nodes: list[_Node]) -> None:
    """Every worker completes what it was sent, in turn, until nothing is left."""
    done: set[tuple[int, int]] = set()
    progress = True
    while progress:
        progress = False
        for node in nodes:
            for index in list(node.sent):
                if (id(node), index) not in done and index in sched.node2pending[node]:
                    done.add((id(node), index))
                    sched.mark_test_complete(node, index, duration=1.0)
                    progress = True
                    break


def _kinds_of(node: _Node, kinds: list[str]) -> set[str]:
    return {kinds[i] for i in node.sent if kinds[i]}


def test_each_kind_of_stack_is_started_on_one_worker(tmp_path: pathlib.Path) -> None:
    # costliest first, interleaved as the slow markers leave them; "" needs no stack
    kinds = ["real", "chaos", "", "real", "chaos", "default"] + ["real", "chaos", "default"] * 4
    sched, (a, b) = _started(len(kinds), kinds=kinds, tmp=tmp_path)
    _run(sched, [a, b])
    assert sorted(a.sent + b.sent) == list(range(len(kinds)))  # each test once
    # until the tail, where an idle worker takes whatever is left
    assert _kinds_of(_Node("head", a.sent[:6]), kinds).isdisjoint(
        _kinds_of(_Node("head", b.sent[:6]), kinds)
    )
    assert a.sent[0] == 0  # the costliest still start at once
    assert b.sent[0] == 1


def test_a_worker_whose_kinds_are_done_takes_another_kind_rather_than_wait(
    tmp_path: pathlib.Path,
) -> None:
    kinds = ["chaos"] * 4 + ["real"] * 2 + ["chaos"] * 4
    sched, (a, b) = _started(len(kinds), kinds=kinds, tmp=tmp_path)
    assert a.sent == [0, 1]  # a claims chaos ...
    assert b.sent == [4, 5]  # ... b takes the real server's tests past a's
    sched.mark_test_complete(b, 4, duration=1.0)
    # b holds one test, which an xdist worker starts only once it holds the next: no
    # real test is left, so it gets chaos, the kind with most tests pending, not nothing
    assert b.sent == [4, 5, 2]
    _run(sched, [a, b])
    assert sorted(a.sent + b.sent) == list(range(len(kinds)))


def test_without_the_workers_kinds_every_test_goes_to_the_first_free_worker(
    tmp_path: pathlib.Path,
) -> None:
    _, (a, b) = _started(20, tmp=tmp_path)  # no file written: as before
    assert a.sent == [0, 2]
    assert b.sent == [1, 3]


def test_the_kinds_of_a_crashed_worker_go_to_the_others(tmp_path: pathlib.Path) -> None:
    kinds = ["real", "chaos"] + ["real"] * 6
    sched, (a, b) = _started(len(kinds), kinds=kinds, tmp=tmp_path)
    assert a.sent == [0, 2]  # a has the real server
    sched.remove_node(a)  # a crashed in test 0: test 2 is pending again
    assert b.sent == [1, 3]  # b takes the real tests now, with nobody else to run them
    _run(sched, [b])
    assert sorted(b.sent) == list(range(1, len(kinds)))  # test 0: the crash, reported


def test_a_worker_is_never_left_idle_while_tests_are_pending(tmp_path: pathlib.Path) -> None:
    # A few tests of one kind (``-k``): xdist deals them all out at once and shuts the
    # workers down; one left without a test would keep the run from ending when the
    # first stack cannot start (the controller stops the run, the idle worker waits).
    _, (a, b) = _started(3, kinds=["default"] * 3, tmp=tmp_path)
    assert sorted(a.sent + b.sent) == [0, 1, 2]
    assert a.sent
    assert b.sent
    assert a.shutting_down
    assert b.shutting_down
