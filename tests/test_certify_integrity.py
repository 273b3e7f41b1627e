"""A certificate is a promise: its verdict comes from what ran (every collected test,
the run's exit code, its ledger, its JUnit file and its records), and it can be
recomputed from those raw records (``handshake report --check``)."""

from __future__ import annotations

import html
import json
import os
import pathlib
import shlex
import sys

import pytest

from tests.children import run_bounded, run_printed

pytestmark = pytest.mark.slow(40)

SELECTION = "test_success or test_failure"
FIXTURE = "test_plan_continues_after_each_handshake"
SKIPPED = "test_a_request_stigma_refuses_fails_at_once_and_is_not_retried"
CRASHED = "test_agent_failure_fails_zigflow_activity_with_its_type_and_message"
# A custom pairing whose command lines hold placeholders, and (Zigflow) a program in a
# directory whose name has a space: the report's reproduce commands must paste as is.
STIGMA = f"{shlex.quote(sys.executable)} -m reference_services.stigma"


def _zigflow(tmp_path: pathlib.Path) -> str:
    wrapper = tmp_path / "team tools" / "zigflow"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m reference_services.zigflow "$@"\n'
    )
    wrapper.chmod(0o755)
    return (
        f"{shlex.quote(str(wrapper))} --temporal-address {{temporal_address}} "
        "--stigma-target {stigma_target}"
    )


def _figures(tmp_path: pathlib.Path) -> pathlib.Path:
    """Budget figures within the budget, so only the scenarios decide."""
    path = tmp_path / "bench.json"
    row = {"level": 10, "mode": "open", "n": 110, "p50": 20.0, "p99": 40.0, "max": 50.0}
    path.write_text(json.dumps({"concurrency": [{**row, "errors": 0}]}))
    return path


def _certify(tmp_path: pathlib.Path, sabotage: str, *extra: str) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "CERTIFY_SABOTAGE": sabotage}
    proc = run_bounded(
        [sys.executable, "-m", "harness.certify", "--targets", "time-skipping",
         "--out", str(tmp_path), "--bench-json", str(_figures(tmp_path)),
         "--zigflow-cmd", _zigflow(tmp_path), "--stigma-cmd", STIGMA, *extra,
         "--", "-k", SELECTION, "-p", "tests.variants.sabotage"],
        bound_s=300, env=env, merge_stderr=True,
    )  # fmt: skip
    doc = json.loads((tmp_path / "latest" / "certification.json").read_text())
    assert proc.returncode == (0 if doc["verdict"] == "pass" else 1), proc.stdout[-3000:]
    return proc.returncode, doc


def _outcomes(doc: dict[str, object]) -> dict[str, str]:
    scenarios = doc["scenarios"]
    assert isinstance(scenarios, list)
    return {s["id"].split("::")[1].split("[")[0]: s["outcome"] for s in scenarios}


def _check(out: pathlib.Path) -> tuple[int, str]:
    proc = run_bounded(
        [sys.executable, "-m", "harness.cli", "report", "--check", str(out)],
        bound_s=60,
        merge_stderr=True,
    )
    return proc.returncode, proc.stdout


def test_a_fixture_error_a_skip_and_a_crashed_worker_fail_the_verdict(
    tmp_path: pathlib.Path,
) -> None:
    code, doc = _certify(tmp_path, f"fixture={FIXTURE};skip={SKIPPED};crash={CRASHED}")
    assert code == 1
    assert doc["verdict"] == "fail"
    outcomes = _outcomes(doc)
    assert outcomes[FIXTURE] == "failed", outcomes
    assert outcomes[SKIPPED] == "skipped", outcomes
    # The crashed worker wrote no record: pytest's ledger and JUnit say it failed.
    assert outcomes[CRASHED] == "failed", outcomes
    assert outcomes["test_zigflow_resumes_with_exactly_the_agents_result_once"] == "passed"
    reasons = "\n".join(doc["verdict_reasons"])  # type: ignore[arg-type]
    for name in (FIXTURE, SKIPPED, CRASHED):
        assert name in reasons, reasons
    crashed = next(s for s in doc["scenarios"] if CRASHED in s["id"])  # type: ignore[attr-defined]
    assert "crashed" in crashed["longrepr"] or "without writing" in crashed["longrepr"]
    md = (tmp_path / "latest" / "certification.md").read_text()
    assert "## Behaviours" in md
    assert "**FAILED**" in md
    # What was certified: each service's program and its digest.
    programs = doc["manifest"]["programs"]["custom"]  # type: ignore[index]
    assert [p["role"] for p in programs] == ["zigflow", "stigma"]
    assert [p["kind"] for p in programs] == ["script", "python-module"]
    assert all(len(p["sha256"]) == 64 for p in programs)
    assert programs[0]["command"] == _zigflow(tmp_path)

    # The failure's reproduce command, exactly as the report prints it, runs that one
    # scenario on the same services (without the sabotage, it passes).
    from harness.report import render
    from harness.report.model import CertificationReport

    stored = CertificationReport.from_json((tmp_path / "latest" / "certification.json").read_text())
    row = next(s for s in stored.scenarios if FIXTURE in s.id)
    command = render.reproduce(row, stored.versions, stored.connection)
    page = html.unescape((tmp_path / "latest" / "certification.html").read_text())
    assert command in page
    proc = run_printed(command, "--handshake-out", str(tmp_path / "again"), "-q", bound_s=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout, proc.stdout[-2000:]

    # The stored verdict follows from the raw records...
    out = tmp_path / "latest"
    code, text = _check(out)
    assert code == 0, text
    # ...and an edited one does not.
    path = out / "certification.json"
    original = path.read_text()
    edited = json.loads(original)
    edited["verdict"] = "pass"
    path.write_text(json.dumps(edited))
    code, text = _check(out)
    assert code == 1, text
    assert "verdict: stored 'pass', recomputed 'fail'" in text, text
    edited = json.loads(original)
    edited["pairings"][0]["scenarios"]["failed"] = 0
    edited["scenarios"] = [s for s in edited["scenarios"] if CRASHED not in s["id"]]
    path.write_text(json.dumps(edited))
    code, text = _check(out)
    assert code == 1, text
    assert CRASHED in text, text
    assert "pairing custom" in text, text


def test_a_crashed_run_fails_the_verdict_naming_what_is_missing(tmp_path: pathlib.Path) -> None:
    """Without xdist the crash takes the whole pytest run: no ledger, no JUnit file."""
    code, doc = _certify(tmp_path, f"crash={CRASHED}", "--workers", "0")
    assert code == 1
    reasons = "\n".join(doc["verdict_reasons"])  # type: ignore[arg-type]
    assert "no ledger" in reasons, reasons
    assert "no JUnit file" in reasons, reasons
    assert "pytest exit code 3" in reasons, reasons
    (run,) = doc["runs"]  # type: ignore[misc]
    assert run["exit_code"] == 3, run
    assert run["problems"], run
    code, text = _check(tmp_path / "latest")
    assert code == 0, text


def test_the_reference_pairing_passes_with_nothing_sabotaged(tmp_path: pathlib.Path) -> None:
    """The same selection, nothing broken: every entry passed and the run agrees with
    itself. (Behaviours whose scenarios are not in the selection are 'not run', so the
    verdict of a partial run is never a pass: that is checked too.)"""
    code, doc = _certify(tmp_path, "")
    assert set(_outcomes(doc).values()) == {"passed"}, _outcomes(doc)
    assert doc["runs"][0]["problems"] == []  # type: ignore[index]
    reasons = "\n".join(doc["verdict_reasons"])  # type: ignore[arg-type]
    assert code == 1
    assert "behaviours required, not run on time-skipping" in reasons, reasons
    assert _check(tmp_path / "latest")[0] == 0
