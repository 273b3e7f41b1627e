"""Bad inputs and unfit environments end a command once, in one line naming what to fix,
with the documented exit code (docs/reference/cli.md, "Exit codes"): never a pytest
setup ERROR per test wrapped in pytest-asyncio's frames, never a run of zero
handshakes that exits as if it had measured something."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import sys
import time

import pytest

from harness.errors import ExitCode
from harness.load.target import ENV as TARGET_ENV
from tests.children import run_bounded

RUN_BOUND_S = 120  # a bound on a hung run, not a measurement
# The refused cluster must fail well before the readiness wait it was given.
READY_WAIT_S = 60
FAIL_FAST_S = 20
# A Stigma that starts, says so, and never serves: its log tail must reach the user.
NEVER_SERVES = shlex.join(
    [sys.executable, "-c", "import time; print('stigma booting', flush=True); time.sleep(600)"]
)
# Frames and texts of the per-test flood this replaces.
FLOOD = ("Traceback", "pytest_asyncio", "ERROR at setup", "_pytest/")


def _env() -> dict[str, str]:
    drop = {*TARGET_ENV.values(), "HANDSHAKE_ZIGFLOW_CMD", "HANDSHAKE_STIGMA_CMD"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _handshake(*argv: str) -> tuple[int, str, float]:
    began = time.monotonic()
    proc = run_bounded(
        [sys.executable, "-m", "harness.cli", *argv],
        bound_s=RUN_BOUND_S,
        env=_env(),
        merge_stderr=True,
    )
    return proc.returncode, proc.stdout, time.monotonic() - began


def _gate(tmp_path: pathlib.Path, *argv: str, workers: str = "0") -> tuple[int, str, float]:
    return _handshake(
        "gate", "-q", "-n", workers, "-k", "test_success", f"--handshake-out={tmp_path}", *argv
    )


def _one_line(output: str, says: str) -> None:
    assert output.count(says) == 1, output[-3000:]
    for noise in FLOOD:
        assert noise not in output, f"{noise!r} in:\n{output[-3000:]}"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_missing_service_binary_stops_the_gate_once(tmp_path: pathlib.Path, workers: str) -> None:
    code, output, _ = _gate(tmp_path, "--zigflow-cmd", "/nonexistent", workers=workers)
    assert code == ExitCode.ENVIRONMENT, output[-3000:]
    _one_line(output, "cannot start zigflow: '/nonexistent' not found")
    # Known before anything was started for the stack: no server ran in vain.
    started = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.log"))
    assert not started, f"logs of processes started for a stack that could not run: {started}"


def test_a_refused_local_cluster_fails_at_once(tmp_path: pathlib.Path) -> None:
    code, output, took = _gate(
        tmp_path, "--temporal", "127.0.0.1:1", "--ready-timeout", str(READY_WAIT_S)
    )
    assert code == ExitCode.ENVIRONMENT, output[-3000:]
    _one_line(output, "Temporal at 127.0.0.1:1: connection refused")
    assert took < FAIL_FAST_S, f"took {took:.0f} s to report a refused loopback address"


def test_a_service_never_serving_stops_within_the_ready_timeout_with_its_log(
    tmp_path: pathlib.Path,
) -> None:
    code, output, took = _gate(tmp_path, "--ready-timeout", "3", "--stigma-cmd", NEVER_SERVES)
    assert code == ExitCode.ENVIRONMENT, output[-3000:]
    _one_line(output, "still waiting after 3.0s: stigma health")
    assert "stigma booting" in output, output[-3000:]  # the service's log tail
    assert took < RUN_BOUND_S / 2, f"took {took:.0f} s with a 3 s readiness wait"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--temporal", "nonsense"], "--temporal='nonsense': expected"),
        (["--ready-timeout", "0"], "--ready-timeout=0.0: give seconds above 0"),
        (["--fault-matrix", "most"], "most"),
    ],
)
def test_a_bad_option_value_is_a_usage_error(
    tmp_path: pathlib.Path, argv: list[str], says: str
) -> None:
    code, output, _ = _gate(tmp_path, *argv)
    assert code == ExitCode.USAGE, output[-3000:]
    assert says in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def test_a_selection_that_runs_nothing_certifies_nothing(tmp_path: pathlib.Path) -> None:
    code, output, _ = _handshake(
        "gate", "-q", "-n", "0", "-k", "no_scenario_is_called_this", f"--handshake-out={tmp_path}"
    )
    assert code == ExitCode.NOT_CERTIFIED, output[-3000:]


def test_load_against_a_refused_local_cluster_names_it_and_exits_3() -> None:
    code, output, took = _handshake("load", "--temporal", "127.0.0.1:1", "--duration", "2s")
    assert code == ExitCode.ENVIRONMENT, output
    # The run's header (where its settings came from), then the cause in one line.
    lines = [line for line in output.strip().splitlines() if not line.startswith("load: config ")]
    assert len(lines) == 1, output
    assert "127.0.0.1:1" in lines[0], output
    assert "connection refused" in lines[0], output
    assert took < FAIL_FAST_S, f"took {took:.0f} s"


def test_load_with_a_malformed_address_is_a_usage_error() -> None:
    code, output, _ = _handshake("load", "--temporal", "nonsense")
    assert code == ExitCode.USAGE, output
    assert "--temporal 'nonsense':" in output, output
    assert "HOST:PORT" in output, output


def test_certify_whose_gate_cannot_set_up_stops_with_3_and_writes_no_report(
    tmp_path: pathlib.Path,
) -> None:
    """A stack that cannot start is the environment's fault, not a verdict on the
    services: no report (a crash of pytest, its INTERNAL_ERROR 3 too, still gets one:
    tests/test_certify_integrity.py)."""
    figures = tmp_path / "bench.json"
    row = {"level": 10, "mode": "open", "n": 110, "p50": 20.0, "p99": 40.0, "max": 50.0}
    figures.write_text(json.dumps({"generated_at": "2026-12-01T00:00:00+00:00",
                                   "concurrency": [row]}))  # fmt: skip
    # Two gates side by side: the first to end on the setup error stops the other.
    code, output, _ = _handshake(
        "certify", "--temporal", "time-skipping,dev", "--zigflow-cmd", "/nonexistent",
        "--bench-json", str(figures), "--out", str(tmp_path / "out"), "--", "-k", "test_success",
    )  # fmt: skip
    assert code == ExitCode.ENVIRONMENT, output[-3000:]
    # the cause, from the end of the failed gate's output (all of it in its log)
    assert "cannot start zigflow: '/nonexistent' not found" in output, output[-3000:]
    assert "could not set up (above); no report" in output, output[-3000:]
    latest = tmp_path / "out" / "latest"
    for target in ("time-skipping", "dev"):
        # each gate started, ended (by itself, or stopped by the other's end), its log kept
        assert f"certify: [{target}] started: " in output, output[-3000:]
        assert re.search(rf"certify: \[{target}\] (ended|stopped): exit ", output), output
        assert (latest / f"gate-{target}.log").is_file()
    assert not (latest / "certification.json").exists()
