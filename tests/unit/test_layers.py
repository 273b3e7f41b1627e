"""The harness's packages import in one direction: each only from those below it.

Bottom to top. A module at the top level of ``harness/`` is either a base every
package may use (the contract, errors, settings and their registry, tokens, waits,
wire, TLS settings; the package ``target``, a deployed target's profile) or an entry
point on top of everything (the CLI, certify, the pytest plugin).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

pytestmark = pytest.mark.unit

HARNESS = pathlib.Path(__file__).resolve().parents[2] / "harness"
BASE = {
    "contract",
    "errors",
    "settings",
    "setting_names",
    "tokens",
    "waits",
    "wire",
    "tls",
    "config",
    # Phase spans (stack start, waits, judging) every layer opens for the durations table.
    "spans",
    # Target profiles (read by settings), scenario needs, hooks, the dry-run plan: data
    # and commands, no harness layer (what needs one is harness.faults.deployment).
    "target",
}
LAYERS = ["servers", "observe", "links", "stack", "faults", "drive", "judge", "measure", "report"]
TOP = {
    "load",
    "cli",
    # The child processes the commands run to their end (the gate, certify's gates).
    "child_runs",
    "certify",
    "certify_target",
    "doctor",
    "pytest_entry",
    "pytest_plugin",
    "pytest_not_certified",
    # The order the plugin hands scenarios to xdist workers in (imports xdist only).
    "schedule",
}


def _rank(name: str) -> int:
    if name in BASE:
        return -1
    if name in LAYERS:
        return LAYERS.index(name)
    assert name in TOP, f"harness.{name} is in no layer: add it to tests/unit/test_layers.py"
    return len(LAYERS)


def _imported(path: pathlib.Path) -> set[str]:
    """The harness packages or top-level modules a module imports (first name after
    ``harness.``), lazily or not."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "harness":
                names = [a.name for a in node.names]
            elif node.module.startswith("harness."):
                names = [node.module.split(".")[1]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("harness.")]
        found.update(names)
    return found


def violations(root: pathlib.Path = HARNESS) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if own == "__init__":
            continue
        for name in sorted(_imported(path) - {own}):
            if _rank(name) > _rank(own):
                found.append(f"harness/{rel} ({own}) imports harness.{name}, a layer above it")
    return found


def test_every_package_imports_only_from_below() -> None:
    assert violations() == []


def test_an_upward_import_is_found(tmp_path: pathlib.Path) -> None:
    (tmp_path / "observe").mkdir()
    (tmp_path / "observe" / "scan.py").write_text(
        "from harness.judge.checkers import Verdict\n"
        "def late():\n    import harness.report.html\n"
        "from harness import tokens\n"
    )
    assert violations(tmp_path) == [
        "harness/observe/scan.py (observe) imports harness.judge, a layer above it",
        "harness/observe/scan.py (observe) imports harness.report, a layer above it",
    ]
