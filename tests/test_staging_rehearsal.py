"""`handshake certify --target` on services the harness did not start: the reference
services deployed by the rehearsal's supervisor (reference_services/deploy), Toxiproxy
in their paths, a dev server as the cluster. Small selections of scenarios, so each
run takes seconds; `make staging-rehearsal` runs them all with the game day.

- a mutant Stigma deployed fails the certificate, naming the behaviour it breaks;
- a target without hooks or Toxiproxy certifies what it can and lists the rest;
- Ctrl-C in the middle of a fault (a toxic on, a service killed) leaves no toxic, every
  service serving, and the run's open workflows closed and listed.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.target import profile
from reference_services.deploy import probes

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "proto" / "gen" / "python")]),
}
BOUND_S = 600  # a bound on a hung run, not a measurement
GRPC = "rehearsal-stigma-grpc"
PROXIES = (GRPC, "rehearsal-zigflow-temporal", "rehearsal-stigma-temporal")
DELIVERS_ONCE = "Completes or fails Zigflow's activity by token exactly once"


def _deploy(state: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_services.deploy", "--state", str(state), *args],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def deployed(tmp_path: pathlib.Path) -> Iterator[Callable[..., pathlib.Path]]:
    """``deployed(*up_args)``: a deployment in a directory of its own, taken down after."""
    states: list[pathlib.Path] = []

    def up(*args: str) -> pathlib.Path:
        state = tmp_path / f"deploy{len(states)}"
        states.append(state)
        done = _deploy(state, "up", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return state

    try:
        yield up
    finally:
        for state in states:
            _deploy(state, "down")


def _certify(state: pathlib.Path, *args: str) -> subprocess.Popen[str]:
    out = state / "out"
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "certify", "--target", "rehearsal",
         "--out", str(out), *args],
        cwd=state, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=BOUND_S)
    return proc.returncode, out


def _report(state: pathlib.Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((state / "out" / "latest" / "certification.json").read_text())
    return doc


def _admin(state: pathlib.Path) -> str:
    target = profile.parse_all(_targets(state))["rehearsal"]
    assert target.toxiproxy is not None
    return target.toxiproxy.admin_url


def _targets(state: pathlib.Path) -> dict[str, Any]:
    import tomllib

    found: dict[str, Any] = tomllib.loads((state / "handshake.toml").read_text())["targets"]
    return found


def _proxies(state: pathlib.Path) -> dict[str, dict[str, Any]]:
    status, text = probes.http("GET", f"{_admin(state)}/proxies")
    assert status == 200, text
    listed: dict[str, dict[str, Any]] = json.loads(text)
    return listed


def _until(what: str, holds: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not holds():
        if proc.poll() is not None:
            pytest.fail(f"certify ended before {what}: {proc.communicate()[0][-3000:]}")
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)  # polling an outside process's state; the condition is the sync


def _hold_starts(state: pathlib.Path) -> None:
    """Each service's start hook first says it runs (``start-held``), then waits for
    ``start-go``: a killed service stays dead until the test lets it come back, so the
    Ctrl-C lands while the kill is in effect however fast the service would restart."""
    text = (state / "handshake.toml").read_text()
    held = state / "start-held"
    go = state / "start-go"
    wait = (
        f"touch {held}; i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; "
        'do i=$((i+1)); sleep 0.1; done; exec "$@"'
    )
    lines = []
    for line in text.splitlines():
        if line.startswith("start = "):
            command = json.loads(line.removeprefix("start = "))
            line = "start = " + json.dumps(f"sh -c {shlex.quote(wait)} held {command}")
        lines.append(line)
    (state / "handshake.toml").write_text("\n".join(lines) + "\n")


def _cell(doc: dict[str, Any], starts: str) -> dict[str, Any]:
    row = next(b for b in doc["behaviours"] if b["does"].startswith(starts))
    cell: dict[str, Any] = row["cells"]["rehearsal"]
    return cell


def _serving(state: pathlib.Path) -> None:
    for service in ("stigma", "zigflow"):
        done = _deploy(state, "ready", service)
        assert done.returncode == 0, f"{service} not serving after the run: {done.stdout}"


def test_a_mutant_stigma_deployed_fails_the_certificate_naming_the_behaviour(
    deployed: Callable[..., pathlib.Path],
) -> None:
    state = deployed("--stigma-cmd", "python -m tests.mutants.stigma_wrong_result")
    code, out = _finished(_certify(state, "--no-game-day", "--", "-k", "test_success"))
    assert code == 1, out[-3000:]
    doc = _report(state)
    assert doc["verdict"] == "fail"
    assert doc["deployment"]["target"] == "rehearsal"
    cell = _cell(doc, DELIVERS_ONCE)
    assert cell["status"] == "failed", cell
    assert any("behaviours failed on rehearsal" in r and DELIVERS_ONCE[:40] in r
               for r in doc["verdict_reasons"]), doc["verdict_reasons"]  # fmt: skip


def test_a_target_without_hooks_or_toxiproxy_certifies_what_it_can_and_names_the_rest(
    deployed: Callable[..., pathlib.Path],
) -> None:
    state = deployed()
    text = (state / "handshake.toml").read_text()
    # The same deployment described without its means of fault.
    bare = re.split(r"\n\[targets\.rehearsal\.(?:toxiproxy|zigflow|stigma)", text)[0]
    (state / "handshake.toml").write_text(bare + "\n")
    code, out = _finished(
        _certify(state, "--no-game-day", "--", "-k", "test_success or test_restarts")
    )
    assert code == 1, out[-3000:]
    doc = _report(state)
    passed = [s["id"] for s in doc["scenarios"] if s["outcome"] == "passed"]
    assert any("test_success.py" in i for i in passed), passed
    off = {o["scenario"]: o for o in doc["deployment"]["off_target"]}
    killed = off[
        "scenarios/test_restarts.py::test_stigma_killed_mid_agent_delivers_the_agents_result_once"
    ]
    assert killed["missing"] == ["kill:stigma"]
    assert not killed["local_only"]
    assert any("link:stigma_grpc" in o["missing"] for o in off.values())
    assert doc["deployment"]["hooks"] == []
    reasons = " ".join(doc["verdict_reasons"])
    assert "behaviours required, not run on rehearsal" in reasons
    assert "needs kill:stigma" in reasons
    assert "budget not measured on this target" in reasons


@pytest.mark.parametrize(
    ("selection", "what", "in_effect"),
    [
        (
            "test_fault_matrix and stigma_grpc-latency",
            "a toxic on the stigma_grpc proxy",
            lambda state: bool(_proxies(state)[GRPC]["toxics"]),
        ),
        (
            "test_stigma_killed_mid_agent",
            "Stigma killed by its hook and not yet back",
            lambda state: (state / "start-held").exists(),
        ),
    ],
    ids=["toxic", "kill"],
)
def test_ctrl_c_in_the_middle_of_a_fault_leaves_the_target_as_it_was(
    deployed: Callable[..., pathlib.Path],
    selection: str,
    what: str,
    in_effect: Callable[[pathlib.Path], bool],
) -> None:
    state = deployed()
    _hold_starts(state)
    proc = _certify(state, "--", "-k", selection)
    _until(what, lambda: in_effect(state), proc)
    proc.send_signal(signal.SIGINT)  # to certify alone, as `kill -INT` would
    (state / "start-go").touch()  # the held start hooks may now bring the services back
    code, out = _finished(proc)
    assert code == 130, out[-3000:]
    for name, proxy in _proxies(state).items():
        assert proxy["toxics"] == [], f"{name} kept {proxy['toxics']}"
        assert proxy["enabled"], f"{name} left disabled"
    _serving(state)
    doc = _report(state)
    assert doc["verdict"] == "fail"
    assert doc["deployment"]["interrupted"] is True
    assert doc["verdict_reasons"][0].startswith("interrupted")
    # the run's workflows still open at its end were closed, and are listed
    assert "open workflows" in out
    run_id = doc["deployment"]["run_id"]
    assert all(run_id in w for w in doc["deployment"]["open_workflows"])
