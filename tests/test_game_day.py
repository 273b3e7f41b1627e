"""A game day on a real stack: the harness's own local stack stands in for a deployment.

The stack is a chaos stack (every link through a local Toxiproxy), described by a
target profile as a team would describe its staging: Temporal's address, the queues,
the Toxiproxy admin URL and a proxy per link, no hooks. Stigma is pointed (by its
environment, STIGMA_AGENT_TASK_QUEUE) at an agent queue only the game day serves, so
the agent runs in the game day's worker, as against a deployment; the stack's own
agent worker serves a queue nobody schedules on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from harness.config import StackConfig
from harness.errors import ComponentDied, WaitTimeout
from harness.load.gameday import Fault, default_schedule, run_game_day
from harness.report import game_day as render
from harness.report.verdict import DeploymentInput, game_day_judgement
from harness.servers.toxiproxy import ToxiproxyAPI
from harness.stack.stack import Stack, start_stack
from harness.target.hooks import HookRunner
from harness.target.profile import Profile, ServiceHooks, parse
from harness.waits import eventually

RUN_BOUND_S = 150.0  # a bound on a hung game day, not a measurement


@pytest.fixture(scope="module")
async def stack_deployed(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Stack, Profile]]:
    out = tmp_path_factory.mktemp("gameday-stack")
    agent_queue = f"gameday-agents-{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        temporal="dev",
        chaos=True,
        log_dir=out / "logs",
        # More slots than the default 2: the load keeps a few handshakes in flight.
        zigflow_max_concurrent_activities=20,
        extra_env={"STIGMA_AGENT_TASK_QUEUE": agent_queue},
    )
    async with start_stack(config) as stack:
        assert stack.network is not None
        yield (
            stack,
            parse(
                "local-chaos",
                {
                    "temporal": stack.temporal.address,
                    "namespace": stack.namespace,
                    "allowed-namespaces": [stack.namespace],
                    "zigflow-task-queue": stack.zigflow_task_queue,
                    "agent-task-queue": agent_queue,
                    "toxiproxy": {
                        "admin-url": stack.network.api.url,
                        "proxies": {link: p.name for link, p in stack.network.proxies.items()},
                    },
                },
            ),
        )


@pytest.fixture
def deployed(stack_deployed: tuple[Stack, Profile]) -> Profile:
    return stack_deployed[1]


def _api(profile: Profile) -> ToxiproxyAPI:
    assert profile.toxiproxy is not None
    host, _, port = profile.toxiproxy.admin_url.removeprefix("http://").rpartition(":")
    return ToxiproxyAPI(host, int(port))


async def _listed(profile: Profile) -> dict[str, tuple[list[str], bool]]:
    """proxy -> (toxic names, enabled), as Toxiproxy lists them now."""
    assert profile.toxiproxy is not None
    listed = await _api(profile).call("GET", "/proxies")
    return {
        name: ([str(t["name"]) for t in listed[name].get("toxics") or []], listed[name]["enabled"])
        for name in profile.toxiproxy.proxies.values()
    }


LATENCY = Fault("toxic", link="stigma_grpc", toxic="latency", attributes={"latency": 200})
DOWN = Fault("down", link="stigma_grpc")


def test_default_schedule_is_what_the_profile_provides(deployed: Profile) -> None:
    kinds = [(f.kind, f.link) for f in default_schedule(deployed)]
    for link in ("stigma_grpc", "zigflow_temporal", "stigma_temporal"):
        assert ("toxic", link) in kinds
        assert ("down", link) in kinds
    assert not any(f.kind == "kill" for f in default_schedule(deployed))  # no hooks


async def test_game_day_windows_figures_and_clean_proxies(
    deployed: Profile, tmp_path: pathlib.Path
) -> None:
    run_id = f"gd{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    day = await asyncio.wait_for(
        run_game_day(
            deployed,
            HookRunner(deployed, run_id=run_id),
            run_id=run_id,
            out=tmp_path,
            users=6,
            rate_per_s=3.0,
            baseline_s=5.0,
            window_s=5.0,
            recover_s=20.0,  # a bound: the window ends once recovery was seen
            steady_s=2.0,
            schedule=[LATENCY],
        ),
        RUN_BOUND_S,
    )
    took = time.monotonic() - began
    text = render.markdown(day)
    assert [w.kind for w in day.windows] == ["baseline", "toxic"], text
    for w in day.windows:
        assert w.start < w.stop, text
    for before, after in zip(day.windows, day.windows[1:], strict=False):
        assert (before.recover_until or before.stop) <= after.start, text
        assert after.recover_until is not None
        assert after.stop < after.recover_until, text
    fault = day.windows[1]
    # The toxic was really on the proxy during its window, and gone after it.
    assert deployed.toxiproxy is not None
    proxy = deployed.toxiproxy.proxies["stigma_grpc"]
    assert [t for t in fault.toxics_during.get(proxy, []) if "latency" in t], fault
    assert fault.toxics_after == {}, fault
    assert day.toxics_left == {}, text
    assert day.disabled_left == [], text
    assert all(not toxics and enabled for toxics, enabled in (await _listed(deployed)).values())
    # Figures: load ran in both windows; overhead measured; recovery measured.
    for w in day.windows:
        assert w.handshakes > 0, text
        assert w.handshakes_per_s is not None, text
        assert w.overhead_p50_ms is not None, text
        assert w.overhead_p99_ms is not None, text
        assert w.error_ratio == 0.0, text
    assert fault.time_to_recover_s is not None, text
    # The recover window ended on its event: the backlog drained, then a steady span of
    # handshakes that all succeeded (at least steady_s long) before the window's end.
    assert fault.steady_after_s is not None, text
    assert fault.recover_until is not None
    assert fault.stop + fault.steady_after_s + day.steady_s <= fault.recover_until, text
    assert "steady again" in fault.recovery, text
    # Exactly once, judged from Temporal's histories of the run's own workflows.
    assert day.workflows >= sum(w.handshakes for w in day.windows), text
    for w in day.windows:
        assert w.exactly_once.status == "ok", w.exactly_once
        assert w.exactly_once.checked == w.handshakes, w.exactly_once
    assert day.exactly_once is not None
    assert day.exactly_once.status == "ok", day.exactly_once
    assert (tmp_path / "game_day.json").exists()
    assert "| baseline |" in text
    assert "<table>" in render.html(day)
    print(
        f"\n{text}\ngame day took {took:.1f}s; recover window "
        f"{fault.recover_until - fault.stop:.1f}s of at most {day.recover_s:g}s"
    )


async def test_a_service_that_never_comes_back_is_not_recovered(
    stack_deployed: tuple[Stack, Profile], tmp_path: pathlib.Path
) -> None:
    """A pause whose resume hook does nothing (a broken deployment: Stigma stays
    stopped): the recover window waits its whole bound, then the game day moves on and
    the window says it did not recover. Stigma is resumed here once the next fault is in
    place (the game day has left that window), so the backlog drains, too late."""
    stack, deployed = stack_deployed
    pid = stack.stigma.pid
    assert pid is not None
    broken = deployed.model_copy(
        update={
            "stigma": ServiceHooks(pause=f"/bin/kill -STOP {pid}", resume="/bin/true"),
            # Where the harness sees the pause land (Stigma's health stops answering).
            "stigma_address": stack.topology.stigma_listen,
        }
    )
    assert deployed.toxiproxy is not None
    proxy = deployed.toxiproxy.proxies["zigflow_temporal"]
    run_id = f"gd{uuid.uuid4().hex[:8]}"
    recover_s = 3.0
    next_fault = Fault("toxic", link="zigflow_temporal", attributes={"latency": 50})
    task = asyncio.create_task(
        run_game_day(
            broken,
            HookRunner(broken, run_id=run_id),
            run_id=run_id,
            out=tmp_path,
            users=4,
            rate_per_s=2.0,
            baseline_s=2.0,
            window_s=3.0,
            recover_s=recover_s,
            steady_s=1.0,
            schedule=[Fault("pause", service="stigma"), next_fault],
        )
    )

    async def next_fault_in_place() -> bool | None:
        if task.done():  # waiting longer cannot help
            why = repr(task.exception()) if not task.cancelled() else "cancelled"
            raise ComponentDied(f"the game day ended before its second fault: {why}")
        toxics, _ = (await _listed(deployed))[proxy]
        return True if any(t.startswith(f"gameday-{run_id}-") for t in toxics) else None

    try:
        await eventually(
            next_fault_in_place,
            timeout_s=RUN_BOUND_S,
            interval_s=0.1,
            pending=lambda: f"game day {run_id}'s second fault ({next_fault.describe()})",
        )
    finally:
        os.kill(pid, signal.SIGCONT)  # the stack's own Stigma, stopped by the pause hook
    try:
        day = await asyncio.wait_for(task, RUN_BOUND_S)
    finally:
        task.cancel()
    text = render.markdown(day)
    paused = day.windows[1]
    assert paused.kind == "pause", text
    assert paused.seen.startswith("a grpc.health.v1 Check went unanswered"), text
    assert paused.time_to_recover_s is None, text
    assert f"not recovered within {recover_s:g}s" in paused.recovery, text
    assert paused.steady_after_s is None, text
    assert f"not steady again within {recover_s:g}s" in paused.recovery, text
    assert "started before the stop still unanswered" in paused.recovery, text
    # It waited its whole bound (the next fault came only after it).
    assert paused.recover_until is not None
    assert paused.recover_until - paused.stop >= recover_s, text
    assert paused.exactly_once.status == "ok", paused.exactly_once
    (tmp_path / "gd.json").write_text(day.model_dump_json())
    _, _, failing, _ = game_day_judgement(
        tmp_path, DeploymentInput(target="t", zigflow_level="workflow", game_day="gd.json")
    )
    assert any(
        line.startswith("game day: fault 1 (stigma paused): not recovered") for line in failing
    )
    print(f"\n{text}")


def _ours_running(run_id: str) -> list[str]:
    """Command lines of live processes started for this run (its load run, Locust)."""
    found = []
    for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().split(b"\0")
            if run_id.encode() in argv:
                found.append(b" ".join(argv).decode(errors="replace"))
    return found


@pytest.mark.parametrize("fault", [LATENCY, DOWN], ids=["toxic", "down"])
async def test_cancelling_mid_window_undoes_the_fault(
    deployed: Profile, tmp_path: pathlib.Path, fault: Fault
) -> None:
    assert deployed.toxiproxy is not None
    proxy = deployed.toxiproxy.proxies["stigma_grpc"]
    run_id = f"gd{uuid.uuid4().hex[:8]}"
    task = asyncio.create_task(
        run_game_day(
            deployed,
            HookRunner(deployed, run_id=run_id),
            run_id=run_id,
            out=tmp_path,
            users=2,
            rate_per_s=1.0,
            baseline_s=1.0,
            window_s=60.0,  # cancelled long before
            recover_s=1.0,
            schedule=[fault, Fault("down", link="stigma_temporal")],
        )
    )

    async def in_place() -> bool | None:
        if task.done():
            task.result()  # a game day that ended early says why
            raise AssertionError("the game day ended before its fault window")
        toxics, enabled = (await _listed(deployed))[proxy]
        if fault.kind == "down":
            return True if not enabled else None
        return True if any(t.startswith(f"gameday-{run_id}-") for t in toxics) else None

    try:
        await eventually(
            in_place,
            timeout_s=RUN_BOUND_S,
            interval_s=0.2,
            pending=lambda: f"game day {run_id}'s fault ({fault.describe()}) on {proxy}",
        )
    except WaitTimeout:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, RUN_BOUND_S)
    listed = await _listed(deployed)
    assert all(not toxics and enabled for toxics, enabled in listed.values()), listed
    assert _ours_running(run_id) == []  # the load run and its Locust were stopped
