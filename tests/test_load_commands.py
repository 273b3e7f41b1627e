"""A load run tests the services the operator named, never silently the reference.

A load smoke that brings up the reference services whatever --stigma-cmd says passes
for a team whose own service is broken. These plug in a Stigma that exits at once (as
tests/mutants/ plug in broken services), by option and by environment, and expect the
run to fail and name it. tests/unit/test_load_commands.py checks the plumbing.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import sys

import pytest

from harness.load.target import ENV as TARGET_ENV
from tests.children import run_bounded

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN_BOUND_S = 180  # a bound on a hung run, not a measurement
EXITS_AT_ONCE = shlex.join([sys.executable, "-c", "import sys; sys.exit(3)"])
COMMAND_VARS = ("HANDSHAKE_ZIGFLOW_CMD", "HANDSHAKE_STIGMA_CMD")


def _interruptible(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` to its end, bounded (tests/children.py: run.py and Locust's bridge
    both tear their stack down on the SIGINT)."""
    proc = run_bounded(argv, bound_s=RUN_BOUND_S, env=env, merge_stderr=True)
    return proc.returncode, proc.stdout


def _load_run(extra: list[str], env: dict[str, str], out: pathlib.Path) -> tuple[int, str]:
    argv = [sys.executable, "-m", "harness.load.run", "--users", "1", "--spawn-rate", "1",
            "--duration", "2s", "--overhead-budget-ms", "1e9", "--out", str(out),
            *extra]  # fmt: skip
    return _interruptible(argv, env)


def _clean_env() -> dict[str, str]:
    """The local stack (no target address) and no service commands but the test's own."""
    drop = {*TARGET_ENV.values(), *COMMAND_VARS}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.parametrize("via", ["option", "env"])
def test_load_run_fails_and_names_a_broken_stigma(via: str, tmp_path: pathlib.Path) -> None:
    env = _clean_env()
    extra: list[str] = []
    if via == "option":
        extra = ["--stigma-cmd", EXITS_AT_ONCE]
    else:
        env["HANDSHAKE_STIGMA_CMD"] = EXITS_AT_ONCE
    code, output = _load_run(extra, env, tmp_path / "load")
    assert code != 0, f"a load run against a Stigma that exits at once passed:\n{output[-3000:]}"
    assert "stigma exited with code 3" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]  # a clear message, not a crash


@pytest.mark.parametrize(("budget_ms", "expected"), [("1e9", 0), ("0.001", 1)])
def test_plain_locust_judges_its_own_thresholds(
    budget_ms: str, expected: int, tmp_path: pathlib.Path
) -> None:
    """`locust -f harness/load/locustfile.py --headless` as run against staging: exit 1
    and the reason when a threshold is breached, 0 when within (not only via make load)."""
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "harness/load/locustfile.py"),
            "--headless", "-u", "1", "-r", "1", "-t", "10s", "--only-summary",
            "--overhead-budget-ms", budget_ms]  # fmt: skip
    env = {**_clean_env(), "LOAD_OUT": str(tmp_path), "LOAD_LOG_DIR": str(tmp_path / "logs")}
    code, output = _interruptible(argv, env)
    assert code == expected, output[-3000:]
    breached = "threshold breached: overhead p99" in output
    assert breached == bool(expected), output[-3000:]
