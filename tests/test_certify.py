"""The certification pipeline: statistics, verdict rules, and one real end-to-end run."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import jsonschema
import pytest

from harness.config import StackConfig, from_env
from harness.errors import ConfigError
from harness.measure import stats
from harness.report import report
from harness.report.model import Pairing
from tests.children import run_printed

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_nearest_rank_percentiles_are_observed_values() -> None:
    s = stats.summary([float(v) for v in range(1, 101)])
    assert (s["n"], s["p50"], s["p95"], s["p99"], s["max"]) == (100, 50.0, 95.0, 99.0, 100.0)
    assert stats.summary([])["n"] == 0
    with pytest.raises(ValueError, match="no samples"):
        stats.percentile([], 50)


def _scenario(outcome: str = "passed") -> dict[str, object]:
    return {
        "id": f"s-{outcome}",
        "target": "dev",
        "outcome": outcome,
        "duration_s": 0.1,
        "checks": [],
        "calls": 1,
    }


def _budget_row(p99: float, level: int = 10) -> dict[str, object]:
    return {"level": level, "mode": "open", "n": 110, "p50": p99 / 2, "p99": p99}


SCENARIO_FIGURE = {"n": 5, "p50": 20.0, "p99": 140.0, "target": "dev"}


@pytest.mark.parametrize(
    ("scenarios", "rows", "verdict", "reason"),
    [
        ([_scenario()], [_budget_row(40.0)], "pass", "1 scenario(s) passed"),
        ([_scenario(), _scenario("failed")], [_budget_row(40.0)], "fail", "failed"),
        ([_scenario("skipped")], [_budget_row(40.0)], "fail", "skipped"),
        ([_scenario()], [_budget_row(140.0)], "fail", "exceeds"),
        ([_scenario()], [_budget_row(40.0, level=1)], "fail", "budget not measured"),
        ([_scenario()], [{**_budget_row(40.0), "n": 30}], "fail", "budget not judged"),
        ([_scenario()], [{**_budget_row(40.0), "errors": 2}], "fail", "2 call(s) failed"),
        ([_scenario()], [{**_budget_row(0.0), "n": 0, "p99": None}], "fail", "0 samples"),
        ([_scenario()], [], "fail", "budget not measured"),
        ([], [_budget_row(1.0)], "fail", "no scenario ran"),
    ],
)
def test_verdict_rules(
    scenarios: list[dict[str, object]], rows: list[dict[str, object]], verdict: str, reason: str
) -> None:
    got, reasons = report.verdict(scenarios, SCENARIO_FIGURE, 100.0, rows)
    assert got == verdict
    assert any(reason in r for r in reasons), reasons


def test_every_budget_problem_is_named() -> None:
    row = {**_budget_row(140.0), "n": 30, "errors": 1}
    got, reasons = report.verdict([_scenario()], SCENARIO_FIGURE, 100.0, [row])
    assert got == "fail"
    assert any("exceeds" in r for r in reasons), reasons
    assert any("1 call(s) failed" in r for r in reasons), reasons
    assert any("30 samples" in r for r in reasons), reasons


def test_bad_settings_say_what_to_fix() -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        StackConfig(temporal="nonsense").validate()
    with pytest.raises(ConfigError, match="HANDSHAKE_STIGMA_CMD"):
        from_env({"HANDSHAKE_STIGMA_CMD": "java -jar 'unterminated"})


def certify(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m harness.certify ARGS`` from the project root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "harness.certify", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_certify_cli_rejects_empty_targets() -> None:
    proc = certify("--targets", " , ", timeout=60)
    assert proc.returncode == 2
    assert "--targets is empty" in proc.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bench-levels", "1,100"], "including 10"),
        (["--bench-json", "/nonexistent/bench.json"], "run `make bench` first"),
        (["--bench-args", "--rate 'unterminated"], "--bench-args"),
        (["--pairing-bench-levels", "100"], "--pairing-bench-levels '100': give levels"),
        (["--pairings", "go-cobol"], "expected one of python-python"),
        (["--pairings", "go-python", "--zigflow-cmd", "/opt/z"], "not both"),
    ],
)
def test_certify_cli_rejects_bad_budget_options_before_running_anything(
    args: list[str], says: str
) -> None:
    proc = certify(*args, timeout=60)
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert says in proc.stderr
    assert "certify: [" not in proc.stdout  # nothing ran


# A short budget run: enough to exercise the bench engine end to end on a real dev
# server (closed and open loop, histories, stages, /proc figures), not to judge anything.
QUICK_BENCH = "--duration 1 --warmup 0.5 --rate 10 --open-samples 20"


def test_certify_writes_a_complete_report(tmp_path: pathlib.Path) -> None:
    proc = certify(
        "--targets",
        "time-skipping",
        "--pairings",
        "python-python",
        "--out",
        str(tmp_path),
        "--bench-levels",
        "10",
        "--bench-args",
        QUICK_BENCH,
        "--",
        "-k",
        "test_success or test_failure",
    )
    out = tmp_path / "latest"
    doc = json.loads((out / "certification.json").read_text())
    assert proc.returncode == (0 if doc["verdict"] == "pass" else 1), proc.stdout[-2000:]
    assert set(doc) >= {"scenarios", "overhead_ms", "budget_ms", "versions", "verdict"}
    # the real report validates against the shipped schema (an independent validator)
    schema = json.loads(
        (ROOT / "harness" / "report" / "schemas" / "certification.schema.json").read_text()
    )
    jsonschema.validate(doc, schema)
    assert doc["budget_ms"] == 100
    ids = [s["id"] for s in doc["scenarios"]]
    assert len(ids) == 5, ids  # success x2, failure, permanent rejection, lost reply
    assert all(s["outcome"] == "passed" for s in doc["scenarios"]), ids
    assert all(s["id"].endswith("[time-skipping]") for s in doc["scenarios"]), ids
    assert all(s["duration_s"] >= 0 for s in doc["scenarios"])
    assert doc["overhead_ms"]["n"] == 7
    assert doc["overhead_ms"]["target"] == "time-skipping"
    assert doc["overhead_ms"]["p50"] <= doc["overhead_ms"]["p99"] <= doc["overhead_ms"]["max"]
    assert doc["versions"]["temporalio"]
    assert doc["versions"]["temporal[time-skipping]"]
    md = (out / "certification.md").read_text()
    assert f"**Verdict: {doc['verdict'].upper()}**" in md
    page = (out / "certification.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert f"Verdict: {doc['verdict'].upper()}" in page
    assert (out / "junit-time-skipping.xml").is_file()
    # the budget was measured by this run, on a real clock (the dev server)
    assert doc["bench"]["source"] == "measured by this run (dev)"
    assert doc["bench"]["target"] == "dev"
    rows = {(c["level"], c["mode"]): c for c in doc["concurrency"]}
    assert set(rows) == {(10, "closed"), (10, "open")}, rows
    for row in rows.values():
        assert row["n"] > 0, row
        assert row["errors"] == 0, row
        assert row["p50"] <= row["p99"] <= row["max"]
        assert row["baseline_p99_ms"] is not None
        assert "completion_call" in row["stages_p99_ms"]
        assert row["peak_rss_mb"]["temporal"] > 0
    assert doc["budget"]["level"] == 10
    assert doc["budget"]["mode"] == "open"
    assert doc["budget"]["p99"] == rows[(10, "open")]["p99"]
    # a quick run has too few samples for a p99: measured, shown, but not judged
    assert doc["budget"]["n"] < report.MIN_BUDGET_SAMPLES
    assert doc["budget"]["within"] is False
    assert doc["verdict"] == "fail"
    assert any("budget not judged" in r for r in doc["verdict_reasons"]), doc["verdict_reasons"]
    # whatever its p99 on a busy machine, the report never calls it within the budget
    word = "over the budget" if doc["budget"]["p99"] > 100 else "not judged"
    assert f"**{word}**" in md
    assert f"<strong>{word}</strong>" in page
    assert "within the budget" not in md
    assert (out / "bench.json").is_file()


def test_certify_judges_the_budget_on_figures_it_is_given(tmp_path: pathlib.Path) -> None:
    figures = tmp_path / "bench.json"
    row = {"level": 10, "mode": "open", "n": 110, "p50": 60.0, "p99": 130.0, "max": 150.0}
    figures.write_text(
        json.dumps({"generated_at": "2026-11-25T00:00:00+00:00", "concurrency": [row]})
    )
    proc = certify(
        "--targets",
        "time-skipping",
        "--pairings",
        "python-python",
        "--out",
        str(tmp_path),
        "--bench-json",
        str(figures),
        "--",
        "-k",
        "test_failure",
    )
    doc = json.loads((tmp_path / "latest" / "certification.json").read_text())
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert doc["verdict"] == "fail"
    assert all(s["outcome"] == "passed" for s in doc["scenarios"])
    assert any(
        "130.0 ms with 10 agents in flight" in r and "exceeds" in r for r in doc["verdict_reasons"]
    )
    assert doc["bench"]["source"] == str(figures)
    assert doc["budget"] == {
        "level": 10,
        "mode": "open",
        "n": 110,
        "p50": 60.0,
        "p99": 130.0,
        "baseline_p99_ms": None,
        "throughput_per_s": None,
        "errors": None,
        "within": False,
    }


def test_every_budget_run_comes_after_every_gate(tmp_path: pathlib.Path) -> None:
    """The budget is judged on a quiet machine: certify runs no budget run while a gate's
    stacks are up, whatever the number of pairings (the gates, side by side, then each
    budget run)."""
    from harness.config import PAIRINGS

    if PAIRINGS["go-python"].missing():
        pytest.skip("; ".join(PAIRINGS["go-python"].missing()))
    figures = tmp_path / "bench.json"
    row = {"level": 10, "mode": "open", "n": 110, "p50": 20.0, "p99": 40.0, "max": 50.0}
    figures.write_text(
        json.dumps({"generated_at": "2026-11-25T00:00:00+00:00", "concurrency": [row]})
    )
    proc = certify(
        "--targets",
        "time-skipping",
        "--pairings",
        "python-python,go-python",
        "--out",
        str(tmp_path),
        "--bench-json",  # the first pairing's figures given; the second's measured
        str(figures),
        "--pairing-bench-levels",
        "10",
        "--bench-args",
        QUICK_BENCH,
        "--",
        "-k",
        "test_failure",
    )
    # The command lines certify prints as it starts each child, and each gate's end.
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("certify: [")]
    gates = [i for i, ln in enumerate(lines) if " -m pytest " in ln]
    ends = [i for i, ln in enumerate(lines) if "] ended: exit " in ln]
    budgets = [i for i, ln in enumerate(lines) if ln.startswith("certify: [budget ")]
    assert len(gates) == 2, proc.stdout[-3000:]
    assert len(ends) == 2, proc.stdout[-3000:]
    assert len(budgets) == 1, proc.stdout[-3000:]
    assert max(gates) < min(ends), lines  # side by side (--parallel-gates 2, the default)
    assert max(ends) < min(budgets), lines  # the budget run once every gate has ended
    assert "certify: [go-python:time-skipping] started: " in lines[gates[1]], lines
    # each gate's output in its own log, beside its JUnit file
    assert "passed" in (tmp_path / "latest" / "gate-go-python-time-skipping.log").read_text()
    doc = json.loads((tmp_path / "latest" / "certification.json").read_text())
    assert [p["name"] for p in doc["pairings"]] == ["python-python", "go-python"]
    assert all(s["outcome"] == "passed" for s in doc["scenarios"]), proc.stdout[-2000:]
    second = doc["pairings"][1]
    assert second["wall_s"] > 0
    assert (tmp_path / "latest" / "junit-go-python-time-skipping.xml").is_file()


def test_a_failed_budget_run_fails_the_verdict_and_says_so(tmp_path: pathlib.Path) -> None:
    proc = certify(
        "--targets",
        "time-skipping",
        "--pairings",
        "python-python",
        "--out",
        str(tmp_path),
        "--bench-args",
        "--modes bogus",  # the bench refuses it: the budget run exits 2
        "--",
        "-k",
        "test_failure",
    )
    doc = json.loads((tmp_path / "latest" / "certification.json").read_text())
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "bench exited 2" in proc.stdout
    assert all(s["outcome"] == "passed" for s in doc["scenarios"])
    assert doc["budget"] is None
    assert doc["concurrency"] == []
    assert any("budget not measured" in r for r in doc["verdict_reasons"])


def test_a_reproduce_command_runs_as_printed(tmp_path: pathlib.Path) -> None:
    """The report's reproduce command, pasted into a shell at the project root, runs the
    one scenario (it once collided with the project's own ``-n auto``)."""
    from harness.report.html import reproduce

    row = {
        "id": "scenarios/test_direct_call.py::"
        "test_direct_call_moves_on_at_ack_and_agent_still_runs_to_its_end[time-skipping]",
        "target": "time-skipping",
        "measurements": {"chaos_seed": 11},
    }
    command = reproduce(row, {"zigflow_level": "workflow"})
    proc = run_printed(command, "--handshake-out", str(tmp_path), "-q", bound_s=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout, proc.stdout[-2000:]


# The pairing matrix (docs handbook, "Certify your own services"): rows made from fake data.


def _pairing_meta(name: str, primary: bool = False) -> dict[str, object]:
    zigflow, stigma = name.split("-")
    return {
        "name": name,
        "zigflow": zigflow,
        "stigma": stigma,
        "zigflow_level": "activity" if zigflow == "go" else "workflow",
        "primary": primary,
        "scope": "matrix on time-skipping, dev" if primary else "gate on time-skipping",
        "zigflow_cmd": f"{zigflow} zigflow",
        "stigma_cmd": f"{stigma} stigma",
        "targets": ["time-skipping"],
        "bench_source": "measured by this run (dev)",
    }


def _not_checked(outcome: str = "passed") -> dict[str, object]:
    check = {
        "checker": "metrics",
        "ok": True,
        "status": "not_checked",
        "area": "metrics",
        "why": "none",
    }
    return {**_scenario(outcome), "checks": [check]}


def _open(level: int, p99: float, n: int = 110) -> dict[str, object]:
    return {
        **_budget_row(p99, level),
        "n": n,
        "baseline_p50_ms": 3.0,
        "baseline_p99_ms": 9.0,
        "errors": 0,
        "peak_rss_mb": {"temporal": 250.0, "zigflow": 31.0, "stigma": 140.0},
    }


def test_a_pairing_row_counts_its_scenarios_and_judges_its_own_budget() -> None:
    scenarios = [_scenario(), _not_checked(), _scenario("skipped")]
    row = report.pairing_row(
        _pairing_meta("go-java"), scenarios, [_open(10, 40.0), _open(100, 60.0)], 100.0
    ).model_dump()
    assert row["scenarios"] == {
        "passed": 2,
        "failed": 0,
        "skipped": 1,
        "not_certified": 1,
        "not_run": 0,
    }
    assert row["budget"]["p99"] == 40.0
    assert row["budget"]["within"] is True
    assert row["verdict"] == "fail"
    assert row["reasons"] == ["1 scenario(s) skipped (not certified)"]
    assert [c["level"] for c in row["concurrency"]] == [10, 100]
    assert "cdf" not in row["concurrency"][0]  # compact: the figures, not the plots

    ok = report.pairing_row(_pairing_meta("go-python"), [_scenario()], [_open(10, 40.0)], 100.0)
    assert (ok.verdict, ok.reasons) == ("pass", [])


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([], "budget not measured"),
        ([_open(10, 140.0)], "exceeds the 100 ms budget"),
        ([_open(10, 40.0, n=60)], "60 samples"),
    ],
)
def test_a_pairing_without_its_budget_fails(rows: list[dict[str, object]], reason: str) -> None:
    row = report.pairing_row(_pairing_meta("python-java"), [_scenario()], rows, 100.0)
    assert row.verdict == "fail"
    assert any(reason in r for r in row.reasons), row.reasons


def _pairings(go_java_outcome: str = "passed") -> list[Pairing]:
    return [
        report.pairing_row(
            _pairing_meta("python-python", True), [_scenario()], [_open(10, 40.0)], 100.0
        ),
        report.pairing_row(
            _pairing_meta("go-java"),
            [_scenario(go_java_outcome)],
            [_open(10, 50.0), {**_open(100, 70.0), "mode": "closed"}, _open(100, 60.0)],
            100.0,
        ),
    ]


def test_the_verdict_fails_when_any_pairing_fails_and_names_it() -> None:
    got, reasons = report.verdict(
        [_scenario()], SCENARIO_FIGURE, 100.0, [_budget_row(40.0)], _pairings()
    )
    assert got == "pass", reasons
    assert any(r.startswith("pairing go-java: pass (1 scenario(s) passed") for r in reasons)

    got, reasons = report.verdict(
        [_scenario()], SCENARIO_FIGURE, 100.0, [_budget_row(40.0)], _pairings("failed")
    )
    assert got == "fail"
    assert "pairing go-java: FAIL (1 scenario(s) failed)" in reasons


def test_a_pairing_not_built_is_named_not_failed() -> None:
    skipped = [{"name": "python-java", "why": ".bin/stigma-java not built: run `make x`"}]
    got, reasons = report.verdict(
        [_scenario()], SCENARIO_FIGURE, 100.0, [_budget_row(40.0)], _pairings(), skipped
    )
    assert got == "pass", reasons
    assert "pairing python-java: not certified (.bin/stigma-java not built: run `make x`)" in (
        reasons
    )


def _fake_report(pairings: list[Pairing]) -> dict[str, object]:
    scenarios = [
        {**_scenario(), "id": "scenarios/t.py::a[dev]", "pairing": "python-python"},
        {
            **_scenario("failed"),
            "id": "scenarios/t.py::a[go-java:time-skipping]",
            "target": "time-skipping",
            "pairing": "go-java",
            "longrepr": "boom",
        },
    ]
    verdict, reasons = report.verdict(
        scenarios, SCENARIO_FIGURE, 100.0, [_budget_row(40.0)], pairings
    )
    return {
        "schema_version": 3,
        "verdict": verdict,
        "verdict_reasons": reasons,
        "generated_at": "2026-11-27T00:00:00+00:00",
        "targets": ["dev"],
        "wall_s": 1.0,
        "overhead_ms": SCENARIO_FIGURE,
        "overhead_by_target": {"dev": {"n": 0, **dict.fromkeys(("p50", "p95", "p99", "max"))}},
        "budget_ms": 100.0,
        "budget": None,
        "scenarios": scenarios,
        "pairings": pairings,
        "pairings_skipped": [{"name": "python-java", "why": "run `make stigma-java`"}],
        "versions": {},
    }


def test_pairing_rows_appear_in_the_markdown_and_the_html() -> None:
    from harness.report import html as report_html

    doc = _fake_report(_pairings("failed"))
    md = report.markdown(doc)
    assert "## Pairings" in md
    go_java = next(line for line in md.splitlines() if line.startswith("| go-java |"))
    cells = [c.strip() for c in go_java.strip("|").split("|")]
    assert cells[1:8] == [
        "go (activity level)",
        "java",
        "gate on time-skipping",
        "0",
        "1",
        "0",
        "0",
    ]
    assert cells[8:11] == ["25.0 / 50.0", "110", "9.0"]
    assert cells[11:] == ["30.0 / 60.0", "31.0 / 140.0", "FAIL"]  # @100: the open loop's
    assert "Not certified: **python-java** — run `make stigma-java`." in md

    page = report_html.render(doc)
    assert '<section id="pairings"><h2>Pairings</h2>' in page
    assert "<td>go-java</td>" in page
    assert '<span class="failed">FAIL</span>' in page
    assert "Not certified: <strong>python-java</strong>" in page
    # another pairing's failure is reproduced with its pairing, on its target
    failed = doc["scenarios"][1]  # type: ignore[index]
    assert report_html.node_id(failed) == "scenarios/t.py::a"
    assert report_html.reproduce(failed, {"zigflow_cmd": "/elsewhere/zigflow"}) == (
        ".venv/bin/python -m pytest -n 0 scenarios/t.py::a --temporal time-skipping "
        "--pairing go-java"
    )
