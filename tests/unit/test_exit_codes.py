"""The exit-code table (docs/reference/cli.md, "Exit codes"): every error class of the
harness ends a command with its class's code, pytest's codes read the same way."""

from __future__ import annotations

import socket
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
