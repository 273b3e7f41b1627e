"""The gate fails a Go Zigflow with a bug a team could ship, for the right reason.

Each mutant is the Go reference Zigflow (reference_services/zigflow_go) with a small
patch from tests/mutants_go/ applied to a copy in a temporary directory (the reference
stays clean), built there, and plugged in at activity level with --zigflow-cmd, as a
team's own Go Zigflow is. As in tests/test_mutants.py, one spec that catches the bug is
run in a child pytest and must fail with the named violation.

Skipped when Go (or the protoc plugins `make zigflow-go` installs) is missing, except
under CI=true, where setup is expected to have them.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.test_mutants import fails_for

pytestmark = pytest.mark.mutant

ROOT = pathlib.Path(__file__).resolve().parent.parent
GO_DIR = ROOT / "reference_services" / "zigflow_go"
PATCHES = ROOT / "tests" / "mutants_go"
PLUGINS = [ROOT / ".bin" / "protoc-gen-go", ROOT / ".bin" / "protoc-gen-go-grpc"]

CASES = [
    # (scenario, patch, Temporal target, text the failure must contain)
    (
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
        "zigflow_go_result_not_pending",
        "time-skipping",
        "resumed_once_with_agent_result: VIOLATED",
    ),
    (
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
        "zigflow_go_no_deadline",
        "time-skipping",
        "start_agent_has_deadline: VIOLATED",
    ),
    (
        "test_network.py::test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal",
        "zigflow_go_never_retries",
        "time-skipping",
        "to reach attempt 2",
    ),
    (
        "test_shutdown.py::test_zigflow_stopped_with_result_pending_activities_resumes_them",
        "zigflow_go_fails_pending_on_shutdown",
        "time-skipping",
        "in_flight_kept_over_shutdown: VIOLATED",
    ),
]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: setup is expected to provide it)")
    pytest.skip(what)


def build_mutant(patch: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    """The reference with ``patch`` applied, built in ``work``; returns the binary."""
    src = work / "src"
    shutil.copytree(GO_DIR, src, ignore=shutil.ignore_patterns("gen"))
    subprocess.run(
        ["patch", "-p1", "--batch", "--forward", "-i", str(patch)],
        cwd=src,
        check=True,
        capture_output=True,
        text=True,
    )
    (src / "gen").mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-Iproto",
            f"--plugin=protoc-gen-go={PLUGINS[0]}",
            f"--plugin=protoc-gen-go-grpc={PLUGINS[1]}",
            f"--go_out={src / 'gen'}",
            "--go_opt=paths=source_relative",
            f"--go-grpc_out={src / 'gen'}",
            "--go-grpc_opt=paths=source_relative",
            "stigma/v1/stigma_service.proto",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    binary = work / patch.stem
    built = subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, f"{patch.name} does not build:\n{built.stderr[-3000:]}"
    return binary


def _ready() -> None:
    if shutil.which("go") is None:
        _missing("go not found: the Go Zigflow mutants cannot be built")
    if not all(os.access(p, os.X_OK) for p in PLUGINS):
        _missing("protoc-gen-go / protoc-gen-go-grpc not in .bin: `make zigflow-go`")
    if shutil.which("patch") is None:
        _missing("patch not found: the Go Zigflow mutants cannot be made")


@pytest.fixture(scope="module")
def go_mutant(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], pathlib.Path]:
    """``go_mutant(name)``: that mutant's binary, built on first use in this process.
    Each case builds only its own mutant: under xdist the cases of this module run on
    different workers, and building every mutant on each of them was most of their time."""
    _ready()
    work = tmp_path_factory.mktemp("go-mutants")
    built: dict[str, pathlib.Path] = {}

    def get(name: str) -> pathlib.Path:
        if name not in built:
            built[name] = build_mutant(PATCHES / f"{name}.patch", work / name)
        return built[name]

    return get


def test_every_go_mutant_is_exercised() -> None:
    assert {c[1] for c in CASES} == {p.stem for p in PATCHES.glob("*.patch")}


@pytest.mark.parametrize(
    ("scenario", "mutant", "target", "reason"), CASES, ids=[c[1] for c in CASES]
)
def test_scenario_fails_against_go_mutant(
    scenario: str,
    mutant: str,
    target: str,
    reason: str,
    go_mutant: Callable[[str], pathlib.Path],
    tmp_path: pathlib.Path,
) -> None:
    fails_for(
        scenario,
        reason,
        tmp_path,
        "--temporal",
        target,
        "--zigflow-level",
        "activity",
        "--zigflow-cmd",
        str(go_mutant(mutant)),
    )
