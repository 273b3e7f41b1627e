"""The verdict from raw records (harness.report.verdict): reconciliation of pytest's
ledger, the JUnit file, the exit code and the scenarios' records; flake rates."""

from __future__ import annotations

import pathlib

from harness.report.ledger import Ledger
from harness.report.model import BehaviourRow, ChildRun, ScenarioRecord, ScenarioResult
from harness.report.terms import DeployedBudget
from harness.report.verdict import behaviour_reasons, behaviour_table, flakes, junit_key, reconcile

A = "scenarios/test_success.py::test_a"
B = "scenarios/test_success.py::test_b"


def _run(out: pathlib.Path, code: int) -> ChildRun:
    return ChildRun(label="time-skipping", target="time-skipping", pairing="custom",
                    primary=True, command=["pytest"], exit_code=code,
                    results="results", junit="junit.xml")  # fmt: skip


def _write(
    out: pathlib.Path,
    ledger: dict[str, list[tuple[str, str]]] | None,
    records: dict[str, str],
    junit: dict[str, str] | None,
    exitstatus: int,
) -> None:
    results = out / "results"
    results.mkdir(parents=True)
    if ledger is not None:
        book = Ledger(collected=list(ledger), exitstatus=exitstatus)
        for nodeid, phases in ledger.items():
            for when, outcome in phases:
                book.add(nodeid, when, outcome, "boom" if outcome == "failed" else None)
        book.write(results)
    lines = [
        ScenarioRecord(id=i, outcome=o, duration_s=0.1).model_dump_json()  # type: ignore[arg-type]
        for i, o in records.items()
    ]
    (results / "results-gw0.jsonl").write_text("\n".join(lines) + "\n")
    if junit is not None:
        cases = []
        for nodeid, outcome in junit.items():
            cls, name = junit_key(nodeid)
            inner = {"failed": "<failure message='x'/>", "skipped": "<skipped/>"}.get(outcome, "")
            cases.append(f'<testcase classname="{cls}" name="{name}">{inner}</testcase>')
        (out / "junit.xml").write_text(
            f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>"
        )


OK = [("setup", "passed"), ("call", "passed"), ("teardown", "passed")]


def test_a_test_pytest_saw_fail_without_a_record_is_failed(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK, B: [("setup", "failed")]}, {A: "passed"},
           {A: "passed", B: "failed"}, 1)  # fmt: skip
    got = reconcile(_run(tmp_path, 1), tmp_path)
    assert [(r.id, r.outcome) for r in got.records] == [
        (f"{A}[time-skipping]", "passed"),
        (f"{B}[time-skipping]", "failed"),
    ]
    assert got.problems == []
    assert "setup: boom" in got.records[1].longrepr


def test_collected_and_never_reported_is_not_run(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK, B: []}, {A: "passed"}, {A: "passed"}, 0)
    got = reconcile(_run(tmp_path, 0), tmp_path)
    assert got.records[1].outcome == "not_run"
    assert any("exit code 0, but" in p for p in got.problems), got.problems


def test_a_record_that_says_passed_loses_to_pytest_saying_failed(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: [*OK[:2], ("teardown", "failed")]}, {A: "passed"}, {A: "failed"}, 1)
    got = reconcile(_run(tmp_path, 1), tmp_path)
    assert got.records[0].outcome == "failed"
    assert "its record says passed" in got.records[0].longrepr


def test_a_pass_without_a_record_cannot_be_judged(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK}, {}, {A: "passed"}, 0)
    got = reconcile(_run(tmp_path, 0), tmp_path)
    assert got.records[0].outcome == "failed"
    assert "wrote no record" in got.records[0].longrepr


def test_exit_codes_that_disagree_with_the_records_are_problems(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK}, {A: "passed"}, {A: "passed"}, 1)
    got = reconcile(_run(tmp_path, 1), tmp_path)
    assert any("exit code 1 (tests failed), but no test" in p for p in got.problems)


def test_junit_disagreeing_with_the_ledger_is_a_problem(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK}, {A: "passed"}, {A: "failed"}, 0)
    got = reconcile(_run(tmp_path, 0), tmp_path)
    assert got.records[0].outcome == "failed"
    assert any("ledger says passed, JUnit says failed" in p for p in got.problems)


def test_a_record_for_a_test_not_collected_is_a_problem(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, {A: OK}, {A: "passed", B: "passed"}, {A: "passed"}, 0)
    got = reconcile(_run(tmp_path, 0), tmp_path)
    assert any("did not collect" in p for p in got.problems)


def test_missing_ledger_and_junit_are_named(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, None, {A: "passed"}, None, 0)
    got = reconcile(_run(tmp_path, -9), tmp_path)
    text = "\n".join(got.problems)
    assert "no ledger" in text
    assert "no JUnit file" in text
    assert "killed or crashed" in text


def test_flake_rates_per_scenario_and_column() -> None:
    def r(run: int, outcome: str) -> ScenarioResult:
        return ScenarioResult(id=f"{A}[run{run}][dev]", target="dev", outcome=outcome,  # type: ignore[arg-type]
                              duration_s=0.1)  # fmt: skip

    found = flakes([r(1, "passed"), r(2, "failed"), r(3, "passed"), r(4, "failed")], 4)
    assert [(f.scenario, f.runs, f.failed, f.rate) for f in found] == [(f"{A}[dev]", 4, 2, 0.5)]
    assert flakes([r(1, "failed")], 1) == []


def test_flakes_of_parametrized_scenarios_keep_their_other_parameters() -> None:
    rows = [
        ScenarioResult(
            id=f"{A}[cell-run{i}][dev]",
            target="dev",
            outcome=o,  # type: ignore[arg-type]
            duration_s=0.1,
        )
        for i, o in ((1, "failed"), (2, "passed"))
    ]
    assert [f.scenario for f in flakes(rows, 2)] == [f"{A}[cell][dev]"]


def _scenario(node: str, outcome: str = "passed", checks: list[dict[str, object]] | None = None,
              label: str = "dev") -> ScenarioResult:  # fmt: skip
    return ScenarioResult.model_validate(
        {
            "id": f"{node}[{label}]",
            "target": label,
            "outcome": outcome,
            "duration_s": 0.1,
            "checks": checks or [],
        }
    )


def _cell(rows: list[BehaviourRow], starts: str, column: str = "dev") -> str:
    row = next(r for r in rows if r.does.startswith(starts))
    return row.cells[column].status


def test_the_behaviour_table_follows_the_checks_and_the_scenarios() -> None:
    metrics = {"checker": "metrics_agree_with_history", "ok": True, "status": "not_checked",
               "area": "metrics", "why": "no metrics endpoint"}  # fmt: skip
    leaked = {"checker": "no_token_in_logs", "ok": False, "status": "violated"}
    rows = behaviour_table(
        [
            _scenario("scenarios/test_success.py::test_a", checks=[metrics]),
            _scenario("scenarios/test_failure.py::test_b", "failed", [leaked]),
        ],
        {"dev": "workflow", "go-java:time-skipping": "activity"},
    )
    assert _cell(rows, "No log holds a task token") == "failed"
    assert _cell(rows, "Its metrics") == "not_checked"
    assert _cell(rows, "Completes or fails Zigflow's activity") == "failed"  # test_failure.py
    assert _cell(rows, "Direct mode") == "not_run"
    assert _cell(rows, "Workflow level only", "go-java:time-skipping") == "not_applicable"
    failing, named = behaviour_reasons(rows)
    assert any("behaviours failed on dev" in line for line in failing)
    assert any("behaviours required, not run on dev" in line for line in failing)
    assert any("Its metrics" in line for line in named)


def test_a_reach_check_not_checked_leaves_its_behaviour_not_checked() -> None:
    """The Zigflow shutdown behaviour: its other checks passed, but the signal was not
    shown to meet result-pending activities, so the behaviour is not certified."""
    ok = [{"checker": c, "ok": True, "status": "ok"}
          for c in ("stopped_within_bound", "in_flight_kept_over_shutdown")]  # fmt: skip
    reach = {"checker": "stopped_while_result_pending", "ok": True, "status": "not_checked",
             "area": "shutdown", "why": "no pending gauge"}  # fmt: skip
    node = "scenarios/test_shutdown.py::test_zigflow_stopped"
    seen = behaviour_table([_scenario(node, checks=[*ok, reach])], {"dev": "workflow"})
    row = next(r for r in seen if r.does.startswith("On SIGTERM with result-pending"))
    assert row.cells["dev"].status == "not_checked", row.cells["dev"]
    assert row.cells["dev"].why == "shutdown: no pending gauge"
    assert any("On SIGTERM with result-pending" in line for line in behaviour_reasons(seen)[1])
    reached = behaviour_table(
        [_scenario(node, checks=[*ok, {**reach, "status": "ok", "area": None, "why": None}])],
        {"dev": "workflow"},
    )
    assert _cell(reached, "On SIGTERM with result-pending") == "passed"
    # Another check's "not checked" beside passed ones does not (only a reach check).
    other = {**reach, "checker": "in_flight_kept_over_shutdown"}
    partial = behaviour_table([_scenario(node, checks=[ok[0], other])], {"dev": "workflow"})
    assert _cell(partial, "On SIGTERM with result-pending") == "passed"


def test_on_a_deployed_target_what_it_could_not_serve_is_never_passed() -> None:
    from harness.report.model import OffTarget

    ran = [
        _scenario("scenarios/test_success.py::test_zigflow_resumes", label="staging"),
        _scenario("scenarios/test_timeout.py::test_stuck_agent", label="staging"),
    ]
    off = [
        OffTarget(
            scenario="scenarios/test_token_corruption.py::test_damaged",
            missing=["relay:start_agent"],
            local_only=True,
        ),
        OffTarget(
            scenario="scenarios/test_restarts.py::test_stigma_killed",
            missing=["kill:stigma"],
            local_only=False,
        ),
        OffTarget(
            scenario="scenarios/test_heartbeats.py::test_dead_stigma",
            missing=["kill:stigma"],
            local_only=False,
        ),
    ]
    rows = behaviour_table(ran, {"staging": "workflow"}, {"staging": off})
    # only the harness's relays could run it: named, certified by a local run
    assert _cell(rows, "Workflow level only", "staging") == "local_only"
    # its checkers read what a relay saw; scenarios passed but none of them could look
    assert _cell(rows, "Every StartAgent carries a gRPC deadline", "staging") == "local_only"
    assert _cell(rows, "ACKs StartAgent only after", "staging") == "local_only"
    # the profile could give it (kill hooks) and does not: required, not run
    heartbeats = next(r for r in rows if r.does.startswith("With a heartbeat timeout"))
    assert heartbeats.cells["staging"].status == "not_run"
    assert "needs kill:stigma" in heartbeats.cells["staging"].why
    failing, named = behaviour_reasons(rows)
    assert any("required, not run on staging" in line and "kill:stigma" in line
               for line in failing)  # fmt: skip
    assert any("certified only by a local run on staging" in line for line in named)
    assert not any("Workflow level only" in line for line in failing)


def test_a_deployed_budget_is_judged_on_its_own_figure() -> None:
    from harness.report import report

    ok = [_scenario("scenarios/test_success.py::test_a", label="staging")]
    seen = {"n": 0}
    budget = DeployedBudget(42.0, 135, "game day")
    verdict, reasons = report.verdict(ok, seen, 100.0, deployed_budget=budget)
    assert verdict == "pass", reasons
    assert "overhead p99 42.0 ms <= 100 ms (game day)" in reasons
    verdict, reasons = report.verdict(
        ok, seen, 100.0, deployed_budget=DeployedBudget(None, 0, "skipped")
    )
    assert verdict == "fail"
    assert "budget not measured on this target: skipped" in reasons
    verdict, reasons = report.verdict(ok, seen, 100.0, deployed_budget=budget._replace(p99=140.0))
    assert verdict == "fail"
    assert any("140.0 ms > budget" in r for r in reasons)


def test_a_deployed_budget_of_too_few_handshakes_is_not_judged() -> None:
    """The budget run's rule holds for a deployment too: a p99 of fewer than 100
    handshakes is their maximum or near it, not a p99."""
    from harness.report import report

    ok = [_scenario("scenarios/test_success.py::test_a", label="staging")]
    few = DeployedBudget(42.0, report.MIN_BUDGET_SAMPLES - 1, "game day")
    verdict, reasons = report.verdict(ok, {"n": 0}, 100.0, deployed_budget=few)
    assert verdict == "fail", reasons
    assert any(r.startswith("budget not judged: 99 samples (game day)") for r in reasons), reasons
    assert not any(r.startswith("overhead p99 42.0 ms <=") for r in reasons), reasons
    enough = few._replace(n=report.MIN_BUDGET_SAMPLES)
    assert report.verdict(ok, {"n": 0}, 100.0, deployed_budget=enough)[0] == "pass"
