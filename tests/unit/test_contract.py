"""The contract has one home (harness/contract.py): the docs page is generated from it,
and harness code that reads what a service produced uses no name it does not declare."""

from __future__ import annotations

import ast
import collections
import dataclasses
import os
import pathlib
from collections.abc import Iterator

import pytest

from harness import contract
from harness.drive import driver
from harness.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- contract:begin -->", "<!-- contract:end -->"

# Modules that read what the services produced (histories, results, summaries, metrics,
# relayed requests) and judge it. bench.py and load/ report on the same reads through
# these modules.
READERS = (
    "harness/judge/checkers.py",
    "harness/drive/driver.py",
    "harness/observe/traces.py",
    "harness/judge/metrics_checks.py",
    "harness/observe/stages.py",
    "harness/links/tamper.py",
    "harness/judge/reach.py",
    "harness/judge/payload_limit.py",
    "harness/faults/clock.py",
)
# Strings those modules may use that are not a service's: Temporal's own words (event
# and status names read by harness/observe/traces.py), the harness's history (Jepsen op types,
# its own record keys), and the harness's agent script (harness/drive/plan.py), which Stigma
# passes through unread.
NOT_CONTRACT = {
    "temporal": {
        "completed",
        "failed",
        "timed_out",
        "canceled",
        "terminated",
        "open",
        "RUNNING",
        "START_TO_CLOSE",
    },
    "history": {"ok", "fail", "unknown", "invoke", "before", "after", "observed_retries"},
    "driver": {"zigflow", "stigma", "agent_work"},
    "agent script": {"outcome", "failure", "hold", "error_type", "error_message", "script"},
    # the harness's own agent (harness/stack/agent.py): its output and its records of attempts
    "agent": {"value", "succeeded", "activity_id", "attempt", "run_id"},
}
ALLOWED = contract.VOCABULARY | set().union(*NOT_CONTRACT.values())
LOOKUPS = {"get", "of_type", "activity", "signal", "query", "start_workflow", "execute_activity"}


def _strings(node: ast.AST) -> Iterator[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for element in node.elts:
            yield from _strings(element)


def read_names(source: str) -> Iterator[tuple[int, str]]:
    """String literals used to compare with, or look up, what was read."""
    for node in ast.walk(ast.parse(source)):
        found: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            found = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            found = [node.slice]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else ""
            if name in LOOKUPS:
                found = [node.args[0]]
        for part in found:
            for literal in _strings(part):
                yield literal.lineno, literal.value


def undeclared(paths: tuple[str, ...]) -> list[str]:
    return [
        f"{path}:{line}: {value!r}"
        for path in paths
        for line, value in read_names((ROOT / path).read_text())
        if value not in ALLOWED
    ]


def test_harness_reads_only_names_the_contract_declares() -> None:
    missing = undeclared(READERS)
    assert not missing, (
        "harness code reads names that harness/contract.py does not declare (declare them "
        "as contract terms, or use a name that is already there):\n" + "\n".join(missing)
    )


def test_the_scan_catches_an_undeclared_name() -> None:
    source = 'summary = {}\nif summary.get("agent_mood") == "cheerful":\n    pass\n'
    assert sorted(v for _, v in read_names(source)) == ["agent_mood", "cheerful"]
    assert all(v not in ALLOWED for _, v in read_names(source))


def test_the_contract_page_tables_are_generated_from_the_module() -> None:
    readme = (ROOT / "docs" / "reference" / "contract.md").read_text()
    assert BEGIN in readme, f"docs/reference/contract.md lacks {BEGIN}"
    assert END in readme, f"docs/reference/contract.md lacks {END}"
    section = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert section == contract.markdown().strip(), (
        "The contract page's tables are stale: run `python -m harness.contract --markdown` "
        "and paste its output between the contract markers (`make contract-docs` does it)"
    )


def test_names_are_settings_and_bad_ones_are_refused() -> None:
    saved = contract.Names(**vars(contract.NAMES))
    try:
        names = contract.configure("zigflow_agent_activity=ExecuteAgent, stigma_agent_activity=Run")
        assert (names.zigflow_agent_activity, names.stigma_agent_activity) == (
            "ExecuteAgent",
            "Run",
        )
        for bad in ("nonsense=1", "zigflow_workflow", "zigflow_workflow="):
            with pytest.raises(ConfigError, match="contract name"):
                contract.configure(bad)
    finally:
        contract.NAMES.__dict__.update(vars(saved))


def test_every_term_is_documented_once() -> None:
    seen: dict[tuple[str, str], int] = {}
    for term in contract.TERMS:
        assert term.meaning, term
        assert term.group in contract.GROUPS, term
        seen[(term.group, term.value)] = seen.get((term.group, term.value), 0) + 1
    assert all(n == 1 for n in seen.values()), [k for k, n in seen.items() if n > 1]


# Names a team may rename, and the proto's names: code outside the contract module that
# spells one cannot follow a team's settings (or a proto change) and certifies only ours.
SPELLED_ONLY_IN_CONTRACT = frozenset(
    getattr(contract.Names(), f.name) for f in dataclasses.fields(contract.Names)
) | {contract.STIGMA_SERVICE, contract.START_AGENT_PATH}
CODE_ROOTS = ("harness", "scenarios")


def spelled_names(source: str) -> Iterator[tuple[int, str]]:
    """String constants (f-string parts too) that are a contract name verbatim."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and node.value in SPELLED_ONLY_IN_CONTRACT:
            yield node.lineno, str(node.value)


def test_renameable_and_proto_names_are_spelled_only_in_the_contract_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for root in CODE_ROOTS
        for path in sorted((ROOT / root).rglob("*.py"))
        if path != ROOT / "harness" / "contract.py"
        for line, value in spelled_names(path.read_text())
    ]
    assert not found, (
        "these spell a contract name instead of reading it from harness/contract.py "
        "(contract.NAMES.<name>, contract.stigma_workflow_id(key), contract.STIGMA_SERVICE), "
        "so a team's --contract-name is ignored there:\n" + "\n".join(found)
    )


def test_the_spelling_scan_sees_an_f_string_prefix() -> None:
    source = 'key = "k"\nhandle = client.get_workflow_handle(f"stigma-{key}")\n'
    assert [v for _, v in spelled_names(source)] == ["stigma-"]


def test_the_harness_sets_exactly_the_declared_environment() -> None:
    from harness.config import StackConfig
    from harness.stack.stack import service_env

    declared = {t.value for t in contract.TERMS if t.group == contract.ENV}
    required = {t.value for t in contract.TERMS if t.group == contract.ENV and t.required}
    values = collections.defaultdict(lambda: "x")
    env = service_env(values, StackConfig(), {})
    ours = {k for k in env if k.startswith(("ZIGFLOW_", "STIGMA_"))} - set(os.environ)
    assert ours <= declared, f"set but not in the contract: {sorted(ours - declared)}"
    assert required <= ours, f"declared required but never set: {sorted(required - ours)}"


VERDICT_CALLS = {"Verdict", "_verdict", "not_checked"}


def checker_names(source: str) -> set[str]:
    """Names of the verdicts a module gives: the first argument of ``Verdict(...)``,
    ``_verdict(...)`` and ``Verdict.not_checked(...)`` (an f-string's fixed prefix, as in
    ``timed_out[HEARTBEAT]``), and module constants named ``*CHECKER``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and any(isinstance(t, ast.Name) and t.id.endswith("CHECKER") for t in node.targets)
        ):
            names.add(str(node.value.value))
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name not in VERDICT_CALLS:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
        elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
            names.add(str(first.values[0].value).split("[", 1)[0])
    return names


def all_checkers() -> set[str]:
    return set().union(
        *(checker_names(p.read_text()) for p in sorted((ROOT / "harness").rglob("*.py")))
    )


def test_every_checker_judges_a_written_behaviour_and_back() -> None:
    checkers = all_checkers()
    cited = {c for b in contract.BEHAVIOURS for c in b.checks}
    assert len(checkers) > 20, sorted(checkers)  # the scan itself still finds them
    assert not cited - checkers, f"behaviours cite checkers that do not exist: {cited - checkers}"
    assert not checkers - cited, (
        "these checkers judge something harness/contract.py BEHAVIOURS does not say a "
        f"service must do (write it down there): {sorted(checkers - cited)}"
    )


def test_the_checker_scan_finds_a_new_verdict() -> None:
    source = 'def agent_mood(h):\n    return Verdict("agent_is_cheerful", True)\n'
    assert checker_names(source) == {"agent_is_cheerful"}
    assert "agent_is_cheerful" not in {c for b in contract.BEHAVIOURS for c in b.checks}


def test_behaviours_name_scenarios_that_exist() -> None:
    for b in contract.BEHAVIOURS:
        assert b.does, b
        assert b.side in (contract.ZIGFLOW, contract.STIGMA, contract.BOTH), b
        for spec in b.specs:
            assert spec == contract.EVERY_SCENARIO or (ROOT / "scenarios" / spec).is_file(), spec


def test_the_metrics_the_driver_waits_on_are_zigflow_metrics_of_the_contract() -> None:
    assert driver.PENDING_GAUGE in {t.value for t in contract.GAUGES if t.side == contract.ZIGFLOW}
    zigflow_metrics = {
        t.value for t in contract.TERMS if t.group == contract.METRIC and t.side == contract.ZIGFLOW
    }
    assert set(driver.RESULT_PENDING_METRICS) <= zigflow_metrics
    # The counter first: a Zigflow that is only its activity can keep it.
    assert driver.RESULT_PENDING_METRICS[0] == driver.RESULT_PENDING_COUNTER
    assert driver.RESULT_PENDING_COUNTER.endswith("_total")
