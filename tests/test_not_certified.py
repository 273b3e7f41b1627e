"""Optional evidence that a service does not give is "not checked", never a silent green.

End to end: the real scenario files (in a child pytest, as in test_mutants.py) against
reference services started without their metrics endpoints, through the same
--stigma-cmd / --zigflow-cmd options a team uses for its own services.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

from tests.test_certify import certify
from tests.test_mutants import _run_child

WRAPPER = f"{sys.executable} -m tests.mutants.without_metrics"
SERVICES = [
    "--zigflow-cmd",
    f"{WRAPPER} reference_services.zigflow",
    "--stigma-cmd",
    f"{WRAPPER} reference_services.stigma",
]


def _records(results: pathlib.Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(results.glob("results-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def test_metrics_scenarios_pass_without_metrics_and_say_they_are_not_checked(
    tmp_path: pathlib.Path,
) -> None:
    results = tmp_path / "results"
    proc = _run_child(
        [
            sys.executable,
            "-m",
            "pytest",
            "scenarios/test_metrics.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-p",
            "no:randomly",
            *SERVICES,
            "--call-timeout",
            "8",
            "--handshake-out",
            str(tmp_path / "out"),
            "--handshake-results",
            str(results),
        ]
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"expected a pass, got {proc.returncode}:\n{output[-3000:]}"
    records = _records(results)
    assert len(records) == 2, records
    # passed, not skipped: the rest of each scenario was judged
    assert all(r["outcome"] == "passed" for r in records), [
        (r["id"], r["outcome"]) for r in records
    ]
    for r in records:
        not_checked = [c for c in r["checks"] if c.get("status") == "not_checked"]
        assert not_checked, (r["id"], r["checks"])
        assert all(c["area"] == "metrics" for c in not_checked), not_checked
        # each service is named, with the variable it ignored
        assert all(
            "ZIGFLOW_METRICS_LISTEN" in c["why"] and "STIGMA_METRICS_LISTEN" in c["why"]
            for c in not_checked
        ), not_checked
    # and the person running it is told, not only the records
    assert "not certified" in output, output[-3000:]
    assert "metrics" in output.split("not certified", 1)[1], output[-3000:]


def test_load_smoke_passes_with_a_stigma_without_metrics_and_says_so(
    tmp_path: pathlib.Path,
) -> None:
    """Issue 20: the load smoke needed Stigma's metrics (KeyError: 'metrics_agree'), so a
    Stigma without them could not get a green gate. Now its record says what was not
    checked, and Zigflow's counter (exported) is still judged."""
    results = tmp_path / "results"
    proc = _run_child(
        [
            sys.executable,
            "-m",
            "pytest",
            "scenarios/test_load_smoke.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-p",
            "no:randomly",
            "--stigma-cmd",
            f"{WRAPPER} reference_services.stigma",
            "--handshake-out",
            str(tmp_path / "out"),
            "--handshake-results",
            str(results),
        ]
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"expected a pass, got {proc.returncode}:\n{output[-3000:]}"
    [record] = _records(results)
    assert record["outcome"] == "passed", record
    [check] = [c for c in record["checks"] if c["checker"] == "metrics_agree_with_history"]
    assert check["status"] == "not_checked", check
    assert check["area"] == "metrics", check
    # the gate's own reason, so the report gathers it with the other metrics scenarios
    assert check["why"] == "stigma exports no metrics on STIGMA_METRICS_LISTEN", check
    assert check["checked"] == 1, check  # Zigflow's completed counter, still judged
    assert "metrics: not certified" in output, output[-3000:]


def test_corruption_scenarios_pass_without_stigmas_summary_on_a_real_server(
    tmp_path: pathlib.Path,
) -> None:
    """Two corruption scenarios asserted Stigma's own account of the token (its summary,
    optional evidence) beside their checkers: a Stigma without one failed them, on a
    real server (the payload limit, another namespace) as on time-skipping (the first).
    Now Zigflow's side is judged and Stigma's recorded "not checked"."""
    results = tmp_path / "results"
    proc = _run_child(
        [
            sys.executable,
            "-m",
            "pytest",
            "scenarios/test_token_corruption.py::"
            "test_a_result_over_the_payload_limit_is_classified_and_the_activity_resolved",
            "scenarios/test_token_corruption.py::"
            "test_a_token_of_another_namespace_is_rejected_and_the_activity_resolved",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "--temporal",
            "dev",
            "--stigma-cmd",
            f"{sys.executable} -m tests.variants.stigma_without_summary",
            "--handshake-out",
            str(tmp_path / "out"),
            "--handshake-results",
            str(results),
        ]
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"expected a pass, got {proc.returncode}:\n{output[-3000:]}"
    records = _records(results)
    assert [r["outcome"] for r in records] == ["passed", "passed"], records
    for r in records:
        gaps = [c for c in r["checks"] if c.get("status") == "not_checked"]
        assert any(c["area"] == "stigma summary" for c in gaps), (r["id"], r["checks"])
    assert "stigma summary: not certified" in output, output[-3000:]


def test_certify_without_metrics_lists_them_as_not_certified_and_fails_on_nothing_else(
    tmp_path: pathlib.Path,
) -> None:
    figures = tmp_path / "bench.json"
    # a complete row within the budget: the verdict then rests on the scenarios alone
    row = {"level": 10, "mode": "open", "n": 110, "errors": 0, "throughput_per_s": 9.0}
    row |= {"p50": 20.0, "p95": 30.0, "p99": 40.0, "p999": 45.0, "max": 50.0}
    row |= {"baseline_p50_ms": 5.0, "baseline_p99_ms": 9.0}
    figures.write_text(
        json.dumps({"generated_at": "2026-11-25T00:00:00+00:00", "concurrency": [row]})
    )
    proc = certify(
        "--targets",
        "time-skipping",
        "--out",
        str(tmp_path),
        "--bench-json",
        str(figures),
        *SERVICES,
        "--",
        "-k",
        "test_agent_failure_fails_zigflow_activity",
    )
    out = tmp_path / "latest"
    doc = json.loads((out / "certification.json").read_text())
    # One scenario is not a certificate: the behaviours it does not exercise are "not
    # run", and that alone fails the verdict. Nothing else does: metrics are optional.
    assert proc.returncode == 1, proc.stdout[-3000:]
    failing = [
        r
        for r in doc["verdict_reasons"]
        if r.startswith(("behaviours required, not run", "pairing custom: FAIL"))
    ]
    assert doc["verdict"] == "fail"
    assert failing, doc["verdict_reasons"]
    assert all("not run on time-skipping" in r or "FAIL" in r for r in failing), failing
    assert not any("failed" in r and "scenario" in r for r in doc["verdict_reasons"])
    assert all(s["outcome"] == "passed" for s in doc["scenarios"])
    metrics_row = next(
        b for b in doc["behaviours"] if "metrics_agree_with_history" in b["checkers"]
    )
    assert metrics_row["cells"]["time-skipping"]["status"] == "not_checked", metrics_row
    [gap] = doc["not_certified"]
    assert gap["area"] == "metrics"
    assert "ZIGFLOW_METRICS_LISTEN" in gap["why"]
    assert "STIGMA_METRICS_LISTEN" in gap["why"]
    assert gap["scenarios"] == [s["id"] for s in doc["scenarios"]]
    assert f"metrics: not certified ({gap['why']})" in doc["verdict_reasons"]
    assert "Not certified" in (out / "certification.md").read_text()
    assert "Not certified" in (out / "certification.html").read_text()
