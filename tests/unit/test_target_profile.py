"""Target profiles: strict tables of the config file, safety rails checked on reading."""

from __future__ import annotations

import pathlib

import pytest

from harness import settings
from harness.errors import ConfigError
from harness.target import profile
from harness.target.profile import Profile
from tests.unit.target_helpers import SECRET, profile_toml

pytestmark = pytest.mark.unit

MINIMAL = {
    "temporal": "temporal.staging:7233",
    "namespace": "cert",
    "allowed-namespaces": ["cert"],
    "zigflow-task-queue": "zq",
    "agent-task-queue": "aq",
}


def _parse(**changes: object) -> Profile:
    table = {**MINIMAL, **changes}
    return profile.parse("staging", {k: v for k, v in table.items() if v is not None}, "f.toml:")


def test_a_good_profile_from_a_handshake_toml(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text(profile_toml(tmp_path / "m"))
    monkeypatch.chdir(tmp_path)
    found = profile.load("staging")
    assert found.namespace == "handshake-cert"
    assert found.toxiproxy is not None
    assert found.toxiproxy.proxies["stigma_grpc"] == "deployed-stigma-grpc"
    assert found.stigma.can_kill
    assert found.zigflow.can_pause
    assert found.stigma.ready_interval_s == 0.05
    # a profile is no setting: nothing of it reaches the HANDSHAKE_* environment
    assert settings.environ({}) == {}


def test_a_profile_in_pyproject_and_certifys_targets_list_keep_their_meanings(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.handshake]\nzigflow-level = 'activity'\n"
        + profile_toml(tmp_path / "m", table="tool.handshake.targets.staging")
    )
    monkeypatch.chdir(tmp_path)
    assert settings.environ({})["HANDSHAKE_ZIGFLOW_LEVEL"] == "activity"
    assert list(settings.target_profiles().profiles) == ["staging"]
    # certify's own `targets` (a list) is still that setting
    (tmp_path / "pyproject.toml").write_text("[tool.handshake]\ntargets = ['dev']\n")
    assert settings.environ({})["HANDSHAKE_TARGETS"] == "dev"
    assert settings.target_profiles().profiles == {}


def test_keys_take_dashes_or_underscores_and_contract_names_a_table() -> None:
    found = _parse(
        **{"zigflow_level": "activity", "contract-names": {"zigflow_agent_activity": "Run"}}
    )
    assert found.zigflow_level == "activity"
    assert found.contract_overrides() == ["zigflow_agent_activity=Run"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"namspace": "cert"},
            r"staging\.namspace: unknown key; did you mean namespace\?",
        ),
        (
            {"stigma": {"kil": "x", "ready": "true"}},
            r"targets\.staging\.stigma\.kil: unknown key; did you mean kill\?",
        ),
        (
            {"toxiproxy": {"admin-url": "http://t:8474", "proxies": {"stigma_grcp": "p"}}},
            r"toxiproxy: proxies\.stigma_grcp: unknown link; did you mean stigma_grpc\?",
        ),
        ({"allowed-namespaces": ["other"]}, r"namespace 'cert' is not in allowed-namespaces"),
        ({"allowed-namespaces": []}, r"allowed-namespaces: List should have at least 1 item"),
        ({"agent-task-queue": None}, r"targets\.staging\.agent-task-queue: Field required"),
        (
            {"temporal-tls": "yes"},
            r"staging\.temporal-tls: Input should be a valid boolean",
        ),
        ({"stigma": {"kill": "k"}}, r"stigma: Value error|stigma: kill needs start or restart"),
        ({"stigma": {"kill": "k", "start": "s"}}, r"stigma: kill, start and restart need ready"),
        ({"zigflow": {"pause": "p", "ready": "true"}}, r"zigflow: pause and resume go together"),
        (
            {"stigma": {"start": "s {namepsace}", "ready": "true"}},
            r"start: placeholder \{namepsace\}: unknown placeholder; did you mean namespace\?",
        ),
        (
            {"contract-names": {"zigflow_workflw": "W"}},
            r"zigflow_workflw: unknown contract name; did you mean zigflow_workflow\?",
        ),
        ({"vars": {"run_id": "x"}}, r"vars \['run_id'\]: built-in placeholders"),
        ({"toxiproxy": {"admin-url": "toxiproxy:8474"}}, r"expected http://HOST:PORT"),
        ({"namespace": "cert", "name-space": "x"}, r"name-space: unknown key"),
    ],
)
def test_a_mistake_names_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _parse(**changes)
    assert str(caught.value).startswith("f.toml: targets.staging")


def test_a_key_in_both_forms_is_an_error() -> None:
    with pytest.raises(ConfigError, match="zigflow_task_queue: given twice"):
        _parse(**{"zigflow_task_queue": "zq"})


def test_the_api_key_is_never_read_from_the_file_and_never_quoted_back() -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(**{"temporal-api-key": SECRET})
    assert "never read from the file" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        _parse(**{"temporal-tls-ca": {"oops": SECRET}})
    assert SECRET not in str(caught.value)


def test_the_api_key_comes_from_the_variable_the_profile_names() -> None:
    found = _parse(**{"temporal-api-key-env": "STAGING_KEY"})
    connection = found.connection({"STAGING_KEY": SECRET})
    assert connection.api_key == SECRET
    assert connection.uses_tls
    assert found.secrets({"STAGING_KEY": SECRET}) == [SECRET]
    assert SECRET not in repr(found)
    assert SECRET not in repr(connection)
    assert found.connection({}).api_key == ""


def test_a_broken_profile_stops_every_command_like_a_broken_key(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = profile_toml(tmp_path / "m").replace("allowed-namespaces", "allowed-namespace")
    (tmp_path / "handshake.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="did you mean allowed-namespaces"):
        settings.environ({})


def test_an_unknown_profile_names_those_there_are(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text(profile_toml(tmp_path / "m"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"'stagin': no such profile .* did you mean staging"):
        profile.load("stagin")
