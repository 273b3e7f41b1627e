"""Hooks: faults on a deployed service that always undo themselves, bounded, recorded,
secrets masked. The hooks here are small shell commands writing to a marker file."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from harness.errors import FaultNotReached, NotReadyError
from harness.servers.ports import free_port
from harness.servers.procs import sigint_restored
from harness.target import profile
from harness.target.hooks import (
    HookFailed,
    HookRunner,
    expand,
    health_status,
    kill_watch,
    mask,
    service_killed,
    service_paused,
    service_restarted,
)
from harness.target.profile import Profile
from harness.waits import eventually
from tests.unit.target_helpers import SECRET

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
MARK = "sh -c 'echo {service}-%s >> {marker}'"
PYTHON = sys.executable


@dataclasses.dataclass(frozen=True)
class Fake:
    """A stand-in deployed Stigma (tests/unit/fake_service.py): the kill hook kills its
    process, the start hook starts another on the same port."""

    port: int
    pidfile: pathlib.Path  # the serving one's pid (it writes it)

    @property
    def started(self) -> pathlib.Path:
        """Every process the start hook started (its shell's ``$!``): ended at the end."""
        return self.pidfile.with_suffix(".started")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> str:
        return f"sh -c 'kill -9 $(cat {self.pidfile}) && echo {{service}}-kill >> {{marker}}'"

    def freeze(self) -> str:
        return f"sh -c 'kill -STOP $(cat {self.pidfile}) && echo {{service}}-pause >> {{marker}}'"

    def thaw(self) -> str:
        return f"sh -c 'kill -CONT $(cat {self.pidfile}) && echo {{service}}-resume >> {{marker}}'"

    def start(self) -> str:
        return (
            f"sh -c 'PYTHONPATH={ROOT} {PYTHON} -m tests.unit.fake_service {self.port} "
            f"{self.pidfile} >/dev/null 2>&1 & echo $! >> {self.started}; "
            "echo {service}-start >> {marker}'"
        )


FAKE: Fake | None = None  # the running test's (a module global: the Ctrl-C child reads it)


@pytest.fixture(autouse=True)
def fake(tmp_path: pathlib.Path) -> Iterator[Fake]:
    """The test's stand-in Stigma, serving; whatever is serving at the end is ended (by
    the pid it wrote)."""
    global FAKE
    spec = Fake(free_port(), tmp_path / "fake.pid")
    proc = subprocess.Popen(
        [PYTHON, "-m", "tests.unit.fake_service", str(spec.port), str(spec.pidfile)], cwd=ROOT
    )
    FAKE = spec
    try:
        asyncio.run(_serving(spec))
        yield spec
    finally:
        FAKE = None
        proc.kill()
        proc.wait()
        started = spec.started.read_text().split() if spec.started.exists() else []
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


async def _serving(spec: Fake) -> None:
    from harness.target.hooks import health_status

    async def up() -> bool | None:
        return True if await health_status(spec.address, "", 1.0) == "SERVING" else None

    await eventually(up, timeout_s=20, pending=lambda: f"the fake service at {spec.address}")


def _profile(marker: pathlib.Path, fake: Fake | None = None, **stigma: object) -> Profile:
    fake = fake or FAKE
    assert fake is not None
    hooks: dict[str, object] = {
        "pause": fake.freeze(),
        "resume": fake.thaw(),
        "kill": fake.kill(),
        "start": fake.start(),
        "ready-grpc-health": fake.address,
        "ready-interval-s": 0.02,
        "hook-timeout-s": 10,
        "ready-timeout-s": 10,
    }
    if "ready" in stigma:  # a readiness command instead (one or the other)
        hooks["ready-grpc-health"] = None
    hooks.update(stigma)
    return profile.parse(
        "staging",
        {
            "temporal": "127.0.0.1:1",
            "namespace": "cert",
            "allowed-namespaces": ["cert"],
            "zigflow-task-queue": "zq",
            "agent-task-queue": "aq",
            # Where the harness sees Stigma's kill land without ready-grpc-health.
            "stigma-address": fake.address,
            "temporal-api-key-env": "TEST_TARGET_API_KEY",
            "vars": {"marker": str(marker)},
            "stigma": {k: v for k, v in hooks.items() if v is not None},
        },
    )


def _runner(marker: pathlib.Path, **stigma: object) -> HookRunner:
    env = {**os.environ, "TEST_TARGET_API_KEY": SECRET}
    return HookRunner(_profile(marker, **stigma), run_id="run-1", env=env)


def _in_turn(runner: HookRunner) -> list[str]:
    """The hooks in the order they ran, a readiness polled until it held counted once
    (the started process takes a moment to serve); the last readiness held."""
    assert runner.log.runs[-1].outcome == "ok", runner.log.runs[-1]
    return [h for i, h in enumerate(runner.log.hooks()) if h != runner.log.hooks()[i - 1] or not i]


def _marks(marker: pathlib.Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def test_placeholders_expand_to_one_word_each_whatever_they_hold() -> None:
    values = {"ns": "it's a b", "run_id": "r1;rm -rf /"}
    assert expand("kubectl -n {ns} label x run={run_id}", values) == [
        "kubectl",
        "-n",
        "it's a b",
        "label",
        "x",
        "run=r1;rm -rf /",
    ]
    assert expand("sh -c 'echo {{literal}}'", {}) == ["sh", "-c", "echo {literal}"]


async def test_killed_runs_kill_then_start_then_readiness(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker)
    async with service_killed(runner, "stigma") as seen:
        assert _marks(marker) == ["stigma-kill"]
        # the process the harness's health Watch was on is gone
        assert seen.startswith("the stream ended"), seen
    assert _marks(marker) == ["stigma-kill", "stigma-start"]
    assert _in_turn(runner) == ["stigma.kill", "stigma.start", "stigma.ready"]
    kill = runner.log.runs[0]
    assert kill.outcome == "ok"
    assert kill.exit_code == 0
    assert kill.command.startswith("sh -c 'kill -9 $(cat ")
    assert kill.command.endswith(f"&& echo stigma-kill >> {marker}'")
    assert kill.started_at <= kill.ended_at
    assert kill.to_dict()["hook"] == "kill"


async def test_an_exception_inside_still_brings_the_service_back(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker)
    with pytest.raises(RuntimeError, match="scenario broke"):
        async with service_killed(runner, "stigma"):
            raise RuntimeError("scenario broke")
    assert _marks(marker) == ["stigma-kill", "stigma-start"]
    assert runner.log.hooks()[-1] == "stigma.ready"


async def test_a_cancellation_inside_still_brings_the_service_back(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker)
    never = asyncio.Event()

    async def scenario() -> None:
        async with service_killed(runner, "stigma"):
            await never.wait()

    task = asyncio.create_task(scenario())
    await eventually(
        lambda: _async(True if _marks(marker) == ["stigma-kill"] else None),
        timeout_s=10,
        pending=lambda: f"the kill hook's mark in {marker}",
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _marks(marker) == ["stigma-kill", "stigma-start"]
    assert _in_turn(runner) == ["stigma.kill", "stigma.start", "stigma.ready"]


async def _async(value: bool | None) -> bool | None:
    return value


async def test_a_failed_kill_is_named_and_the_service_is_brought_back_anyway(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker, kill="sh -c 'echo no such pod; exit 3'")
    with pytest.raises(HookFailed, match=r"stigma kill hook exited 3: .*\nno such pod"):
        async with service_killed(runner, "stigma"):
            pytest.fail("the body must not run when the kill failed")
    assert _marks(marker) == ["stigma-start"]
    assert runner.log.runs[0].outcome == "failed"
    assert runner.log.runs[0].exit_code == 3


async def test_a_hook_that_hangs_is_ended_at_its_timeout_and_named(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker, kill="sh -c 'echo started; exec sleep 60'", **{"hook-timeout-s": 0.5})
    began = time.monotonic()
    with pytest.raises(HookFailed, match=r"stigma kill hook timed out after 0.5s: .*\nstarted"):
        await runner.run("stigma", "kill")
    assert time.monotonic() - began < 5
    record = runner.log.runs[0]
    assert record.outcome == "timed_out"
    assert record.exit_code is None
    assert record.output_tail == "started"


async def test_readiness_is_polled_until_it_holds_and_bounded(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "marks"
    up = tmp_path / "up"
    runner = _runner(marker, start=f"touch {up}", ready=f"test -f {up}")
    async with service_killed(runner, "stigma"):
        pass
    assert up.exists()
    never = _runner(marker, ready="false", **{"ready-timeout-s": 0.3})
    with pytest.raises(NotReadyError, match=r"'staging': still waiting after 0.3s: stigma ready"):
        await never.wait_ready("stigma")
    assert {r.outcome for r in never.log.runs} == {"failed"}


async def test_a_hook_whose_program_is_missing_fails_at_once(tmp_path: pathlib.Path) -> None:
    runner = _runner(tmp_path / "m", ready="no-such-program-xyz --check")
    began = time.monotonic()
    with pytest.raises(HookFailed, match="stigma ready hook could not start"):
        await runner.wait_ready("stigma")
    assert time.monotonic() - began < 5  # not polled until the readiness timeout


async def test_paused_resumes_and_restarted_falls_back_to_kill_then_start(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker)
    with pytest.raises(KeyError):
        async with service_paused(runner, "stigma"):
            raise KeyError("x")
    await service_restarted(runner, "stigma")
    assert _marks(marker) == ["stigma-pause", "stigma-resume", "stigma-kill", "stigma-start"]
    with pytest.raises(HookFailed, match="zigflow: no kill hook"):
        async with service_killed(runner, "zigflow"):
            pass


async def test_secrets_are_masked_in_records_and_errors(tmp_path: pathlib.Path) -> None:
    runner = _runner(
        tmp_path / "m", kill="sh -c 'echo key=$TEST_TARGET_API_KEY; exit 1'", start="true"
    )
    with pytest.raises(HookFailed) as caught:
        await runner.run("stigma", "kill")
    assert SECRET not in str(caught.value)
    assert runner.log.runs[0].output_tail == "key=***"
    assert mask(f"a {SECRET} b", [SECRET, ""]) == "a *** b"


def test_ctrl_c_in_the_middle_of_a_kill_brings_the_service_back(
    tmp_path: pathlib.Path, fake: Fake
) -> None:
    marker = tmp_path / "marks"
    inside = tmp_path / "inside"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, faulthandler, pathlib, signal, sys
            from harness.target.hooks import HookRunner, service_killed

            faulthandler.register(signal.SIGUSR1, all_threads=True)  # stacks, if it hangs
            from tests.unit.test_target_hooks import Fake, _profile

            async def main():
                fake = Fake({fake.port}, pathlib.Path({str(fake.pidfile)!r}))
                runner = HookRunner(_profile(pathlib.Path({str(marker)!r}), fake), run_id="r")
                async with service_killed(runner, "stigma"):
                    pathlib.Path({str(inside)!r}).write_text("in")
                    await asyncio.Event().wait()

            try:
                asyncio.run(main())
            except KeyboardInterrupt:
                sys.exit(130)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    # Hang guards, not measurements: the child's own bounds (its hooks' and readiness's
    # 10 s each, _profile) and the fake service its start hook runs starting.
    bound_s = 10 + 10 + 10
    log = tmp_path / "child.log"
    with log.open("w") as sink:
        # SIGINT as a terminal gives it, also when this suite runs as a background job
        # (which starts with SIGINT ignored, inherited through exec).
        proc = subprocess.Popen(
            sigint_restored([sys.executable, str(script)]),
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + bound_s
        while not inside.exists():  # bounded poll on a file the child writes
            assert proc.poll() is None, f"the child exited before the fault:\n{log.read_text()}"
            assert time.monotonic() < deadline, "the child never reached the killed state"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the child still runs {bound_s} s after its SIGINT; hooks so far "
                f"{_marks(marker)}; where it is:\n{_stacks(proc, log)}"
            )
        assert code == 130, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _marks(marker) == ["stigma-kill", "stigma-start"]


def _stacks(proc: subprocess.Popen[bytes], log: pathlib.Path) -> str:
    """The threads' stacks of a child that registered faulthandler on SIGUSR1, read from
    its log once written (bounded): what a hang is waiting on."""
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while "most recent call first" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded poll on the file the dump goes to
    return log.read_text()[-6000:]


async def test_a_kill_hook_that_kills_nothing_is_not_a_kill_and_the_service_comes_back(
    tmp_path: pathlib.Path,
) -> None:
    """Exit 0 and nothing killed (a pod selector that matches nothing): the Watch the
    harness opened before the hook still says SERVING, so no scenario may pass on it."""
    marker = tmp_path / "marks"
    runner = _runner(marker, kill=MARK % "kill", **{"hook-timeout-s": 1})
    with pytest.raises(FaultNotReached, match=r"its kill hook exited 0, but the grpc\.health\.v1"):
        async with service_killed(runner, "stigma"):
            pytest.fail("the body must not run when the kill was not seen to land")
    assert _marks(marker) == ["stigma-kill", "stigma-start"]
    assert runner.log.hooks()[-1] == "stigma.ready"


async def test_a_frozen_service_is_seen_killed_on_the_watch_opened_before_its_pause(
    tmp_path: pathlib.Path, fake: Fake
) -> None:
    """Frozen (SIGSTOP), a process answers no new Watch: the kill inside a pause is seen
    on the one opened while it served (as DeployedService.paused does)."""
    marker = tmp_path / "marks"
    runner = _runner(marker, **{"hook-timeout-s": 2})
    watch = await kill_watch(runner, "stigma")
    await runner.run("stigma", "pause")
    try:
        with pytest.raises(NotReadyError, match="does not answer a Watch before the kill"):
            await kill_watch(runner, "stigma")
        async with service_killed(runner, "stigma", watch) as seen:
            assert seen.startswith("the stream ended"), seen
    finally:
        await runner.run("stigma", "resume")
    assert _marks(marker) == ["stigma-pause", "stigma-kill", "stigma-start", "stigma-resume"]


async def test_a_pause_is_seen_to_land_and_its_resume_seen_to_undo_it(
    tmp_path: pathlib.Path, fake: Fake
) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker)
    async with service_paused(runner, "stigma") as seen:
        assert seen.startswith("a grpc.health.v1 Check went unanswered"), seen
        assert await health_status(fake.address, "", 0.5) == "DEADLINE_EXCEEDED: Deadline Exceeded"
    assert await health_status(fake.address, "", 5.0) == "SERVING"
    assert _marks(marker) == ["stigma-pause", "stigma-resume"]


async def test_a_pause_hook_that_freezes_nothing_is_not_a_pause_and_is_resumed(
    tmp_path: pathlib.Path,
) -> None:
    """Exit 0 and nothing frozen (a selector that matches nothing): the service goes on
    answering its health on new connections, so no scenario may pass on it."""
    marker = tmp_path / "marks"
    runner = _runner(marker, pause=MARK % "pause", **{"hook-timeout-s": 1.5})
    with pytest.raises(FaultNotReached, match=r"its pause hook exited 0, but .* \(last: SERVING\)"):
        async with service_paused(runner, "stigma"):
            pytest.fail("the body must not run when the pause was not seen to land")
    assert _marks(marker) == ["stigma-pause", "stigma-resume"]


async def test_a_resume_hook_that_thaws_nothing_is_named(
    tmp_path: pathlib.Path, fake: Fake
) -> None:
    marker = tmp_path / "marks"
    runner = _runner(marker, resume=MARK % "resume", **{"ready-timeout-s": 1.5})
    try:
        with pytest.raises(
            NotReadyError, match=r"its resume hook exited 0, but .*DEADLINE_EXCEEDED"
        ):
            async with service_paused(runner, "stigma"):
                pass
    finally:
        os.kill(int(fake.pidfile.read_text()), signal.SIGCONT)  # left frozen: thawed here
    assert _marks(marker) == ["stigma-pause", "stigma-resume"]


async def test_an_address_that_answers_nothing_before_the_pause_is_refused(
    tmp_path: pathlib.Path,
) -> None:
    """A listener that never answers (a wrong port behind a proxy, a dropped host)
    would make any pause look seen: refused before the pause hook runs."""
    marker = tmp_path / "marks"
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        runner = _runner(marker, **{"ready-grpc-health": address, "hook-timeout-s": 1})
        with pytest.raises(NotReadyError, match="says DEADLINE_EXCEEDED before the pause"):
            async with service_paused(runner, "stigma"):
                pytest.fail("no pause may be taken as seen here")
    assert _marks(marker) == []  # the pause hook never ran


async def test_a_service_without_a_health_address_is_not_offered_for_pauses(
    tmp_path: pathlib.Path,
) -> None:
    runner = _runner(tmp_path / "m", ready="true", kill=None, start=None)
    stripped = runner.profile.model_copy(update={"stigma_address": None})
    assert not stripped.can_pause("stigma")
    with pytest.raises(HookFailed, match=r"no pause and resume hooks with a grpc\.health\.v1"):
        async with service_paused(HookRunner(stripped, run_id="r"), "stigma"):
            pass
