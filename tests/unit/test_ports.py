"""Ports chosen by one process are kept from every other process of the user while
their services start: the bind check alone cannot see a port chosen and not bound yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.servers import ports

ROOT = Path(__file__).resolve().parents[2]


def _claimed_elsewhere(port: int) -> bool:
    """Whether another process may claim ``port`` now."""
    code = f"from harness.servers import ports; print(ports._claim({port}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    ).stdout.strip()
    return out == "True"


def test_a_chosen_port_is_refused_to_another_process() -> None:
    port = ports.free_port()
    assert not _claimed_elsewhere(port)


def test_an_old_claim_is_let_go() -> None:
    first = ports.free_port()
    for _ in range(ports._CLAIMS_KEPT):
        ports.free_port()
    assert _claimed_elsewhere(first)
