"""The staging rehearsal's supervisor (reference_services/deploy): a real deployment.

Its processes outlive the commands that start them (that is the point: the harness
certifies services it did not start), so every test that deploys runs ``down`` in a
``finally`` and checks by the pid files that nothing is left running.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import tomllib

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import config, contract
from harness.target import hooks, profile
from reference_services.deploy import cli, probes, procs, supervisor

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "proto" / "gen" / "python")]),
}
BOUND_S = 120  # a bound on a hung command, not a measurement
READY_BOUND_S = 60.0


def deploy(state: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "reference_services.deploy", "--state", str(state), *args])


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=BOUND_S, check=False
    )


def until_ready(state: pathlib.Path, service: str) -> None:
    """``ready SERVICE`` until it exits 0 (each probe is bounded by 2 s)."""
    deadline = time.monotonic() + READY_BOUND_S
    while (done := deploy(state, "ready", service)).returncode != 0:
        assert time.monotonic() < deadline, f"{service} not ready: {done.stdout}{done.stderr}"


def pids(state: pathlib.Path) -> dict[str, procs.Identity]:
    found = {p.stem: procs.read_pid_file(p) for p in state.glob("*.pid")}
    return {name: ident for name, ident in found.items() if ident is not None}


def bytes_through(admin_url: str, proxy: str) -> float:
    """Bytes Toxiproxy counted through ``proxy``: its counters move when a connection
    closes (harness/servers/toxiproxy.py), so after a service's connection went."""
    status, text = probes.http("GET", f"{admin_url}/metrics")
    assert status == 200, text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("toxiproxy_proxy_") and "bytes" in sample.name
        if sample.labels.get("proxy") == proxy
    )


def run_hook(target: profile.Profile, service: str, hook: str) -> str:
    """A hook of the written profile, expanded and run as the harness runs it."""
    argv = hooks.expand(getattr(target.hooks(service), hook), target.placeholders("t1", service))
    done = run(argv)
    assert done.returncode == 0, f"{service} {hook}: {done.stdout}{done.stderr}"
    lines = done.stdout.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_up_faults_and_down_a_python_python_deployment(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "deploy"
    seen: dict[str, procs.Identity] = {}
    try:
        up = deploy(state, "up", "--pairing", "python-python")
        assert up.returncode == 0, up.stdout + up.stderr
        seen.update(pids(state))
        assert set(seen) == {"temporal", "toxiproxy", "stigma", "zigflow"}
        twice = deploy(state, "up")
        assert twice.returncode == 1, twice.stdout + twice.stderr
        assert "already deployed" in twice.stderr
        assert pids(state) == seen  # the running deployment untouched

        # The profile is one the harness accepts, and describes this deployment.
        where = state / "handshake.toml"
        target = profile.parse(
            "rehearsal", tomllib.loads(where.read_text())["targets"]["rehearsal"], str(where)
        )
        deployment = json.loads((state / "deployment.json").read_text())
        values = deployment["values"]
        assert target.temporal == deployment["temporal"]
        assert target.allowed_namespaces == [target.namespace] == ["handshake-cert"]
        assert target.zigflow_level == "workflow"
        assert target.zigflow_max_concurrent_activities == 2
        assert target.stigma_address == values["stigma_listen"]
        assert target.agent_task_queue == "agents-rehearsal"
        assert target.toxiproxy is not None
        assert set(target.toxiproxy.proxies) == set(profile.LINKS)
        assert target.stigma.can_kill
        assert target.stigma.can_pause
        assert target.zigflow.ready_grpc_health == values["zigflow_health_listen"]
        # The services reach Temporal and Stigma only through the proxies.
        proxies = deployment["proxies"]
        assert values["stigma_temporal_address"] == proxies["stigma_temporal"]["listen"]
        assert values["zigflow_stigma_target"] == proxies["stigma_grpc"]["listen"]

        # Both services SERVING, asked as the harness asks (grpc.health.v1).
        assert probes.health(values["stigma_listen"], contract.STIGMA_SERVICE, 5) == "SERVING"
        assert probes.health(values["zigflow_health_listen"], "", 5) == "SERVING"
        status = json.loads(deploy(state, "status").stdout)
        assert all(p["running"] for p in status["processes"].values()), status

        # kill / start through the profile's own hooks.
        assert run_hook(target, "stigma", "kill").startswith("killed stigma")
        assert not seen["stigma"].running()
        down_now = deploy(state, "ready", "stigma")
        assert down_now.returncode == 1, down_now.stdout
        assert run_hook(target, "stigma", "start").startswith("started stigma")
        until_ready(state, "stigma")
        assert run_hook(target, "stigma", "start").startswith("stigma already running")
        # Stigma's worker polled Temporal through its proxy; the kill closed that
        # connection, so Toxiproxy has counted it.
        assert bytes_through(target.toxiproxy.admin_url, "rehearsal-stigma-temporal") > 0

        # pause / resume: the process stays, but answers nothing until resumed.
        assert deploy(state, "pause", "zigflow").returncode == 0
        assert json.loads(deploy(state, "status").stdout)["processes"]["zigflow"]["paused"]
        assert deploy(state, "ready", "zigflow").returncode == 1
        assert deploy(state, "resume", "zigflow").returncode == 0
        until_ready(state, "zigflow")
        seen.update(pids(state))
    finally:
        seen.update(pids(state))
        down = deploy(state, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    left = {name: i.pid for name, i in seen.items() if i.running()}
    assert not left, f"still running after down: {left}"
    assert not list(state.glob("*.pid"))
    again = deploy(state, "down")
    assert again.returncode == 0, again.stderr
    assert not again.stdout, again.stdout


# -- units: no servers -----------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--state", "{state}"],
        ["--state", "{state}", "frobnicate"],
        ["--state", "{state}", "kill"],
        ["--state", "{state}", "kill", "postgres"],
        ["--state", "{state}", "up", "--pairing", "rust-python"],
        ["--state", "{state}", "up", "--stigma-cmd", "python -m x --at {nowhere}"],
        ["--state", "{state}", "up", "--zigflow-cmd", "unbalanced 'quote"],
    ],
    ids=[
        "nothing",
        "no-command",
        "unknown-command",
        "no-service",
        "unknown-service",
        "unknown-pairing",
        "unknown-placeholder",
        "unsplittable",
    ],
)
def test_wrong_usage_is_one_line_and_exit_2(
    argv: list[str], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    code = cli.main([a.replace("{state}", str(state)) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    # Refused before anything started.
    assert not list(state.glob("*.pid"))


@pytest.mark.unit
def test_a_pid_file_whose_start_time_differs_is_not_our_process(tmp_path: pathlib.Path) -> None:
    """A pid reused by another process (here: this test's own) is never signalled."""
    me = procs.identity_of(os.getpid())
    path = tmp_path / "stigma.pid"
    procs.write_pid_file(path, me)
    assert procs.read_pid_file(path) == me
    assert me.running()
    stranger = procs.Identity(me.pid, me.start_time + 1)
    procs.write_pid_file(path, stranger)
    assert procs.read_pid_file(path) == stranger
    assert not stranger.running()
    assert not procs.signal_group(stranger, signal.SIGTERM)  # would have hit us
    assert not procs.stop(stranger, "stranger")
    path.write_text("garbage\n")
    assert procs.read_pid_file(path) is None


@pytest.mark.unit
def test_commands_on_a_state_without_deployment_fail_cleanly(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "empty"
    assert cli.main(["--state", str(state), "down"]) == 0
    assert cli.main(["--state", str(state), "start", "stigma"]) == 1
    assert "run `up` first" in capsys.readouterr().err
    assert cli.main(["--state", str(state), "kill", "stigma"]) == 0
    assert capsys.readouterr().out == "stigma was not running\n"


@pytest.mark.unit
def test_every_service_placeholder_has_a_value() -> None:
    proxies = {
        link: supervisor.Proxy(name, f"127.0.0.1:{i}", "u")
        for i, (link, name) in enumerate(supervisor.PROXY_NAMES.items())
    }
    values = supervisor.placeholder_values("ns", "a:1", "b:2", "c:3", "d:4", proxies)
    assert set(values) == set(config.PLACEHOLDERS)


@pytest.mark.unit
def test_the_supervisor_is_not_the_harness_stack() -> None:
    """It deploys as a team would, without the harness's stack, servers or links."""
    allowed = {"harness", "harness.config", "harness.contract", "harness.errors"}
    allowed |= {"harness.target", "harness.target.profile"}
    imported = set()
    for path in (ROOT / "reference_services" / "deploy").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
    harness = {m for m in imported if m == "harness" or m.startswith("harness.")}
    assert harness <= allowed, harness - allowed
