"""Each gate scenario fails against a service with the bug it guards against.

A scenario that passes against a broken service is worse than none, so this
runs the real scenario files (in a child pytest) against deliberately broken
services plugged in through the same --stigma-cmd / --zigflow-cmd options a
team uses for its own services, and expects a failure with the right reason.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.mutant

ROOT = pathlib.Path(__file__).resolve().parent.parent

CASES = [
    # (scenario file, option, mutant module, text the failure must contain)
    (
        "test_success.py",
        "--stigma-cmd",
        "stigma_wrong_result",
        "resumed_once_with_agent_result: VIOLATED",
    ),
    (
        "test_failure.py",
        "--stigma-cmd",
        "stigma_retryable_failure",
        "agent_failure_propagated: VIOLATED",
    ),
    (
        "test_direct_call.py",
        "--stigma-cmd",
        "stigma_skips_direct",
        "direct_call_moves_on_at_ack: VIOLATED",
    ),
    ("test_direct_call.py", "--zigflow-cmd", "zigflow_waits_in_direct_mode", "no outcome within"),
    ("test_not_blocked.py", "--zigflow-cmd", "zigflow_blocking", "agent call(s) not yet pending"),
]


@pytest.mark.parametrize(
    ("scenario", "option", "mutant", "reason"), CASES, ids=[c[2] for c in CASES]
)
def test_scenario_fails_against_mutant(
    scenario: str, option: str, mutant: str, reason: str, tmp_path: pathlib.Path
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"scenarios/{scenario}",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            option,
            f"{sys.executable} -m tests.mutants.{mutant}",
            "--call-timeout",
            "8",
            "--handshake-out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, (
        f"expected the scenario to fail (exit 1), got {proc.returncode}:\n{output[-3000:]}"
    )
    assert reason in output, (
        f"failed, but not for the expected reason {reason!r}:\n{output[-3000:]}"
    )
