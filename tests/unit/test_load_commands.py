"""The service commands of a load run reach every child (no Locust, no stack started).

The end-to-end check, a load run against a broken Stigma, is tests/test_load_commands.py.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import sys

import pytest

from harness.config import REFERENCE_STIGMA, REFERENCE_ZIGFLOW
from harness.load import gameday, run, services
from harness.load.target import ENV as TARGET_ENV
from harness.load.target import LoadTarget

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    drop = {*TARGET_ENV.values(), *services.ENV.values()}
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_options_reach_every_locust_process_and_the_local_stack(tmp_path: pathlib.Path) -> None:
    stigma = f"{sys.executable} -m tests.mutants.stigma_wrong_result --port '{{stigma_listen}}'"
    args = run.parse_args(["--stigma-cmd", stigma], {})
    env = run.locust_env(args, LoadTarget(), tmp_path)
    # Master and workers share this environment; the bridge inherits it.
    assert shlex.split(env["HANDSHAKE_STIGMA_CMD"]) == shlex.split(stigma)
    # Unset: the reference, named explicitly, so no child falls back on its own.
    assert shlex.split(env["HANDSHAKE_ZIGFLOW_CMD"]) == REFERENCE_ZIGFLOW
    config = services.from_env(env).stack_config(tmp_path / "logs")
    assert config.stigma_cmd == shlex.split(stigma)
    assert config.zigflow_cmd == REFERENCE_ZIGFLOW
    assert run.local_stack_config(args, tmp_path).stigma_cmd == shlex.split(stigma)


def test_environment_is_the_default_and_an_option_wins() -> None:
    env = {"HANDSHAKE_ZIGFLOW_CMD": "zig --from-env", "HANDSHAKE_STIGMA_CMD": "sti --from-env"}
    from_env = services.from_options(run.parse_args([], env), env)
    assert (from_env.zigflow, from_env.stigma) == (["zig", "--from-env"], ["sti", "--from-env"])
    given = services.from_options(run.parse_args(["--zigflow-cmd", "zig --flag"], env), env)
    assert (given.zigflow, given.stigma) == (["zig", "--flag"], ["sti", "--from-env"])
    assert services.from_env({}) == services.ServiceCommands(REFERENCE_ZIGFLOW, REFERENCE_STIGMA)


def test_bridge_builds_its_local_stack_from_the_commands_it_was_given(
    tmp_path: pathlib.Path,
) -> None:
    from harness.load import bridge

    env = {"HANDSHAKE_STIGMA_CMD": "my-stigma --x", "HANDSHAKE_ZIGFLOW_CMD": "my-zigflow"}
    config = bridge.local_stack_config(env, tmp_path)
    assert (config.zigflow_cmd, config.stigma_cmd) == (["my-zigflow"], ["my-stigma", "--x"])


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--stigma-cmd", "broken 'quote"], {}, "--stigma-cmd"),
        (["--zigflow-cmd", "  "], {}, "--zigflow-cmd"),
        (["--zigflow-cmd", ""], {}, "--zigflow-cmd"),
        ([], {"HANDSHAKE_STIGMA_CMD": "broken 'quote"}, "HANDSHAKE_STIGMA_CMD"),
        ([], {"HANDSHAKE_ZIGFLOW_CMD": "  "}, "HANDSHAKE_ZIGFLOW_CMD"),
    ],
)
def test_a_bad_command_is_a_usage_error_naming_it(
    argv: list[str], env: dict[str, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run.parse_args(argv, env)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_a_command_for_a_remote_target_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Against a cluster the services run elsewhere: a --stigma-cmd would test nothing."""
    with pytest.raises(SystemExit) as exited:
        run.parse_args(["--temporal-address", "127.0.0.1:7233", "--stigma-cmd", "x"], {})
    assert exited.value.code == 2
    assert "--stigma-cmd" in capsys.readouterr().err


def test_bridge_refuses_a_bad_command_with_a_message(tmp_path: pathlib.Path) -> None:
    env = {**_clean_env(), "HANDSHAKE_STIGMA_CMD": "broken 'quote", "LOAD_LOG_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.load.bridge"],
        cwd=ROOT,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "HANDSHAKE_STIGMA_CMD" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_standin_takes_the_service_options(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.load import standin

    with pytest.raises(SystemExit) as exited:
        standin.main(["--stigma-cmd", "broken 'quote"])
    assert exited.value.code == 2
    assert "--stigma-cmd" in capsys.readouterr().err


def test_a_game_days_handshakes_carry_a_heartbeat_timeout(tmp_path: pathlib.Path) -> None:
    # Without one, an attempt lost with a killed Zigflow before Stigma's ACK waits for
    # its day-long start-to-close: the kill window could never recover.
    argv = gameday.load_command(run_id="r", out=tmp_path, users=2, rate_per_s=1.0, duration_s=10.0)
    args = run.parse_args(argv[3:], {})
    assert args.heartbeat_timeout_s == gameday.GAME_DAY_HEARTBEAT_TIMEOUT_S > 0
    env = run.locust_env(args, LoadTarget(), tmp_path)
    assert float(env["LOAD_HEARTBEAT_TIMEOUT_S"]) == gameday.GAME_DAY_HEARTBEAT_TIMEOUT_S
    # A plain load run's handshakes keep Zigflow's default: none.
    assert run.locust_env(run.parse_args([], {}), LoadTarget(), tmp_path)[
        "LOAD_HEARTBEAT_TIMEOUT_S"
    ] in ("0", "0.0")
