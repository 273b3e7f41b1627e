"""What each scenario needs of a target: every spec has an entry, and a target lacking
something lists the spec as not certified, naming the need."""

from __future__ import annotations

import ast
import pathlib

import pytest

from harness.target import needs, profile
from harness.target.needs import NEEDS, SCENARIOS

pytestmark = pytest.mark.unit

SCENARIO_DIR = pathlib.Path(__file__).resolve().parents[2] / "scenarios"

BARE = {
    "temporal": "t:7233",
    "namespace": "cert",
    "allowed-namespaces": ["cert"],
    "zigflow-task-queue": "zq",
    "agent-task-queue": "aq",
}


def _tests_in(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_scenario_file_has_an_entry() -> None:
    files = {p.name for p in SCENARIO_DIR.glob("test_*.py")}
    assert files - set(SCENARIOS) == set(), (
        "scenario files without needs: add them to harness/target/needs.py SCENARIOS"
    )
    assert set(SCENARIOS) - files == set(), "entries for scenario files that are gone"


@pytest.mark.parametrize("file", sorted(SCENARIOS))
def test_every_test_of_a_file_has_an_entry_and_no_entry_is_stale(file: str) -> None:
    tests = _tests_in(SCENARIO_DIR / file)
    assert tests - set(SCENARIOS[file]) == set(), f"{file}: tests without needs"
    assert set(SCENARIOS[file]) - tests == set(), f"{file}: entries for tests that are gone"


def test_the_vocabulary_is_closed() -> None:
    used = {n for tests in SCENARIOS.values() for entry in tests.values() for n in entry.needs}
    assert used <= set(NEEDS)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        needs._n("hooks:kil")


def test_the_local_stack_runs_every_scenario() -> None:
    for clock in (True, False):
        assessed = needs.assess(needs.provided_locally(virtual_clock=clock))
        assert [a.test for a in assessed if not a.runs] == [], clock


def test_a_bare_target_lists_what_it_cannot_certify_and_why() -> None:
    bare = profile.parse("bare", BARE)
    have = needs.provided(bare)
    assert have == {"real_clock"}
    assessed = {a.test: a for a in needs.assess(have)}
    assert assessed[
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once"
    ].runs
    killed = assessed[
        "test_restarts.py::test_stigma_killed_after_ack_before_agent_starts_still_delivers_once"
    ]
    assert killed.missing == ["kill:stigma"]
    assert killed.reason() == "not certified on this target: needs kill:stigma"
    # every process, network, relay and probe spec is listed, none silently dropped
    assert len(assessed) == sum(len(t) for t in SCENARIOS.values())
    assert not assessed[
        "test_network.py::test_zigflow_cut_off_from_temporal_resumes_after_heal"
    ].runs


def test_hooks_and_proxies_provide_kills_pauses_and_links() -> None:
    full = profile.parse(
        "full",
        {
            **BARE,
            "stigma-address": "stigma:50051",
            "zigflow-max-concurrent-activities": 4,
            "toxiproxy": {"admin-url": "http://tp:8474", "proxies": {"stigma_grpc": "sg"}},
            "stigma": {"kill": "k", "restart": "r", "pause": "p", "resume": "u", "ready": "x"},
            "zigflow": {"kill": "k", "start": "s", "ready-grpc-health": "zigflow:8081"},
        },
    )
    have = needs.provided(full)
    assert have == {
        "real_clock",
        "stigma_address",
        "zigflow_slots",
        "link:stigma_grpc",
        "kill:stigma",
        "pause:stigma",
        "kill:zigflow",
    }
    assert needs.missing(
        ["link:stigma_grpc", "link:stigma_temporal", "relay:completion"], have
    ) == [
        "link:stigma_temporal",
        "relay:completion",
    ]
    entry = SCENARIOS["test_restarts.py"][
        "test_stigma_killed_before_the_ack_is_retried_with_a_new_token"
    ]
    assert entry.hooks() == [
        "stigma.kill",
        "stigma.start|restart",
        "stigma.ready",
        "stigma.pause",
        "stigma.resume",
    ]


def _stack_marks(path: pathlib.Path) -> dict[str, set[str]]:
    """Per test of a scenario file, what its ``@pytest.mark.stack(...)`` (its own or the
    file's ``pytestmark``) switches on, and the fixtures it takes."""

    def marked(node: ast.AST) -> set[str]:
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        return {
            k.arg
            for c in calls
            if isinstance(c.func, ast.Attribute) and c.func.attr == "stack"
            for k in c.keywords
            if k.arg and isinstance(k.value, ast.Constant) and k.value.value is True
        }

    tree = ast.parse(path.read_text())
    module = set().union(
        *(
            marked(n)
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
        )
    )
    return {
        node.name: module
        | set().union(*(marked(d) for d in node.decorator_list))
        | {a.arg for a in node.args.args}
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


@pytest.mark.parametrize("file", sorted(SCENARIOS))
def test_the_needs_agree_with_the_stack_a_spec_asks_for(file: str) -> None:
    """A spec on a real clock needs one of a target; one that faults links or damages
    tokens needs the links or the StartAgent relay."""
    for test, asks in _stack_marks(SCENARIO_DIR / file).items():
        declared = SCENARIOS[file][test].needs
        if "real_clock" in asks:
            assert "real_clock" in declared, f"{file}::{test}"
        if "chaos" in asks and "network" in asks:
            assert any(n.startswith("link:") for n in declared), f"{file}::{test}"
        if "chaos" in asks and "tamper" in asks:
            assert "relay:start_agent" in declared, f"{file}::{test}"


def test_a_kill_the_harness_cannot_see_land_is_not_provided() -> None:
    """A kill hook that exits 0 proves nothing (a selector that matches no pod exits 0
    too): a kill is provided only with a grpc.health.v1 address whose Watch the kill
    ends (ready-grpc-health; for Stigma, else stigma-address)."""
    hooks = {"kill": "k", "restart": "r", "ready": "x"}
    blind = profile.parse("blind", {**BARE, "stigma": hooks, "zigflow": hooks})
    assert not {"kill:stigma", "kill:zigflow"} & needs.provided(blind)
    assert not blind.can_kill("zigflow")
    assert blind.hooks("zigflow").can_kill  # the hooks alone would do
    assert "grpc.health.v1" in needs.NEEDS["kill:zigflow"]
    seen = profile.parse(
        "seen",
        {
            **BARE,
            "stigma-address": "stigma:50051",
            "stigma": hooks,
            "zigflow": {"kill": "k", "restart": "r", "ready-grpc-health": "zigflow:8081"},
        },
    )
    assert {"kill:stigma", "kill:zigflow"} <= needs.provided(seen)
    assert seen.health_address("stigma") == "stigma:50051"
    assert seen.health_address("zigflow") == "zigflow:8081"


def test_a_pause_the_harness_cannot_see_land_is_not_provided() -> None:
    """A pause hook that exits 0 proves nothing (kill -STOP 1 inside a container exits 0
    and freezes nothing): a pause is provided only with a grpc.health.v1 address that
    goes unanswered while the service is frozen."""
    hooks = {"pause": "p", "resume": "u"}
    blind = profile.parse("blind", {**BARE, "stigma": hooks, "zigflow": hooks})
    assert not {"pause:stigma", "pause:zigflow"} & needs.provided(blind)
    assert not blind.can_pause("stigma")
    assert blind.hooks("stigma").can_pause  # the hooks alone would do
    assert "grpc.health.v1" in needs.NEEDS["pause:stigma"]
    seen = profile.parse(
        "seen",
        {
            **BARE,
            "stigma-address": "stigma:50051",
            "stigma": hooks,
            "zigflow": {**hooks, "ready-grpc-health": "zigflow:8081"},
        },
    )
    assert {"pause:stigma", "pause:zigflow"} <= needs.provided(seen)
