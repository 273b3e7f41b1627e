"""The durations tables of docs/benchmarks.md (scripts/bench_page.py)."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_page  # noqa: E402


def _gate() -> dict[str, object]:
    return {
        "generated_at": "2026-01-02T03:00:00+00:00",
        "git_sha": "abc123def4567890",
        "machine": {"cpus": 2, "platform": "Linux", "python": "3.11", "loadavg": [2.5, 2, 1]},
        "wall_s": 50.0,
        "workers": 2,
        "tests": {
            "scenarios/test_a.py::fast": {
                "outcome": "passed",
                "phases": {"setup": 0.5, "wait": 1.0, "body": 0.5, "teardown": 0.0},
            },
            "scenarios/test_b.py::slow_start": {
                "outcome": "passed",
                "phases": {"stack_start": 20.0, "setup": 1.0, "body": 2.0, "judge": 1.0},
            },
            "scenarios/test_c.py::waits": {
                "outcome": "call failed",
                "phases": {"setup": 0.1, "wait": 9.0, "body": 1.0, "judge": 0.4},
            },
        },
    }


def test_the_gate_table_is_slowest_first_with_its_dominant_phase_and_totals() -> None:
    lines = bench_page.gate_section(_gate())
    rows = [ln for ln in lines if ln.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "`test_b.py::slow_start`",
        "`test_c.py::waits`",
        "`test_a.py::fast`",
    ]
    assert (
        rows[0]
        == "| `test_b.py::slow_start` | 24.0 | 20.0 | 1.0 | 0.0 | 2.0 | 1.0 | 0.0 | stack start |"
    )
    assert rows[1].endswith("| waiting on real time |")
    total = next(ln for ln in lines if ln.startswith("| **all 3**"))
    assert total == "| **all 3** | 36.5 | 20.0 | 1.6 | 10.0 | 3.5 | 1.4 | 0.0 | stack start |"
    text = "\n".join(lines)
    # the sum against the wall time of the workers: 36.5 / (2 x 50) = 36 %
    assert "adds up to 36.5 s on 2 worker(s) in 50.0 s of wall time: 36 %" in text
    assert "Measured 2026-01-02T03:00:00+00:00 at `abc123def456`, 2 CPUs" in text
    assert "load average at the end 2.5, 2, 1" in text
    assert "Not passed in this run: `test_c.py::waits`." in text


def test_beyond_the_top_rows_the_rest_is_one_row() -> None:
    tests = {f"scenarios/t.py::t{i}": {"body": float(i)} for i in range(1, 6)}
    lines = bench_page._phase_table(tests, "scenario", top=2)
    assert lines[2].startswith("| `t.py::t5` | 5.0 |")
    assert lines[4].startswith("| the other 3 | 6.0 |")  # 3 + 2 + 1
    assert lines[5].startswith("| **all 5** | 15.0 |")


SUITE_TEXT = """\
============================= slowest 80 durations =============================
120.50s call     tests/test_mutants.py::test_a[x]
30.00s call     tests/test_mutants.py::test_b
2.00s setup    tests/test_mutants.py::test_b
45.25s call     tests/test_cli.py::test_gate
======= 900 passed, 3 skipped in 812.34s (0:13:32) =======
rc=0
"""


def test_the_suite_table_from_pytest_durations_text_is_per_file() -> None:
    lines = bench_page.suite_section(SUITE_TEXT, "suite.txt", "Measured then.")
    text = "\n".join(lines)
    assert "| `tests/test_mutants.py` | 2 | 2.0 | 150.5 | 0.0 | 152.5 |" in text
    assert text.index("tests/test_mutants.py") < text.index("tests/test_cli.py")
    assert "| **all** | 3 | 2.0 | 195.8 | 0.0 | 197.8 |" in text
    assert "the 4 slowest phases" in text
    assert "900 passed, 3 skipped in 812.34s (0:13:32)" in text


def test_the_suite_table_from_a_durations_json_counts_every_phase() -> None:
    doc = _gate()
    tests, covers = bench_page.suite_tests(json.dumps(doc))
    assert tests["scenarios/test_b.py::slow_start"] == {"setup": 21.0, "call": 3.0, "teardown": 0.0}
    assert "every test" in covers


def test_certify_table_sums_a_scenarios_rows_and_names_each_child_run() -> None:
    doc = {
        "generated_at": "2026-01-02",
        "wall_s": 600,
        "pairings": [{"name": "python-python", "wall_s": 400}],
        "scenarios": [
            {"id": "scenarios/t.py::a[time-skipping]", "phases_s": {"body": 1.0, "wait": 2.0}},
            {"id": "scenarios/t.py::a[dev]", "phases_s": {"body": 1.5}},
            {"id": "scenarios/t.py::b[dev]", "duration_s": 3.0},  # written before: no phases
        ],
    }
    lines = bench_page.certify_section(doc)
    assert lines is not None
    text = "\n".join(lines)
    assert "python-python 6 min 40 s" in text
    assert "| `t.py::a` | 4.5 | 0.0 | 0.0 | 2.0 | 2.5 |" in text
    assert bench_page.certify_section({"scenarios": [{"id": "x", "duration_s": 1}]}) is None


def test_a_section_without_a_new_run_is_kept_from_the_page(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps(_gate()))
    suite = tmp_path / "suite.txt"
    suite.write_text(SUITE_TEXT)
    out = tmp_path / "benchmarks.md"
    missing = tmp_path / "none.json"
    monkeypatch.setattr(bench_page, "CANDIDATES", (missing,))
    # First both tables from their runs' files; then, with no run's file at all, both
    # are kept as the page has them (a fresh clone must not wipe the committed ones).
    given = ["--gate-durations", str(gate), "--suite-durations", str(suite)]
    assert bench_page.main(["--out", str(out), "--measured", str(missing), *given]) == 0
    first = out.read_text()
    assert "`test_b.py::slow_start`" in first
    assert "`tests/test_mutants.py`" in first
    monkeypatch.setattr(bench_page, "GATE_DURATIONS", (missing,))
    monkeypatch.setattr(bench_page, "SUITE_DURATIONS", (missing,))
    assert bench_page.main(["--out", str(out), "--measured", str(missing)]) == 0
    again = out.read_text()
    for heading in (bench_page.GATE_H, bench_page.SUITE_H):
        assert bench_page.kept_section(again, heading) == bench_page.kept_section(first, heading)
    certify = bench_page.kept_section(again, bench_page.CERTIFY_H) or []
    assert bench_page.DURATIONS_EMPTY in certify
