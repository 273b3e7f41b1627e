"""Whether Zigflow's workflow waits for Stigma to confirm a cancellation is Zigflow's
choice, not the contract's: Go's and Python's SDKs default to TRY_CANCEL (the workflow
closes at once), and the gate must certify such a Zigflow on what matters, that the
agent stops. A Stigma that lets the agent run on once nobody can take its result fails.
Each reference Stigma (Python, and Java when built) stops its agent under such a Zigflow.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import sys

import pytest

from harness.config import STIGMA_IMPLEMENTATIONS
from tests.test_mutants import _run_child, fails_for

SPEC = "test_heartbeats.py::test_cancelling_zigflow_reaches_stigma_and_stops_the_agent"
TRY_CANCEL_ZIGFLOW = ["--zigflow-cmd", f"{sys.executable} -m tests.variants.zigflow_try_cancel"]


def _built_stigma(language: str) -> list[str]:
    """The reference Stigma in ``language`` as the presets start it; one not built
    (the Java Stigma without ``make stigma-java``) is skipped, except under CI=true,
    where setup is expected to have built it."""
    impl = STIGMA_IMPLEMENTATIONS[language]
    why = impl.missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return ["--stigma-cmd", shlex.join(impl.command)]


@pytest.mark.parametrize("stigma", list(STIGMA_IMPLEMENTATIONS))
def test_a_zigflow_that_does_not_wait_for_the_cancellation_is_certified(
    stigma: str, tmp_path: pathlib.Path
) -> None:
    argv = [sys.executable, "-m", "pytest", f"scenarios/{SPEC}", "-q", "-p", "no:cacheprovider",
            "-n", "0", *TRY_CANCEL_ZIGFLOW, *_built_stigma(stigma),
            "--handshake-out", str(tmp_path)]  # fmt: skip
    proc = _run_child(argv)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "1 passed" in output, output[-2000:]


def test_a_stigma_that_lets_the_agent_run_on_fails_under_such_a_zigflow(
    tmp_path: pathlib.Path,
) -> None:
    fails_for(
        SPEC,
        "agent cancelled (attempt >= 1)",
        tmp_path,
        *TRY_CANCEL_ZIGFLOW,
        "--stigma-cmd",
        f"{sys.executable} -m tests.mutants.stigma_runs_on_after_zigflow_closed",
    )
