"""A team's project configures the gate with a [tool.handshake] table alone, and a
mistake in that table stops every command instead of running the defaults."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tests.children import ROOT


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


# A mistake in the team's config stops every command before anything runs, with one
# line naming the file and the key: never the reference services and a green exit.

MISSPELLED = (
    '[project]\nname = "their-services"\n\n[tool.handshake]\nzigflow_command = "./zigflow"\n'
)
MISSPELLED_SAYS = "[tool.handshake] zigflow_command: unknown setting; did you mean zigflow-cmd?"
MALFORMED = '[tool.handshake]\nzigflow-cmd = "./zigflow\n'  # an unclosed string
MALFORMED_SAYS = "pyproject.toml: not valid TOML: "


def _in_project(
    tmp_path: pathlib.Path, pyproject: str, *argv: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDSHAKE_")}
    return subprocess.run(
        [sys.executable, *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr  # no traceback
    return lines[0]


@pytest.mark.parametrize(
    ("pyproject", "says"), [(MISSPELLED, MISSPELLED_SAYS), (MALFORMED, MALFORMED_SAYS)]
)
def test_a_bad_config_stops_the_gate_as_a_usage_error(
    tmp_path: pathlib.Path, pyproject: str, says: str
) -> None:
    proc = _in_project(tmp_path, pyproject, "-m", "harness.cli", "gate", "--collect-only", "-q")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = _one_line(proc.stderr)
    assert line.startswith(f"handshake gate: {tmp_path / 'pyproject.toml'}: "), line
    assert says in line
    assert "test_direct_call" not in proc.stdout, "the gate collected scenarios"


@pytest.mark.parametrize(
    ("pyproject", "says"), [(MISSPELLED, MISSPELLED_SAYS), (MALFORMED, MALFORMED_SAYS)]
)
def test_a_bad_config_stops_a_plain_pytest_run_as_a_usage_error(
    tmp_path: pathlib.Path, pyproject: str, says: str
) -> None:
    # pytest's own code for a usage error is 4 (as for its other usage errors, e.g. a
    # TLS failure in docs/how-to/tls-cluster.md); `handshake gate` makes it 2 above.
    spec = str(ROOT / "scenarios" / "test_success.py")
    proc = _in_project(tmp_path, pyproject, "-m", "pytest", spec, "--collect-only", "-q")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = _one_line(proc.stderr)
    assert line.startswith(f"ERROR: {tmp_path / 'pyproject.toml'}: "), line
    assert says in line


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["-m", "harness.certify", "--targets", "time-skipping"], "certify"),
        (["-m", "harness.cli", "certify", "--targets", "time-skipping"], "handshake certify"),
        (["-m", "harness.measure.bench"], "bench"),
        (["-m", "harness.load.run"], "load"),
    ],
)
@pytest.mark.parametrize(
    ("pyproject", "says"), [(MISSPELLED, MISSPELLED_SAYS), (MALFORMED, MALFORMED_SAYS)]
)
def test_a_bad_config_stops_certify_bench_and_load_before_anything_runs(
    tmp_path: pathlib.Path, argv: list[str], prefix: str, pyproject: str, says: str
) -> None:
    proc = _in_project(tmp_path, pyproject, *argv)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = _one_line(proc.stderr)
    assert line.startswith(f"{prefix}: {tmp_path / 'pyproject.toml'}: "), line
    assert says in line
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"], "it wrote output"
