"""One settings layer: option > environment > [tool.handshake] / handshake.toml."""

from __future__ import annotations

import pathlib

import pytest

from harness import settings
from harness.errors import ConfigError

pytestmark = pytest.mark.unit


def test_pyproject_table_becomes_the_environment_the_harness_sees(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'their-services'\n\n[tool.handshake]\n"
        'zigflow-cmd = "./zigflow --stigma {stigma_target}"\n'
        "call-timeout-s = 30\n"
        'contract-names = ["zigflow_agent_activity=ExecuteAgent", "stigma_workflow_prefix=s-"]\n'
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found from a subdirectory too
    seen = settings.environ({"HANDSHAKE_CALL_TIMEOUT_S": "5"})
    assert seen["HANDSHAKE_ZIGFLOW_CMD"] == "./zigflow --stigma {stigma_target}"
    assert seen["HANDSHAKE_CALL_TIMEOUT_S"] == "5"  # the environment wins
    assert seen["HANDSHAKE_CONTRACT_NAMES"] == (
        "zigflow_agent_activity=ExecuteAgent,stigma_workflow_prefix=s-"
    )


def test_handshake_toml_is_read_at_its_top_level(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text('temporal = "dev"\n')
    monkeypatch.chdir(tmp_path)
    assert settings.environ({})["HANDSHAKE_TEMPORAL"] == "dev"


def test_a_bad_value_names_the_file_and_the_key(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text("temporal = {host = 'x'}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"handshake\.toml: temporal"):
        settings.environ({})
