"""The gate certifies what it says it does, for services that are not ours.

- A service command written with the generic placeholders (``{temporal_address}``,
  ``{stigma_target}``) goes through the chaos stack's proxies and relay, like one
  configured by environment: the faults reach it and the scenario passes.
- A correct Stigma that ACKs 300 ms after its durable start passes the kill-after-ACK
  spec every time: the harness waits for the ACK it sees pass its relay, so the kill
  cannot land between the durable start and the ACK.

- A correct Stigma whose execution closes 17 s after its completion call landed (the
  completion activity reporting late) passes: its record is read once it has closed,
  within the call timeout; with a call timeout shorter than that, the spec fails
  naming Stigma's execution as still running, never passes without its record.

(The opposite, a Zigflow configured with Stigma's direct address, is a mutant in
tests/test_mutants.py: the chaos and corruption scenarios must error.)
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

import pytest

from tests.test_mutants import _run_child

PY = sys.executable
# How many times the kill-after-ACK spec runs against the slow-ACK Stigma (one stack).
SLOW_ACK_RUNS = int(os.environ.get("HANDSHAKE_SLOW_ACK_RUNS") or 3)


def _pytest(*args: str, out: pathlib.Path) -> list[str]:
    return [
        PY,
        "-m",
        "pytest",
        *args,
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "--handshake-out",
        str(out),
    ]


def test_placeholders_in_a_command_line_go_through_the_faults(tmp_path: pathlib.Path) -> None:
    proc = _run_child(
        _pytest(
            "scenarios/test_network.py::test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal",
            "scenarios/test_token_corruption.py::test_a_stale_attempts_token_is_dead_and_the_live_attempt_resolves",
            "--zigflow-cmd",
            f"{PY} -m reference_services.zigflow --temporal-address {{temporal_address}} "
            "--stigma-target {stigma_target}",
            "--stigma-cmd",
            f"{PY} -m reference_services.stigma --temporal-address {{temporal_address}} "
            "--listen {stigma_listen}",
            out=tmp_path,
        )
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "2 passed" in output, output[-2000:]


@pytest.mark.parametrize("runs", [SLOW_ACK_RUNS])
def test_a_slow_acking_stigma_passes_the_kill_after_ack_spec_every_time(
    runs: int, tmp_path: pathlib.Path
) -> None:
    spec = (
        "scenarios/test_restarts.py::"
        "test_stigma_killed_after_ack_before_agent_starts_still_delivers_once"
    )
    proc = _run_child(
        _pytest(
            spec,
            "--repeat",
            str(runs),
            "--stigma-cmd",
            f"{PY} -m tests.variants.stigma_slow_ack",
            out=tmp_path,
        )
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert f"{runs} passed" in output, output[-2000:]


def test_a_zigflow_with_only_its_agent_activity_passes_at_activity_level(
    tmp_path: pathlib.Path,
) -> None:
    """No workflow of its own, the activity under the seed's name: certified on the
    contract alone (activity level, the name given as a setting)."""
    proc = _run_child(
        _pytest(
            "scenarios/test_success.py",
            "scenarios/test_failure.py",
            "scenarios/test_direct_call.py",
            "scenarios/test_restarts.py::test_stigma_killed_before_the_ack_is_retried_with_a_new_token",
            "--zigflow-level",
            "activity",
            "--contract-name",
            "zigflow_agent_activity=ExecuteAgent",
            "--zigflow-cmd",
            f"{PY} -m tests.variants.zigflow_activity_only",
            out=tmp_path,
        )
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert " failed" not in output, output[-2000:]


def test_a_stigma_without_a_summary_passes_on_temporals_evidence_and_says_so(
    tmp_path: pathlib.Path,
) -> None:
    """Stigma's summary is optional evidence: without it the gate is green on what the
    histories show, and "stigma summary: not certified" is printed, never silence."""
    proc = _run_child(
        _pytest(
            "scenarios/test_success.py",
            "scenarios/test_failure.py",
            "scenarios/test_direct_call.py",
            "scenarios/test_timeout.py",
            "--stigma-cmd",
            f"{PY} -m tests.variants.stigma_without_summary",
            out=tmp_path,
        )
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "stigma summary: not certified" in output, output[-3000:]


SLOW_CLOSE_SPEC = (
    "scenarios/test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once"
)


@pytest.mark.parametrize(
    ("call_timeout_s", "passes"),
    [(60, True), (5, False)],
    ids=["read-once-closed", "still-running-at-the-bound"],
)
def test_a_stigma_slow_to_close_is_read_once_closed_within_the_call_timeout(
    call_timeout_s: int, passes: bool, tmp_path: pathlib.Path
) -> None:
    proc = _run_child(
        _pytest(
            SLOW_CLOSE_SPEC,
            "--call-timeout",
            str(call_timeout_s),
            "--stigma-cmd",
            f"{PY} -m tests.variants.stigma_slow_to_close",
            out=tmp_path,
        )
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == (0 if passes else 1), output[-4000:]
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "histories").glob("*.json")]
    stigma = {s["status"] for call in record["calls"].values() for s in call["stigma"].values()}
    verdicts = {c["checker"]: c["status"] for c in record["checks"]}
    if passes:
        assert stigma == {"completed"}, stigma
        assert verdicts["resumed_once_with_agent_result"] == "ok", verdicts
    else:  # judged while Stigma was still open: a violation, never a pass without it
        assert stigma == {"running"}, stigma
        assert verdicts["resumed_once_with_agent_result"] == "violated", verdicts
