"""The exit-code table (docs/reference/cli.md, "Exit codes"): every error class of the
harness ends a command with its class's code, pytest's codes read the same way."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable

import pytest

from harness import cli, tls
from harness.config import StackConfig, local_servers
from harness.errors import (
    ComponentDied,
    ConfigError,
    ExitCode,
    HarnessError,
    NotReadyError,
    ProcessError,
    Unreachable,
    WaitTimeout,
    exit_code_of,
    from_pytest,
)
from harness.servers import ports
from harness.servers.temporal import TLSFailed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (ConfigError("bad option"), ExitCode.USAGE),
        (tls.TLSConnectError("wrong CA"), ExitCode.USAGE),
        # A TLS handshake that failed while waiting is still the settings' fault.
        (TLSFailed("wrong CA"), ExitCode.USAGE),
        (NotReadyError("never SERVING"), ExitCode.ENVIRONMENT),
        (ComponentDied("exited"), ExitCode.ENVIRONMENT),
        (Unreachable("refused"), ExitCode.ENVIRONMENT),
        (ProcessError("no such binary"), ExitCode.ENVIRONMENT),
        (WaitTimeout("still waiting"), ExitCode.ENVIRONMENT),
        (HarnessError("anything else of ours"), ExitCode.ENVIRONMENT),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_error_class_has_its_exit_code(err: BaseException, code: ExitCode) -> None:
    assert exit_code_of(err) == code


@pytest.mark.parametrize(
    ("pytest_code", "code"),
    [
        (pytest.ExitCode.OK, ExitCode.OK),
        (pytest.ExitCode.TESTS_FAILED, ExitCode.NOT_CERTIFIED),
        (pytest.ExitCode.INTERRUPTED, ExitCode.INTERRUPTED),
        (pytest.ExitCode.INTERNAL_ERROR, ExitCode.ENVIRONMENT),  # and the setup abort
        (pytest.ExitCode.USAGE_ERROR, ExitCode.USAGE),
        (pytest.ExitCode.NO_TESTS_COLLECTED, ExitCode.NOT_CERTIFIED),
        (-2, ExitCode.INTERRUPTED),  # killed by SIGINT
    ],
)
def test_the_gate_reads_pytest_codes_as_the_table_says(pytest_code: int, code: ExitCode) -> None:
    assert from_pytest(int(pytest_code)) == code


def _raising(err: BaseException) -> Callable[[list[str]], int]:
    def command(argv: list[str]) -> int:
        raise err

    return command


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (ConfigError("--temporal='x': expected HOST:PORT"), 2),
        (NotReadyError("stigma never SERVING"), 3),
        (ProcessError("cannot start zigflow: '/nonexistent' not found"), 3),
        (KeyboardInterrupt(), 130),
    ],
)
def test_every_command_ends_with_its_errors_code_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    err: BaseException,
    code: int,
) -> None:
    for name in ("certify", "bench", "load", "up"):
        monkeypatch.setitem(cli.COMMANDS, name, (_raising(err), "test"))
        assert cli.main([name]) == code
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"handshake {name}: "), lines


def test_a_malformed_temporal_address_is_a_usage_error() -> None:
    for address in ("nonsense", "host:", ":7233", "host:port", "host:70000"):
        with pytest.raises(ConfigError):
            StackConfig(temporal=address).validate()
    StackConfig(temporal="cluster.example:7233").validate()


def test_a_ready_timeout_of_zero_or_less_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="HANDSHAKE_READY_TIMEOUT_S"):
            local_servers({"HANDSHAKE_READY_TIMEOUT_S": bad})
    given = local_servers({"HANDSHAKE_READY_TIMEOUT_S": "2.5"})
    assert StackConfig(servers=given).ready_timeout_s == 2.5
    assert StackConfig(servers=given, ready_timeout_s=7).ready_timeout_s == 7  # the option


def test_a_refused_loopback_address_is_told_from_a_listening_one() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        address = f"127.0.0.1:{listening.getsockname()[1]}"
        assert not ports.refused(address)
    assert ports.refused(address)  # closed: nothing listens there now
    assert ports.is_loopback(address)
    assert ports.is_loopback("localhost:7233")
    assert not ports.is_loopback("cluster.example:7233")


# A command interrupted with Temporal calls still in flight (connections a loopback
# listener accepts and never answers): the SDK's runtime then has threads waiting to call
# back into Python, and the interpreter's finalization hung on them (the bench after
# Ctrl-C, every time) or they panicked into its output (sometimes). So an interrupted
# command skips finalization (whose objects' finalizers would speak up here) after its
# cleanup (atexit handlers: the harness's own kill the processes it started).
_INTERRUPTED_IN_FLIGHT = """
import asyncio, atexit, os, signal, socket, sys
from harness.errors import exit_process, run_main

signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started ignoring it
atexit.register(lambda: print("cleanup ran", file=sys.stderr))


class Finalized:
    def __del__(self) -> None:
        print("finalization ran", file=sys.stderr)


KEPT = Finalized()  # collected only by the interpreter's finalization


def main() -> int:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def calls_in_flight() -> None:
        from temporalio.client import Client

        asyncio.get_running_loop().call_later(1.0, os.kill, os.getpid(), signal.SIGINT)
        await asyncio.gather(*(Client.connect(f"127.0.0.1:{port}") for _ in range(4)))

    asyncio.run(calls_in_flight())
    return 0


exit_process(run_main("probe", main))
"""


def test_an_interrupted_command_with_temporal_calls_in_flight_exits_after_its_cleanup() -> None:
    from tests.children import run_bounded

    done = run_bounded([sys.executable, "-c", _INTERRUPTED_IN_FLIGHT], bound_s=60)
    assert done.returncode == ExitCode.INTERRUPTED, done.stderr[-3000:]
    said = done.stderr.strip().splitlines()
    assert said == ["probe: interrupted", "cleanup ran"], done.stderr[-3000:]
