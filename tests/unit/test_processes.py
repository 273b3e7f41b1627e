"""Process handling: a server that dies while starting is reported at once, with its
log; a missing executable is a clear error; children die with a SIGKILLed harness."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from harness.errors import NotReadyError, ProcessError
from harness.servers.procs import ManagedProcess
from harness.servers.temporal import until_serving

pytestmark = pytest.mark.unit


async def test_a_server_that_exits_while_starting_is_reported_at_once(
    tmp_path: pathlib.Path,
) -> None:
    proc = ManagedProcess(
        "temporal-dev",
        ["sh", "-c", "echo 'bind: address already in use'; exit 3"],
        dict(os.environ),
        tmp_path,
    )
    await proc.start()
    started = time.monotonic()
    with pytest.raises(NotReadyError, match="exited with code 3") as err:
        await until_serving(proc, "127.0.0.1:9", "default", timeout_s=30)
    assert "address already in use" in str(err.value)  # its log comes with the error
    assert time.monotonic() - started < 10, "waited for the readiness timeout"


async def test_a_missing_executable_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    proc = ManagedProcess("zigflow", ["no-such-zigflow-binary"], dict(os.environ), tmp_path)
    with pytest.raises(ProcessError, match="'no-such-zigflow-binary' not found"):
        await proc.start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_children_die_with_a_sigkilled_harness(tmp_path: pathlib.Path) -> None:
    # A harness process starts a long-running child, prints its pid, and is SIGKILLed.
    script = (
        "import asyncio, os, pathlib, sys\n"
        "from harness.servers.procs import ManagedProcess\n"
        "async def main():\n"
        "    out = pathlib.Path(sys.argv[1])\n"
        "    p = ManagedProcess('child', ['sleep', '300'], dict(os.environ), out)\n"
        "    await p.start()\n"
        "    print(p.pid, flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert harness.stdout is not None
    child = int(harness.stdout.readline())
    harness.send_signal(signal.SIGKILL)
    harness.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, f"child {child} outlived its SIGKILLed harness"
        time.sleep(0.05)  # polling a pid for a bounded time, not synchronisation


def _alive(pid: int) -> bool:
    try:
        status = pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return status != "Z"  # a zombie is dead, waiting for init to reap it


async def test_a_service_that_exits_before_it_is_healthy_is_reported_at_once(
    tmp_path: pathlib.Path,
) -> None:
    from harness.errors import ComponentDied
    from harness.stack.stack import wait_healthy

    proc = ManagedProcess(
        "stigma", ["sh", "-c", "echo 'listen: address in use'; exit 4"], dict(os.environ), tmp_path
    )
    await proc.start()
    started = time.monotonic()
    with pytest.raises(ComponentDied, match="exited with code 4") as err:
        await wait_healthy(proc, "127.0.0.1:9", "stigma.v1.StigmaService", timeout_s=30)
    assert "address in use" in str(err.value)
    assert time.monotonic() - started < 10, "waited for the readiness timeout"


def test_a_child_started_with_sigint_ignored_gets_it_back() -> None:
    """A shell without job control starts background jobs with SIGINT ignored (and exec
    keeps it so); children the harness interrupts must still take it."""
    import subprocess
    import sys

    from harness.servers.procs import sigint_restored

    probe = [sys.executable, "-c",
             "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"]  # fmt: skip
    ignoring = [sys.executable, "-c",
                "import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "sys.exit(subprocess.run(sys.argv[1:]).returncode)"]  # fmt: skip
    plain = subprocess.run([*ignoring, *probe], capture_output=True, text=True, check=True)
    restored = subprocess.run(
        [*ignoring, *sigint_restored(probe)], capture_output=True, text=True, check=True
    )
    assert plain.stdout.strip() == "True"  # what the harness has to undo
    assert restored.stdout.strip() == "False"
