"""One settings layer: option > environment > [tool.handshake] / handshake.toml."""

from __future__ import annotations

import ast
import pathlib
import re

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
