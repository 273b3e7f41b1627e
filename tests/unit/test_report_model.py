"""certification.json against its checked-in JSON Schema, checked by an independent
validator (jsonschema, not pydantic), and the scenario grid of the HTML report."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import sys
from typing import Any

import jsonschema
import pytest

from harness.report import render as report_render
from harness.report import report
from harness.report.model import (
    SCHEMA_VERSION,
    BehaviourCell,
    BehaviourRow,
    CertificationReport,
    ScenarioRecord,
    json_schema_text,
)
from tests.unit.test_report_html import synthetic_report

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "harness" / "report" / "schemas" / "certification.schema.json"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def _validator() -> jsonschema.protocols.Validator:
    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)  # the schema itself is a valid draft 2020-12 schema
    return cls(schema)


def _records() -> list[ScenarioRecord]:
    """What the pytest plugin writes for three scenarios, as JSON lines read back."""
    lines = [
        {
            "id": "scenarios/test_success.py::test_ok",
            "outcome": "passed",
            "duration_s": 1.25,
            "overhead_ms": [30.0, 41.5, 35.0],
            "checks": [
                {"checker": "every_call_resolved", "ok": True, "status": "ok", "checked": 3}
            ],
            "calls": 3,
            "measurements": {
                "token_hygiene": {"tokens": 3, "logs": 2, "token_x_logs": 6, "hits": 0},
                "virtual_skipped_s": 60.0,
            },
            "server": "dev",
            "faults": [],
            "toxiproxy": None,
            "longrepr": "",
        },
        {
            "id": "scenarios/test_network.py::test_cut",
            "outcome": "failed",
            "duration_s": 3.0,
            "checks": [{"checker": "no_token_lost", "ok": False, "status": "violated"}],
            "measurements": {"chaos_seed": 99},
            "faults": [
                {
                    "link": "stigma_grpc",
                    "toxic": "latency",
                    "stream": "upstream",
                    "scenario": "scenarios/test_network.py::test_cut",
                    "attributes": {"latency": 500},
                }
            ],
            "toxiproxy": "2.12.0",
            "longrepr": "AssertionError: lost",
        },
        {
            "id": "scenarios/test_metrics.py::test_agree",
            "outcome": "passed",
            "duration_s": 0.5,
            "checks": [
                {
                    "checker": "metrics_agree_with_history",
                    "ok": True,
                    "status": "not_checked",
                    "area": "metrics",
                    "why": "no metrics",
                }
            ],
        },
    ]
    return [ScenarioRecord.model_validate_json(json.dumps(line)) for line in lines]


def built_report() -> CertificationReport:
    """A report built the way certify builds one, from plugin records."""
    records = [
        r.model_copy(update={"target": t, "pairing": "python-python", "id": f"{r.id}[{t}]"})
        for t in ("time-skipping", "dev")
        for r in _records()
    ]
    results = [r.result() for r in records]
    rows = [{"level": 10, "mode": "open", "n": 120, "p50": 20.0, "p99": 60.0, "errors": 0}]
    verdict, reasons = report.verdict(results, {"n": 0}, 100.0, rows)
    return CertificationReport.model_validate(
        {
            "schema_version": SCHEMA_VERSION,
            "generated_at": "2026-11-28T00:00:00+00:00",
            "verdict": verdict,
            "verdict_reasons": reasons,
            "not_certified": report.not_certified(results),
            "targets": ["time-skipping", "dev"],
            "scenarios": results,
            "faults": [{**f.model_dump(), "target": r.target} for r in records for f in r.faults],
            "token_hygiene": report.token_hygiene(results),
            "overhead_ms": {"n": 3, "p50": 35.0, "p99": 41.5, "target": "dev"},
            "budget_ms": 100.0,
            "budget": report.budget_summary(rows, 100.0),
            "concurrency": rows,
            "versions": {"python": "3.11", "toxiproxy": None},
            "wall_s": 12.0,
        }
    )


def _errors(doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc)
    ]


def test_the_checked_in_schema_is_the_models() -> None:
    assert SCHEMA_FILE.read_text() == json_schema_text(), "stale: run `make report-schema`"
    sys.path.insert(0, str(ROOT / "scripts"))
    import report_schema

    assert report_schema.main(["--check"]) == 0


def test_a_report_built_from_plugin_records_validates_against_the_schema() -> None:
    doc = json.loads(built_report().to_json())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert _errors(doc) == []
    # the synthetic fixture the renderer tests use is a valid report too
    assert (
        _errors(json.loads(CertificationReport.model_validate(synthetic_report()).to_json())) == []
    )
    assert doc["scenarios"][0]["pairing"] == "python-python"


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.update(wall_s="twelve"), r"^wall_s: 'twelve' is not of type 'number'$"),
        (lambda d: d.pop("verdict"), r"^: 'verdict' is a required property$"),
        (
            lambda d: d.update(verdict="maybe"),
            r"^verdict: 'maybe' is not one of \['pass', 'fail'\]$",
        ),
        (lambda d: d.update(schema_version=1), r"^schema_version: 3 was expected$"),
        (
            lambda d: d["scenarios"][0].update(duration_s="1.5s"),
            r"^scenarios/0/duration_s: '1.5s' is not of type 'number'$",
        ),
        (
            lambda d: d["scenarios"][0]["checks"][0].pop("checker"),
            r"^scenarios/0/checks/0: 'checker' is a required property$",
        ),
        (lambda d: d.update(verdikt="pass"), r"Additional properties are not allowed \('verdikt'"),
    ],
)
def test_a_wrong_field_fails_validation_naming_it(break_it: Any, message: str) -> None:
    doc = json.loads(built_report().to_json())
    bad = copy.deepcopy(doc)
    break_it(bad)
    errors = _errors(bad)
    assert len(errors) == 1, errors
    assert re.search(message, errors[0]), errors[0]
    # the model refuses the same document (what `handshake report` loads with)
    with pytest.raises(ValueError, match="validation error"):
        CertificationReport.model_validate(bad)


def test_the_scenario_matrix_is_a_grid_with_failing_rows_first() -> None:
    page = report_render.html(built_report())
    grid = page[page.index('<table class="grid">') : page.index("</table>", page.index("grid"))]
    head = re.findall(r"<th>([^<]*)</th>", grid.split("</tr>", 1)[0])
    assert head == ["scenario", "time-skipping", "dev"]  # one column per target
    rows = re.findall(r'<th class="row"><code>([^<]*)</code>', grid)
    # one row per scenario, whatever the number of targets; the failing one first, then
    # the one with a check not made, then the rest
    assert rows == [
        "scenarios/test_network.py::test_cut",
        "scenarios/test_metrics.py::test_agree",
        "scenarios/test_success.py::test_ok",
    ]
    first = grid.split('<tr class="failing">', 1)[1].split("</tr>", 1)[0]
    assert first.count('<td class="cell failed"') == 2  # one cell per target
    assert "no_token_lost VIOLATED" in first
    assert "seed 99" in first
    md = report_render.markdown(built_report())
    assert "| scenario | time-skipping | dev |" in md
    # the Markdown (a pull-request comment) lists only what did not pass cleanly
    assert md.index("test_network.py::test_cut`") < md.index("test_metrics.py::test_agree`")
    assert "test_success.py::test_ok`" not in md
    assert "1 scenario(s) passed on every column they ran on, every check made" in md


def test_the_markdown_stays_a_pull_request_comment_however_many_scenarios_ran() -> None:
    doc = built_report()
    many = [
        s.model_copy(update={"id": f"scenarios/test_x.py::test_{i}[{s.target}]", "checks": []})
        for i in range(600)
        for s in doc.scenarios
        if s.outcome == "passed"
    ]
    big = doc.model_copy(update={"scenarios": [*doc.scenarios, *many]})
    md = report_render.markdown(big)
    assert len(md.encode()) < 30_000, len(md.encode())
    assert "test_network.py::test_cut`" in md  # what failed is still there
    assert "test_x.py::test_599" not in md


def _report_imports() -> dict[str, set[str]]:
    """For each module of harness/report, the modules of harness/report it imports
    (at the top or lazily, inside a function)."""
    import ast
    import pathlib

    here = pathlib.Path(report_render.__file__).parent
    found: dict[str, set[str]] = {}
    for path in sorted(here.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "harness.report":
                    names.update(a.name for a in node.names)
                elif node.module.startswith("harness.report."):
                    names.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                names.update(
                    a.name.split(".")[2] for a in node.names if a.name.startswith("harness.report.")
                )
        found[path.stem] = names - {path.stem}
    return found


def test_the_report_package_has_no_import_cycle() -> None:
    graph = _report_imports()
    assert graph["render"], "no harness.report import found: the scan is broken"

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()) - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []


def _failed_behaviour_report() -> CertificationReport:
    doc = built_report()
    failed = next(s for s in doc.scenarios if s.outcome == "failed")
    row = BehaviourRow(
        side="stigma",
        does="Completes Zigflow's activity by token exactly once",
        required=True,
        checkers=["no_token_lost"],
        cells={
            failed.label: BehaviourCell(
                status="failed", why="violated: no_token_lost", scenarios=[failed.id]
            )
        },
    )
    return doc.model_copy(update={"behaviours": [row]})


def test_a_fail_leads_with_its_cause_then_what_is_not_certified() -> None:
    doc = _failed_behaviour_report()
    assert doc.verdict == "fail"
    assert [g.area for g in doc.not_certified] == ["metrics"]
    md, page = report_render.markdown(doc), report_render.html(doc)
    first = page[: page.index('<section id="behaviours"') if doc.behaviours else None]
    for text, not_certified in (
        (md, "**Not certified: metrics**"),
        (first, "Not certified: metrics"),
    ):
        # the banner says what failed; then the behaviour, the scenario and its commands
        # (the installed one first), and only then what the verdict does not cover
        assert re.search(
            r"Verdict: FAIL\**\s+—\s+\**2 scenario\(s\) failed; 1 behaviour\(s\) failed", text
        )
        order = [
            text.index("Completes Zigflow&#39;s" if text is first else "Completes Zigflow's"),
            text.index("scenarios/test_network.py::test_cut"),
            text.index("handshake gate -n 0 --temporal time-skipping"),
            text.index(".venv/bin/python -m pytest -n 0 scenarios/test_network.py::test_cut"),
            text.index(not_certified),
            text.index("The verdict's reasons"),
        ]
        assert order == sorted(order), order
    # the reasons the cause box already says are not repeated as other causes
    cause = report_render.cause(doc)
    assert cause is not None
    assert cause.other == []
    # a PASS has no cause box and still leads with what it does not cover
    passed = doc.model_copy(update={"verdict": "pass"})
    assert report_render.cause(passed) is None
    assert "Why it failed" not in report_render.markdown(passed)


def _k_selects(expression: str, node_ids: list[str]) -> list[str]:
    """The tests pytest's -k would keep (its own expression parser; a name matches when
    it is a substring of the test's file, class, name or parameter id)."""
    from _pytest.mark.expression import Expression

    compiled = Expression.compile(expression)
    return [
        n
        for n in node_ids
        if compiled.evaluate(
            lambda word, *_, n=n, **__: any(word.lower() in k for k in report_render._k_names(n))
        )
    ]


def test_the_gate_command_selects_exactly_the_failed_test() -> None:
    ids = [
        "scenarios/test_success.py::test_success",
        "scenarios/test_success.py::test_success_twice",
        "scenarios/test_success.py::test_other",
        "scenarios/test_success_more.py::test_success",
        "scenarios/test_fault_matrix.py::test_cell[stigma_grpc-latency-up]",
        "scenarios/test_fault_matrix.py::test_cell[stigma_grpc-latency-upstream]",
    ]
    for node_id in ids:
        expression = report_render.select_expression(node_id, ids)
        assert expression is not None, node_id
        assert _k_selects(expression, ids) == [node_id], expression
    # a name -k cannot hold: no gate form (the checkout's command stays)
    assert report_render.select_expression("scenarios/t.py::test_x[a b]", ids) is None
    doc = _failed_behaviour_report()
    failed = next(s for s in doc.scenarios if s.outcome == "failed")
    gate = report_render.gate_reproduce(failed, [s.node_id for s in doc.scenarios], doc.versions)
    assert gate is not None
    assert gate.startswith("handshake gate -n 0 --temporal ")
    assert gate.endswith("-k 'test_network.py and test_cut'")
    assert "--chaos-seed" in gate


def test_a_fail_without_a_failed_scenario_leads_with_what_failed_it() -> None:
    doc = _failed_behaviour_report()
    passed = [s for s in doc.scenarios if s.outcome != "failed"]
    row = doc.behaviours[0].model_copy(
        update={"cells": {"dev": BehaviourCell(status="not_run", why="no scenario")}}
    )
    reasons = [
        "budget not measured on this target: the game day was skipped",
        "behaviours required, not run on dev (1): Completes... (no scenario)",
        "12 scenario(s) passed",
        "behaviours certified only by a local run on dev (1): x (needs relay)",
        "metrics: not certified (no metrics)",
        "for information, not judged: overhead in fault-free scenarios p50 1 / p99 2 ms",
    ]
    odd = doc.model_copy(
        update={"scenarios": passed, "behaviours": [row], "verdict_reasons": reasons}
    )
    cause = report_render.cause(odd)
    assert cause is not None
    assert cause.scenarios == []
    assert [(b.not_run, b.where) for b in cause.behaviours] == [
        (True, [("dev", "not run: no scenario")])
    ]
    assert cause.other == [reasons[0]]
    assert cause.headline == "1 required behaviour(s) not run"
    alone = odd.model_copy(update={"behaviours": []})
    assert report_render.cause(alone).headline == "budget not measured on this target"  # type: ignore[union-attr]
    md = report_render.markdown(alone)
    assert md.index("**What fails the verdict:**") < md.index("**Not certified: metrics**")
