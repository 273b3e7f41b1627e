"""One settings layer: option > environment > [tool.handshake] / handshake.toml."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import pathlib
import re
import subprocess
import sys

import pytest

from harness import setting_names, settings
from harness.errors import ConfigError

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]


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


# Strict files: a mistake stops the run naming the file and the key; it never falls
# back to the defaults (the reference services), which would certify the wrong thing.


def _raises(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        settings.environ({})
    message = str(caught.value)
    assert "\n" not in message, "a usage error is one line"
    return message


def test_a_pyproject_that_is_not_toml_is_an_error_naming_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A syntax error anywhere: whether it holds [tool.handshake] cannot be known.
    (tmp_path / "pyproject.toml").write_text('[tool.handshake]\nzigflow-cmd = "./zigflow\n')
    message = _raises(tmp_path, monkeypatch)
    assert message.startswith(f"{tmp_path / 'pyproject.toml'}: not valid TOML: ")
    assert "line 2" in message


def test_a_pyproject_that_is_not_toml_is_an_error_even_above_the_working_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    (tmp_path / "sub").mkdir()
    assert str(tmp_path / "pyproject.toml") in _raises(tmp_path / "sub", monkeypatch)


def test_a_handshake_toml_found_first_is_used_over_a_broken_pyproject(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    (tmp_path / "handshake.toml").write_text('temporal = "dev"\n')  # same directory
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "handshake.toml").write_text('namespace = "team"\n')  # nearer
    monkeypatch.chdir(tmp_path)
    assert settings.environ({})["HANDSHAKE_TEMPORAL"] == "dev"
    monkeypatch.chdir(tmp_path / "sub")
    assert settings.environ({})["HANDSHAKE_NAMESPACE"] == "team"
    assert settings.config_file() == tmp_path / "sub" / "handshake.toml"


def test_a_pyproject_without_the_table_is_passed_over(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.handshake]\ntemporal = "dev"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(tmp_path / "sub")
    assert settings.config_file() == tmp_path / "pyproject.toml"
    assert settings.environ({})["HANDSHAKE_TEMPORAL"] == "dev"


def test_a_handshake_toml_that_is_not_toml_is_an_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text("temporal = dev\n")
    assert f"{tmp_path / 'handshake.toml'}: not valid TOML" in _raises(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    "text",
    ['[tool]\nhandshake = "temporal=dev"\n', "[tool]\nhandshake = [1]\n", 'tool = "x"\n'],
)
def test_a_harness_table_that_is_not_a_table_is_an_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    message = _raises(tmp_path, monkeypatch)
    assert message.startswith(str(tmp_path / "pyproject.toml"))
    assert "must be a table" in message


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("zigflow_command", "zigflow-cmd"),
        ("temporall", "temporal"),
        ("stigma-command", "stigma-cmd"),
        ("call-timeout", "call-timeout-s"),
        ("handshake-out", "out"),  # the gate's option, whose key is shorter
        ("contract-name", "contract-names"),
    ],
)
def test_a_misspelled_key_is_an_error_naming_the_nearest_valid_one(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, key: str, suggestion: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[tool.handshake]\n{key} = "x"\n')
    assert _raises(tmp_path, monkeypatch) == (
        f"{tmp_path / 'pyproject.toml'}: [tool.handshake] {key}: unknown setting; "
        f"did you mean {suggestion}?"
    )


def test_a_key_like_no_setting_points_at_the_list(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text("xyzzy = 1\n")
    assert _raises(tmp_path, monkeypatch) == (
        f"{tmp_path / 'handshake.toml'}: xyzzy: unknown setting; "
        "the keys are listed in docs/reference/cli.md"
    )


def test_a_setting_only_the_environment_sets_is_refused_in_the_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set by `handshake load` for its Locust processes: accepted in the file, it would be
    # overwritten, the very silence this layer exists to stop.
    (tmp_path / "handshake.toml").write_text('load-samples = "x.jsonl"\n')
    assert _raises(tmp_path, monkeypatch).endswith(
        "load-samples: not a config-file setting; set LOAD_SAMPLES in the environment"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('chaos-seed = "42"', "chaos-seed = '42': expected an integer"),
        ("repeat = 2.5", "repeat = 2.5: expected an integer"),
        ("temporal-tls = 1", "temporal-tls = 1: expected true or false"),
        ("call-timeout-s = true", "call-timeout-s = True: expected a number"),
        ("zigflow-cmd = ['./zigflow']", "zigflow-cmd = ['./zigflow']: expected a string"),
        (
            "contract-names = [true]",
            "contract-names = [True]: expected a list of strings or integers",
        ),
        ("fault-matrix = 2.5", "fault-matrix = 2.5: expected an integer or a string"),
        ("namespace = {name = 'x'}", "namespace = {'name': 'x'}: expected a string"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error_naming_the_key_and_the_type(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, line: str, expected: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.handshake]\n{line}\n")
    message = _raises(tmp_path, monkeypatch)
    assert message.startswith(f"{tmp_path / 'pyproject.toml'}: [tool.handshake] {expected}")


def test_a_secrets_wrong_value_is_not_printed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text("temporal-api-key = 123456789\n")
    message = _raises(tmp_path, monkeypatch)
    assert "123456789" not in message
    assert "temporal-api-key = <secret>: expected a string" in message


@pytest.mark.parametrize("key", ["zigflow-cmd", "zigflow_cmd", "ZIGFLOW_CMD"])
def test_both_key_forms_are_accepted(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    (tmp_path / "handshake.toml").write_text(f'{key} = "./zigflow"\n')
    monkeypatch.chdir(tmp_path)
    assert settings.environ({})["HANDSHAKE_ZIGFLOW_CMD"] == "./zigflow"


def test_one_setting_in_both_forms_is_an_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text('zigflow-cmd = "./a"\nzigflow_cmd = "./b"\n')
    assert _raises(tmp_path, monkeypatch).endswith(
        "zigflow_cmd: given twice (zigflow-cmd and zigflow_cmd)"
    )


def test_values_take_the_environments_form(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text(
        "temporal-tls = true\ncertify-bench-levels = [1, 10]\nfault-matrix = 5\n"
        'targets = "dev,time-skipping"\ncall-timeout-s = 2.5\nchaos-seed = 7\n'
    )
    monkeypatch.chdir(tmp_path)
    seen = settings.environ({})
    assert seen["HANDSHAKE_TEMPORAL_TLS"] == "1"
    assert seen["HANDSHAKE_CERTIFY_BENCH_LEVELS"] == "1,10"
    assert seen["HANDSHAKE_FAULT_MATRIX"] == "5"
    assert seen["HANDSHAKE_TARGETS"] == "dev,time-skipping"
    assert seen["HANDSHAKE_CALL_TIMEOUT_S"] == "2.5"
    assert seen["HANDSHAKE_CHAOS_SEED"] == "7"


def test_sources_name_the_file_and_the_variables_never_their_values(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handshake.toml").write_text('temporal = "dev"\n')
    monkeypatch.chdir(tmp_path)
    env = {
        "HANDSHAKE_TEMPORAL_API_KEY": "s3cret",
        "HANDSHAKE_ZIGFLOW_CMD": "./zigflow",
        "HANDSHAKE_ZIGFLOW_COMAND": "./typo",
        "PATH": "/bin",
    }
    found = settings.sources(env)
    assert found.config == tmp_path / "handshake.toml"
    assert found.environment == ("HANDSHAKE_TEMPORAL_API_KEY", "HANDSHAKE_ZIGFLOW_CMD")
    assert found.undeclared == ("HANDSHAKE_ZIGFLOW_COMAND",)
    line = found.describe()
    assert line == (
        f"config {tmp_path / 'handshake.toml'}; environment: HANDSHAKE_TEMPORAL_API_KEY, "
        "HANDSHAKE_ZIGFLOW_CMD; not harness settings, ignored: HANDSHAKE_ZIGFLOW_COMAND"
    )


def test_sources_without_a_file_or_variables(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert settings.sources({}).describe() == "config none; environment: none"


# The registry is complete: every setting the code reads is declared (and every
# declared one is read), found by scanning the source's strings, where the names live
# (os.environ.get("HANDSHAKE_X"), help texts, docstrings).

NAME = re.compile(r"\b(?:HANDSHAKE|LOAD)_[A-Z0-9_]*[A-Z0-9]\b")
SCANNED = ("harness", "scenarios", "conftest.py")
# Make variables the docstrings mention: the Makefile reads them, not Python.
MAKE_VARIABLES = {"LOAD_ARGS"}


def names_in_source(root: pathlib.Path = ROOT) -> dict[str, str]:
    """Every HANDSHAKE_* / LOAD_* name in a string of the scanned source -> a file
    that holds it."""
    found: dict[str, str] = {}
    for part in SCANNED:
        top = root / part
        for path in [top] if top.is_file() else sorted(top.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for name in NAME.findall(node.value):
                        found.setdefault(name, str(path.relative_to(root)))
    return {k: v for k, v in found.items() if k not in MAKE_VARIABLES}


def test_every_setting_the_code_reads_is_in_the_registry() -> None:
    undeclared = {
        k: v
        for k, v in names_in_source().items()
        if k not in setting_names.BY_ENV and k not in setting_names.TEST_ONLY
    }
    assert undeclared == {}, "declare these in harness/setting_names.py"


def test_every_setting_in_the_registry_is_read_somewhere() -> None:
    assert set(setting_names.BY_ENV) - set(names_in_source()) == set()


def test_the_scan_finds_a_name_in_code_docstrings_and_f_strings(tmp_path: pathlib.Path) -> None:
    (tmp_path / "harness").mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "conftest.py").write_text('"""Set HANDSHAKE_FROM_DOC."""\n')
    (tmp_path / "harness" / "x.py").write_text(
        'import os\nA = os.environ.get("HANDSHAKE_ZIGFLOW_CMDD")\n'
        'B = f"{A} (env LOAD_USERZ)"\nHANDSHAKE_STAGES = ("not", "a", "setting")\n'
        'C = "HANDSHAKE_" + "built"  # a prefix alone is no name\n'
    )
    assert set(names_in_source(tmp_path)) == {
        "HANDSHAKE_FROM_DOC",
        "HANDSHAKE_ZIGFLOW_CMDD",
        "LOAD_USERZ",
    }


def test_file_keys_map_to_their_variables_in_either_form() -> None:
    for s in setting_names.SETTINGS:
        assert setting_names.lookup(s.name) is s
        assert setting_names.lookup(s.name.replace("-", "_")) is s
        if s.in_file and s.env.startswith(setting_names.PREFIX):
            assert s.env == setting_names.PREFIX + s.name.upper().replace("-", "_")
        elif s.in_file:  # a load run's own: the key keeps the prefix (load-users)
            assert s.env.startswith("LOAD_")
            assert s.env == s.name.upper().replace("-", "_")
        else:
            assert s.name not in setting_names.FILE_NAMES
    assert [s.env for s in setting_names.SETTINGS if s.secret] == ["HANDSHAKE_TEMPORAL_API_KEY"]


def test_a_misspelled_or_badly_typed_environment_variable_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"HANDSHAKE_ZIGFLOW_COMAND: unknown setting; did you mean HANDSHAKE_ZIGFLOW_CMD\?",
    ):
        settings.environ({"HANDSHAKE_ZIGFLOW_COMAND": "./zigflow"})
    with pytest.raises(ConfigError, match=r"HANDSHAKE_CHAOS_SEED='abc': expected an integer"):
        settings.environ({"HANDSHAKE_CHAOS_SEED": "abc"})
    with pytest.raises(ConfigError, match=r"HANDSHAKE_CALL_TIMEOUT_S='soon': expected a number"):
        settings.environ({"HANDSHAKE_CALL_TIMEOUT_S": "soon"})
    # Empty is unset; the suite's own knobs are not harness settings but are accepted.
    env = settings.environ({"HANDSHAKE_CHAOS_SEED": "", "HANDSHAKE_SLOW_ACK_RUNS": "3"})
    assert env["HANDSHAKE_SLOW_ACK_RUNS"] == "3"


# One order, decided in harness.settings: option > HANDSHAKE_* > the Temporal CLI's
# names > the config file.


@pytest.fixture
def no_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "_noted", set())  # deprecation notes print once a process
    return tmp_path


def test_each_layer_wins_over_the_next(no_file: pathlib.Path) -> None:
    from harness.load import target

    (no_file / "handshake.toml").write_text('temporal = "file.example:7233"\nnamespace = "f"\n')
    assert settings.environ({})["HANDSHAKE_TEMPORAL"] == "file.example:7233"
    cli = {"TEMPORAL_ADDRESS": "cli.example:7233", "TEMPORAL_NAMESPACE": "c"}
    seen = settings.environ(cli)
    assert (seen["HANDSHAKE_TEMPORAL"], seen["HANDSHAKE_NAMESPACE"]) == ("cli.example:7233", "c")
    mine = settings.environ({**cli, "HANDSHAKE_TEMPORAL": "env.example:7233"})
    assert mine["HANDSHAKE_TEMPORAL"] == "env.example:7233"
    assert mine["HANDSHAKE_NAMESPACE"] == "c"  # each setting from its own first layer
    # Set but empty unsets: the Temporal CLI's and the file's value are both passed over.
    assert settings.environ({**cli, "HANDSHAKE_NAMESPACE": ""})["HANDSHAKE_NAMESPACE"] == ""
    parser = argparse.ArgumentParser()
    target.add_arguments(parser, mine)
    assert parser.parse_args([]).temporal == "env.example:7233"
    assert parser.parse_args(["--temporal", "opt.example:7233"]).temporal == "opt.example:7233"


@pytest.mark.parametrize(
    ("cli_name", "variable"),
    [
        ("TEMPORAL_ADDRESS", "HANDSHAKE_TEMPORAL"),
        ("TEMPORAL_NAMESPACE", "HANDSHAKE_NAMESPACE"),
        ("TEMPORAL_API_KEY", "HANDSHAKE_TEMPORAL_API_KEY"),
        ("TEMPORAL_TLS", "HANDSHAKE_TEMPORAL_TLS"),
        ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "HANDSHAKE_TEMPORAL_TLS_CA"),
        ("TEMPORAL_TLS_CLIENT_CERT_PATH", "HANDSHAKE_TEMPORAL_TLS_CERT"),
        ("TEMPORAL_TLS_CLIENT_KEY_PATH", "HANDSHAKE_TEMPORAL_TLS_KEY"),
        ("TEMPORAL_TLS_SERVER_NAME", "HANDSHAKE_TEMPORAL_TLS_SERVER_NAME"),
        # The temporal CLI's older flag variables, which `handshake load` read before.
        ("TEMPORAL_TLS_CA", "HANDSHAKE_TEMPORAL_TLS_CA"),
        ("TEMPORAL_TLS_CERT", "HANDSHAKE_TEMPORAL_TLS_CERT"),
        ("TEMPORAL_TLS_KEY", "HANDSHAKE_TEMPORAL_TLS_KEY"),
    ],
)
def test_the_temporal_cli_names_reach_the_harness_settings(
    no_file: pathlib.Path, cli_name: str, variable: str
) -> None:
    assert settings.environ({cli_name: "x"})[variable] == "x"


def test_the_temporal_cli_names_are_the_sdks(no_file: pathlib.Path) -> None:
    """Each name the registry takes from Temporal is one the installed SDK's envconfig
    reads (or one of the CLI's older flag variables), so a typo cannot hide here."""
    import temporalio.envconfig

    sdk = pathlib.Path(temporalio.envconfig.__file__).parent / "bridge"
    sources = " ".join(p.read_text() for p in sdk.rglob("envconfig.rs"))
    older = {"TEMPORAL_TLS_CA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"}
    names = {name for name, _ in setting_names.CLI_NAMES} | set(setting_names.CLI_NAMES_UNREAD)
    assert len(names) > 10
    assert [n for n in sorted(names - older) if f'"{n}"' not in sources] == []


def test_sources_name_the_temporal_cli_variables_used_never_their_values(
    no_file: pathlib.Path,
) -> None:
    env = {
        "TEMPORAL_ADDRESS": "cluster.example:7233",
        "TEMPORAL_API_KEY": "s3cret-key",
        "TEMPORAL_NAMESPACE": "shadowed",
        "HANDSHAKE_NAMESPACE": "mine",
        "TEMPORAL_PROFILE": "staging",
    }
    found = settings.sources(env)
    assert found.temporal_cli == ("TEMPORAL_ADDRESS", "TEMPORAL_API_KEY")  # not the shadowed
    assert found.temporal_unread == ("TEMPORAL_PROFILE",)
    line = found.describe()
    assert line == (
        "config none; environment: HANDSHAKE_NAMESPACE; Temporal CLI variables: "
        "TEMPORAL_ADDRESS, TEMPORAL_API_KEY; Temporal CLI variables not read: TEMPORAL_PROFILE"
    )
    assert "s3cret-key" not in line
    assert "cluster.example" not in line


@pytest.mark.parametrize(
    ("command", "old"), [("certify", "HANDSHAKE_TARGETS"), ("bench", "HANDSHAKE_BENCH_TEMPORAL")]
)
def test_an_old_variable_still_sets_the_target_with_a_note(
    no_file: pathlib.Path, capsys: pytest.CaptureFixture[str], command: str, old: str
) -> None:
    env = {old: "dev", "HANDSHAKE_TEMPORAL": "time-skipping"}
    assert settings.environ(env, command=command)["HANDSHAKE_TEMPORAL"] == "dev"
    settings.environ(env, command=command)
    err = capsys.readouterr().err
    assert err == f"handshake {command}: {old} is deprecated: set HANDSHAKE_TEMPORAL\n"
    # Another command's old name is not this one's.
    assert settings.environ(env)["HANDSHAKE_TEMPORAL"] == "time-skipping"


def test_an_old_file_key_still_sets_certifys_targets_with_a_note(
    no_file: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (no_file / "handshake.toml").write_text('targets = ["dev"]\ntemporal = "time-skipping"\n')
    assert settings.environ({}, command="certify")["HANDSHAKE_TEMPORAL"] == "dev"
    assert "targets is deprecated: write temporal" in capsys.readouterr().err
    # The environment's new name still beats the file's old one: layers first.
    seen = settings.environ({"HANDSHAKE_TEMPORAL": "h:1"}, command="certify")
    assert seen["HANDSHAKE_TEMPORAL"] == "h:1"


@pytest.mark.parametrize(
    ("old", "new", "dest"),
    [
        ("--temporal-address", "--temporal", "temporal"),
        ("--temporal-namespace", "--namespace", "namespace"),
    ],
)
def test_an_old_load_option_still_works_with_a_note(
    capsys: pytest.CaptureFixture[str], old: str, new: str, dest: str
) -> None:
    from harness.load import target

    parser = argparse.ArgumentParser(prog="handshake load")
    target.add_arguments(parser, {})
    args = parser.parse_args([old, "h.example:7233"])
    assert getattr(args, dest) == "h.example:7233"
    assert capsys.readouterr().err == f"handshake load: {old} is deprecated: use {new}\n"


def test_load_reads_the_config_file_like_every_command(no_file: pathlib.Path) -> None:
    from harness.load import run

    (no_file / "handshake.toml").write_text(
        'temporal = "cluster.example:7233"\nnamespace = "team"\nload-users = 3\n'
        "load-think-s = 0.5\nload-overhead-budget-ms = 250\n"
    )
    args = run.parse_args([], settings.environ({}))
    assert args.users == 3
    assert args.overhead_budget_ms == 250
    wanted = run.target.from_options(args)
    assert (wanted.address, wanted.namespace) == ("cluster.example:7233", "team")
    # Handed to the Locust processes as values, file settings included.
    env = run.locust_env(args, wanted, no_file / "out")
    assert env["LOAD_THINK_S"] == "0.5"
    assert env["HANDSHAKE_TEMPORAL"] == "cluster.example:7233"


def test_load_refuses_the_time_skipping_server(no_file: pathlib.Path) -> None:
    from harness.load import run

    with pytest.raises(SystemExit) as exited:
        run.parse_args(["--temporal", "time-skipping"], {})
    assert exited.value.code == 2
    assert run.target.address_of("dev") == ""
    assert run.target.address_of("") == ""


def test_a_comma_list_is_for_certify_only() -> None:
    from harness.config import StackConfig

    with pytest.raises(ConfigError, match="a comma-separated list is for handshake certify"):
        StackConfig(temporal="a.example:1,b.example:2").validate()


# Lower layers receive values: no module below the entry points reads a harness setting
# from the environment (the config file and the Temporal CLI's names would not reach it).

# Module -> the functions that may read (None: the whole module is an entry point).
ENTRY_POINTS: dict[str, frozenset[str] | None] = {
    "harness/settings.py": None,  # the layer itself
    "harness/cli.py": None,
    "harness/doctor.py": None,  # `handshake doctor`: what the environment holds is its subject
    "harness/certify.py": None,
    "harness/certify_target.py": None,
    "harness/pytest_plugin.py": None,
    "harness/load/locustfile.py": None,  # Locust's entry point (`locust -f`)
    "harness/measure/bench.py": frozenset({"main"}),
    "harness/load/run.py": frozenset({"main"}),
    "harness/load/bridge.py": frozenset({"main"}),  # a child process: values by environment
    "harness/load/standin.py": frozenset({"main"}),
}
SETTING_NAME = re.compile(r"^(?:HANDSHAKE|LOAD|TEMPORAL)_[A-Z0-9_]+$")


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def setting_reads(tree: ast.Module) -> list[tuple[int, str, str]]:
    """(line, outermost function or "<module>", what) for every read of a harness
    setting from the environment: ``os.environ.get/[]/in``, ``os.getenv`` with a
    setting's name (a literal or a module constant), and any ``settings.environ()``."""
    constants = {
        t.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }

    def name_of(arg: ast.expr | None) -> str | None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            value = arg.value
        elif isinstance(arg, ast.Name) and arg.id in constants:
            value = constants[arg.id]
        else:
            return None
        return value if SETTING_NAME.match(value) else None

    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if where == "<module>" and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            what = None
            if isinstance(child, ast.Call):
                f = child.func
                first = child.args[0] if child.args else None
                environ_get = isinstance(f, ast.Attribute) and f.attr == "get"
                if (environ_get and _is_os_environ(f.value)) or (  # type: ignore[union-attr]
                    isinstance(f, ast.Attribute) and f.attr == "getenv"
                ):
                    what = name_of(first)
                elif (isinstance(f, ast.Attribute) and f.attr == "environ") or (
                    isinstance(f, ast.Name) and f.id == "environ"
                ):
                    what = "settings.environ()"
            elif isinstance(child, ast.Subscript) and _is_os_environ(child.value):
                what = name_of(child.slice)
            elif isinstance(child, ast.Compare) and any(
                _is_os_environ(c) for c in child.comparators
            ):
                what = name_of(child.left)
            if what is not None:
                found.append((child.lineno, inner, what))  # type: ignore[attr-defined]
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_no_module_below_the_entry_points_reads_a_setting_from_the_environment() -> None:
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        allowed = ENTRY_POINTS.get(rel, frozenset())
        if allowed is None:
            continue
        for line, where, what in setting_reads(ast.parse(path.read_text())):
            if where not in allowed:
                offenders.append(f"{rel}:{line} ({where}) reads {what}")
    assert offenders == [], "pass the value down from the entry point instead"


def test_the_scan_finds_each_way_of_reading_the_environment() -> None:
    source = (
        "import os\nfrom harness import settings\n"
        'RUN_ID = "LOAD_RUN_ID"\n'
        'A = os.environ.get("HANDSHAKE_TEMPORAL")\n'
        "def f():\n"
        "    b = os.environ[RUN_ID]\n"
        '    c = os.getenv("TEMPORAL_ADDRESS")\n'
        '    d = "HANDSHAKE_DEV_STOCK" in os.environ\n'
        "    return settings.environ()\n"
        'def ok():\n    return dict(os.environ), os.environ.get("PATH")\n'
    )
    assert setting_reads(ast.parse(source)) == [
        (4, "<module>", "HANDSHAKE_TEMPORAL"),
        (6, "f", "LOAD_RUN_ID"),
        (7, "f", "TEMPORAL_ADDRESS"),
        (8, "f", "HANDSHAKE_DEV_STOCK"),
        (9, "f", "settings.environ()"),
    ]


def test_a_load_shape_ticks_on_the_values_it_is_given() -> None:
    # In a child: importing Locust monkey-patches the process with gevent.
    probe = (
        "from harness.load import shapes\n"
        "values = shapes.ShapeValues(users=8, spawn_rate=2.0, duration_s=40.0, steps=4)\n"
        "shape = shapes.configured('step', values)()\n"
        "ticks = []\n"
        "for t in (15.0, 40.0):\n"
        "    shape.get_run_time = lambda t=t: t\n"
        "    ticks.append(shape.tick())\n"
        "print(ticks, shapes.BY_NAME['step'].values == shapes.ShapeValues())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The second of four steps, then the run's own duration (not a default's) ends it;
    # the base class keeps its defaults.
    assert done.stdout.strip() == "[(4, 2.0), None] True"


# Options spelled like a registry setting's that are not that setting: bench's own
# --duration and --rate (seconds and arrivals per phase, not the load run's), and the
# --out / --run-id of commands that read no variable for them.
NOT_THE_SETTING = {
    ("harness/measure/bench.py", "--duration"),
    ("harness/measure/bench.py", "--rate"),
    ("harness/certify.py", "--out"),
    ("harness/cli.py", "--out"),
    ("harness/cli.py", "--run-id"),
    ("harness/load/standin.py", "--out"),
    ("harness/measure/bench.py", "--out"),
}
SETTING_NAME = re.compile(r"\b(?:HANDSHAKE|LOAD|TEMPORAL)_[A-Z0-9_]+")


def _hand_declared() -> list[str]:
    """Options declared by hand (``add_argument`` / ``addoption`` / ``add`` with a
    literal name) outside the registry that are a registry setting's option, or whose
    help names a variable: each must come from setting_names.add_options."""
    options = {s.option for s in setting_names.SETTINGS if s.option}
    found = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        if where in ("harness/setting_names.py", "harness/tls.py"):  # the registry's
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr in
                     ("add_argument", "addoption"))
                    or (isinstance(node.func, ast.Name) and node.func.id == "add")
                )
                and node.args
            ):  # fmt: skip
                continue
            first = node.args[0]
            name = first.value if isinstance(first, ast.Constant) else None
            if not isinstance(name, str) or not name.startswith("-"):
                # A computed option name would dodge this scan: none is allowed.
                if not isinstance(first, ast.Constant) and isinstance(node.func, ast.Attribute):
                    found.append(f"{where}:{node.lineno} a computed option name")
                continue
            help_text = " ".join(
                n.value
                for kw in node.keywords
                if kw.arg == "help"
                for n in ast.walk(kw.value)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
            if (name in options and (where, name) not in NOT_THE_SETTING) or SETTING_NAME.search(
                help_text
            ):
                found.append(f"{where}:{node.lineno} {name}")
    return found


def test_the_shared_options_are_declared_once_in_the_registry() -> None:
    """--temporal and --namespace were declared by each command with its own help and
    default; now setting_names.add_options declares them for all (and the old spellings),
    and every other option that takes a setting too: no option of a registry setting,
    and none whose help names a variable, is declared by hand anywhere in harness/."""
    assert _hand_declared() == []
    parser = argparse.ArgumentParser(prog="handshake certify")
    setting_names.add_options(
        parser.add_argument, {}, "certify", "HANDSHAKE_TEMPORAL", "HANDSHAKE_NAMESPACE"
    )
    args = parser.parse_args([])
    assert (args.temporal, args.namespace) == ("time-skipping,dev", "default")
    assert parser.parse_args(["--targets", "dev"]).temporal == "dev"  # the old spelling
    # A repeatable option (the environment's comma-separated value first), and one
    # whose default the command resolves itself later (from_env=False).
    env = {"HANDSHAKE_CONTRACT_NAMES": "a=b", "HANDSHAKE_READY_TIMEOUT_S": "5"}
    gate = argparse.ArgumentParser(prog="gate")
    setting_names.add_options(gate.add_argument, env, "gate", "HANDSHAKE_CONTRACT_NAMES")
    setting_names.add_options(
        gate.add_argument, env, "gate", "HANDSHAKE_READY_TIMEOUT_S", from_env=False
    )
    setting_names.add_options(
        gate.add_argument, {}, "gate", "HANDSHAKE_PAIRING", choices={"HANDSHAKE_PAIRING": ["x-y"]}
    )
    args = gate.parse_args(["--contract-name", "c=d"])
    assert (args.contract_name, args.ready_timeout, args.pairing) == (["a=b", "c=d"], None, None)
    with pytest.raises(SystemExit):
        gate.parse_args(["--pairing", "z"])


def test_the_cli_pages_settings_table_is_the_registry() -> None:
    """Every key of docs/reference/cli.md's config-file table, with its variables, is a
    registry setting's (the table is generated: `make docs-gen`), and none is missing."""
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    table = page.split("<!-- gen:config-keys:begin -->")[1].split("<!-- gen:config-keys:end -->")[0]
    rows = [line.split("|")[1:4] for line in table.splitlines() if line.startswith("| `")]
    documented = {
        key.strip().strip("`"): tuple(re.findall(r"`([A-Z0-9_]+)`", env)) for key, _, env in rows
    }
    expected = {s.name: (s.env, *s.temporal_envs) for s in setting_names.SETTINGS if s.in_file}
    assert documented == expected
    hash(setting_names.BY_ENV["HANDSHAKE_TEMPORAL"])  # a registry entry stays hashable


def test_the_dev_server_takes_its_settings_as_values(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harness/servers reads no environment: the entry point's values decide."""
    from harness.config import DEV, LocalServers, StackConfig, local_servers
    from harness.servers.temporal import _server_argv

    monkeypatch.setenv("HANDSHAKE_DEV_EPHEMERAL", "1")  # ignored down here
    plain, _ = _server_argv(StackConfig(temporal=DEV), 7233, tmp_path)
    assert "--db-filename" in plain
    assert "history.transferProcessorMaxPollRPS=10000" in plain
    assert 'history.timerProcessorMaxTimeShift="10ms"' in plain
    servers = local_servers(
        {
            "HANDSHAKE_DEV_EPHEMERAL": "1",
            "HANDSHAKE_DEV_STOCK": "1",
            "HANDSHAKE_DEV_DYNAMIC_CONFIG": "a.b=1, c.d=2",
        }
    )
    expected = LocalServers(dev_stock=True, dev_dynamic_config=("a.b=1", "c.d=2"))
    assert servers == dataclasses.replace(expected, dev_ephemeral=True)
    argv, _ = _server_argv(StackConfig(temporal=DEV, servers=servers), 7233, tmp_path)
    assert "--db-filename" not in argv
    assert "history.transferProcessorMaxPollRPS=10000" not in argv
    assert 'history.timerProcessorMaxTimeShift="10ms"' not in argv
    assert argv[-4:] == ["--dynamic-config-value", "a.b=1", "--dynamic-config-value", "c.d=2"]
