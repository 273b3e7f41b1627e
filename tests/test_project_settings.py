"""A team's project configures the gate with a [tool.handshake] table alone."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys


def test_the_gate_takes_its_options_from_a_teams_pyproject(tmp_path: pathlib.Path) -> None:
    """A scratch project with only a [tool.handshake] table: the plugin's options come
    from it (here the output directory and the Zigflow level), through `handshake gate`."""
    out = tmp_path / "out"
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.handshake]\nout = "{out}"\nzigflow-level = "activity"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDSHAKE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "gate", "-n", "0", "-q", "-k", "test_direct_call"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (out / "logs").is_dir(), "the run did not write where [tool.handshake] said"
    # at activity level the harness's own plan workflow drives Zigflow's activity
    (history,) = (out / "histories").glob("*.json")
    assert "HandshakePlan" in history.read_text(), "not run at activity level"
