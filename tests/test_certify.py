"""The certification pipeline: statistics, verdict rules, and one real end-to-end run."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from harness import report, stats
from harness.config import StackConfig, from_env
from harness.errors import ConfigError

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


@pytest.mark.parametrize(
    ("scenarios", "overhead", "verdict", "reason"),
    [
        ([_scenario()], {"n": 5, "p99": 40.0, "target": "dev"}, "pass", "passed"),
        ([_scenario(), _scenario("failed")], {"n": 5, "p99": 40.0}, "fail", "failed"),
        ([_scenario("skipped")], {"n": 5, "p99": 40.0}, "fail", "skipped"),
        ([_scenario()], {"n": 5, "p99": 140.0}, "fail", "exceeds"),
        ([_scenario()], {"n": 0, "p99": None}, "fail", "no overhead sample"),
        ([], {"n": 5, "p99": 1.0}, "fail", "no scenario ran"),
    ],
)
def test_verdict_rules(
    scenarios: list[dict[str, object]], overhead: dict[str, object], verdict: str, reason: str
) -> None:
    got, reasons = report.verdict(scenarios, overhead, 100.0)
    assert got == verdict
    assert any(reason in r for r in reasons), reasons


def test_bad_settings_say_what_to_fix() -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        StackConfig(temporal="nonsense").validate()
    with pytest.raises(ConfigError, match="HANDSHAKE_STIGMA_CMD"):
        from_env({"HANDSHAKE_STIGMA_CMD": "java -jar 'unterminated"})


def test_certify_cli_rejects_empty_targets() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.certify", "--targets", " , "],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "--targets is empty" in proc.stderr


def test_certify_writes_a_complete_report(tmp_path: pathlib.Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.certify",
            "--targets",
            "time-skipping",
            "--out",
            str(tmp_path),
            "--",
            "-k",
            "test_success or test_failure",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = tmp_path / "latest"
    doc = json.loads((out / "certification.json").read_text())
    assert proc.returncode == (0 if doc["verdict"] == "pass" else 1), proc.stdout[-2000:]
    assert set(doc) >= {"scenarios", "overhead_ms", "budget_ms", "versions", "verdict"}
    assert doc["budget_ms"] == 100
    ids = [s["id"] for s in doc["scenarios"]]
    assert len(ids) == 3, ids
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
