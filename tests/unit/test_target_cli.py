"""`handshake target check|plan|cleanup NAME` as an operator runs them (subprocesses),
against a Toxiproxy this test starts itself (harness.servers.toxiproxy) and hooks that
write a marker file: the plan touches nothing, cleanup removes what a run left."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from harness.servers.toxiproxy import ToxiproxyAPI, toxiproxy_server
from harness.target import plan, profile
from tests.unit.target_helpers import SECRET, profile_toml

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROXIES = ("deployed-stigma-grpc", "deployed-zigflow-temporal", "deployed-stigma-temporal")


@pytest_asyncio.fixture
async def toxiproxy(tmp_path: pathlib.Path) -> AsyncIterator[ToxiproxyAPI]:
    if os.environ.get("HANDSHAKE_TOXIPROXY_URL"):
        pytest.skip("this test starts its own Toxiproxy (an external one may be shared)")
    async with toxiproxy_server(tmp_path / "toxiproxy", ready_timeout_s=10) as api:
        for i, name in enumerate(PROXIES):
            # Upstreams that never answer: the proxies only have to exist.
            await api.create_proxy(name, upstream=f"127.0.0.1:{9 + i}", listen="127.0.0.1:0")
        yield api


def _handshake(
    cwd: pathlib.Path, *args: str, command: str = "target"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "TEST_TARGET_API_KEY": SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _toxics(api: ToxiproxyAPI) -> dict[str, list[str]]:
    listed = await api.call("GET", "/proxies")
    return {name: [t["name"] for t in listed[name]["toxics"]] for name in PROXIES}


async def test_plan_is_a_dry_run_that_invokes_no_hook_and_adds_no_toxic(
    tmp_path: pathlib.Path, toxiproxy: ToxiproxyAPI
) -> None:
    marker = tmp_path / "hooks-ran"
    (tmp_path / "handshake.toml").write_text(profile_toml(marker, toxiproxy_url=toxiproxy.url))
    done = await asyncio.to_thread(_handshake, tmp_path, "plan", "staging", "--run-id", "r42")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not marker.exists(), f"a hook ran during the dry run: {marker.read_text()}"
    assert await _toxics(toxiproxy) == {name: [] for name in PROXIES}
    assert SECRET not in out + done.stderr
    # what it would do: hooks expanded, toxics by proxy, workflows, what is not certified
    assert f"stigma.kill: sh -c 'echo stigma-kill >> {marker}'" in out
    assert "toxic via proxy deployed-stigma-grpc: stigma_grpc: down" in out
    assert "ZigflowWorkflow on task queue zigflow-cert, ids zig-r42-*" in out
    assert "NOT CERTIFIED  test_retries.py::" in out
    assert "needs relay:start_agent" in out
    assert "auth=api-key" in out  # said, never shown


async def test_certify_dry_run_prints_the_plan_invokes_no_hook_adds_no_toxic_writes_no_report(
    tmp_path: pathlib.Path, toxiproxy: ToxiproxyAPI
) -> None:
    marker = tmp_path / "hooks-ran"
    (tmp_path / "handshake.toml").write_text(profile_toml(marker, toxiproxy_url=toxiproxy.url))
    args = ("--target", "staging", "--dry-run", "--run-id", "r7", "--out", str(tmp_path / "out"))
    done = await asyncio.to_thread(_handshake, tmp_path, *args, command="certify")
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), f"a hook ran during the dry run: {marker.read_text()}"
    assert await _toxics(toxiproxy) == {name: [] for name in PROXIES}
    assert not (tmp_path / "out").exists(), "a dry run wrote a report"
    assert "ids zig-r7-*" in done.stdout
    assert "no hook invoked, no toxic added, no workflow started" in done.stdout
    assert SECRET not in done.stdout + done.stderr


async def test_check_passes_what_answers_and_fails_the_unreachable_cluster_with_exit_3(
    tmp_path: pathlib.Path, toxiproxy: ToxiproxyAPI
) -> None:
    marker = tmp_path / "hooks-ran"
    (tmp_path / "handshake.toml").write_text(profile_toml(marker, toxiproxy_url=toxiproxy.url))
    await toxiproxy.add_toxic(
        "deployed-stigma-grpc", {"name": "left", "type": "latency", "attributes": {"latency": 1}}
    )
    done = await asyncio.to_thread(_handshake, tmp_path, "check", "staging")
    assert done.returncode == 3, done.stdout + done.stderr
    out = done.stdout
    assert "FAIL  temporal" in out  # nothing listens on 127.0.0.1:1
    assert "ok    stigma ready" in out
    assert f"ok    toxiproxy {toxiproxy.url}" in out
    assert "ok    toxiproxy proxy deployed-zigflow-temporal (zigflow_temporal)" in out
    assert "FAIL  toxiproxy proxy deployed-stigma-grpc (stigma_grpc): toxics left (left)" in out
    assert not marker.exists(), "the preflight ran a fault hook"
    assert SECRET not in out + done.stderr


async def test_cleanup_removes_toxics_enables_proxies_and_starts_what_is_not_ready(
    tmp_path: pathlib.Path, toxiproxy: ToxiproxyAPI
) -> None:
    marker = tmp_path / "hooks-ran"
    # Each service is ready while its file exists; its start hook marks and creates it.
    (tmp_path / "handshake.toml").write_text(
        profile_toml(
            marker,
            toxiproxy_url=toxiproxy.url,
            ready="test -f {marker}.{service}.up",
            start="sh -c 'echo {service}-start >> {marker}; touch {marker}.{service}.up'",
        )
    )
    for service in ("zigflow", "stigma"):
        (tmp_path / f"hooks-ran.{service}.up").touch()
    await toxiproxy.add_toxic(
        "deployed-stigma-temporal",
        {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 5}},
    )
    await toxiproxy.set_enabled("deployed-zigflow-temporal", False)
    done = await asyncio.to_thread(_handshake, tmp_path, "cleanup", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert await _toxics(toxiproxy) == {name: [] for name in PROXIES}
    listed = await toxiproxy.call("GET", "/proxies")
    assert all(listed[name]["enabled"] for name in PROXIES)
    assert "removed slow" in done.stdout
    assert "enabled again" in done.stdout
    assert not marker.exists(), "services that were ready were restarted"
    # now stigma is down: cleanup brings it back by its start hook
    (tmp_path / "hooks-ran.stigma.up").unlink()
    done = await asyncio.to_thread(_handshake, tmp_path, "cleanup", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.read_text().split() == ["stigma-start"]
    assert "stigma: was not ready: started by its hook" in done.stdout


def test_a_bad_profile_or_an_unknown_name_is_a_usage_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "handshake.toml").write_text(
        profile_toml(tmp_path / "m").replace("allowed-namespaces", "allowed-namespace")
    )
    done = _handshake(tmp_path, "plan", "staging")
    assert done.returncode == 2
    assert "did you mean allowed-namespaces?" in done.stderr
    (tmp_path / "handshake.toml").write_text(profile_toml(tmp_path / "m"))
    done = _handshake(tmp_path, "plan", "prod")
    assert done.returncode == 2
    assert "no such profile" in done.stderr
    assert _handshake(tmp_path, "launch", "staging").returncode == 2


def test_plan_render_is_pure_and_masks_secrets(tmp_path: pathlib.Path) -> None:
    text = profile_toml(tmp_path / "m").replace("vars = {", f'vars = {{ leaked = "{SECRET}", ')
    found = profile.parse_all(__import__("tomllib").loads(text)["targets"])["staging"]
    rendered = plan.render(found, run_id="r", env={"TEST_TARGET_API_KEY": SECRET})
    assert SECRET not in rendered
    assert not (tmp_path / "m").exists()


def test_handshake_version_names_the_installed_harness(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--version"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"handshake \d+\.\d+\.\d+\S*\n", done.stdout), done.stdout
