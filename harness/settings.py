"""One settings layer: command-line options, environment variables, a config file.

Every harness setting has one name in three forms: the option (``--zigflow-cmd``),
the environment variable (``HANDSHAKE_ZIGFLOW_CMD``) and the config-file key
(``zigflow-cmd``: the variable's name without ``HANDSHAKE_``, lower case, dashes or
underscores). An option beats the environment (``HANDSHAKE_*``, then the names
Temporal's CLI reads: ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
``TEMPORAL_TLS_*``), which beats the file. The file is a
team's own ``pyproject.toml`` (table ``[tool.handshake]``) or a ``handshake.toml``
(top level), the nearest one from the working directory upward:

    [tool.handshake]
    temporal = "temporal.staging.internal:7233"
    zigflow-level = "activity"
    zigflow-cmd = "./bin/zigflow --temporal {temporal_address} --stigma {stigma_target}"
    stigma-cmd = "java -jar stigma.jar"
    contract-names = ["zigflow_agent_activity=ExecuteAgent"]

Entry points (the CLI, the pytest plugin, each command's ``main``) call ``environ()``
where they would read ``os.environ``: the environment as the harness sees it, the
process's ``HANDSHAKE_*`` over the Temporal CLI's names (``TEMPORAL_ADDRESS`` ...)
over the file's; they pass values down, and no module below them reads a setting
(``tests/unit/test_settings.py`` holds it).

The file is strict: a file that is not TOML, an unknown key or a value of the wrong
type is a ConfigError naming the file, the key and the nearest valid key (the keys
are those of ``harness.setting_names``).

One table is not a setting: ``targets`` holding tables (``[tool.handshake.targets.NAME]``,
``[targets.NAME]`` in a handshake.toml) are target profiles of deployed services,
validated as strictly by ``harness.target.profile`` and never turned into
``HANDSHAKE_*`` variables (``target_profiles``). ``targets`` as a list is still the
certify setting of that name. A pyproject.toml that does not parse is an
error too, table or not: we cannot tell whether it was meant to configure the harness,
and skipping it would run the reference services in place of the team's.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import setting_names
from harness.errors import ConfigError
from harness.setting_names import KIND_TEXT, PREFIX, Setting
from harness.target import profile

FILES = ("handshake.toml", "pyproject.toml")


@dataclass(frozen=True)
class _Found:
    path: pathlib.Path
    table: Any  # the harness's table, checked by _table


def _find(start: pathlib.Path | None = None) -> _Found | None:
    """The nearest handshake.toml, or pyproject.toml with a [tool.handshake] table;
    raises ConfigError for the nearest pyproject.toml that does not parse."""
    here = (start or pathlib.Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for name in FILES:
            path = directory / name
            if path.is_file():
                table = _harness_table(path, _load(path))
                if table is not None:
                    return _Found(path, table)
    return None


def _harness_table(path: pathlib.Path, data: dict[str, Any]) -> Any:
    """What configures the harness in a parsed file, unchecked; None when nothing does."""
    if path.name == "handshake.toml":
        return data
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: tool must be a table")
    return tool.get("handshake")


def config_file(start: pathlib.Path | None = None) -> pathlib.Path | None:
    """The nearest handshake.toml, or pyproject.toml with a [tool.handshake] table."""
    found = _find(start)
    return found.path if found is not None else None


def _load(path: pathlib.Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        # A pyproject.toml is read for its [tool.handshake]; one that does not parse may
        # hold it, and passing it over would run the defaults in place of the team's.
        hint = (
            ""
            if path.name == "handshake.toml"
            else " (it may hold [tool.handshake]; a handshake.toml beside it is read first)"
        )
        raise ConfigError(f"{path}: not valid TOML: {err}{hint}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it ({err.strerror or err})") from None


def _where(path: pathlib.Path) -> str:
    return f"{path}:" if path.name == "handshake.toml" else f"{path}: [tool.handshake]"


def _fits(setting: Setting, value: Any) -> bool:
    # bool is an int in Python; TOML's true is never a number here.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    match setting.kind:
        case "str":
            return isinstance(value, str)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "float":
            return number
        case "bool":
            return isinstance(value, bool)
        case "int|str":
            return isinstance(value, str) or (number and isinstance(value, int))
        case "list":
            # Levels are numbers ([1, 10, 100]); names are strings.
            return isinstance(value, str) or (
                isinstance(value, list)
                and all(
                    isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
                    for v in value
                )
            )
    return False


def _text(value: Any) -> str:
    """A checked value in the environment's form."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _check(key: str, value: Any, path: pathlib.Path) -> Setting:
    """The setting ``key`` names, or a ConfigError naming the file, the key and what to
    write instead."""
    where = _where(path)
    setting = setting_names.lookup(key)
    if setting is None:
        near = setting_names.suggest(key)
        fix = f"did you mean {near}?" if near else "the keys are listed in docs/reference/cli.md"
        raise ConfigError(f"{where} {key}: unknown setting; {fix}")
    if not setting.in_file:
        raise ConfigError(
            f"{where} {key}: not a config-file setting; set {setting.env} in the environment"
        )
    if not _fits(setting, value):
        shown = "<secret>" if setting.secret else repr(value)
        raise ConfigError(f"{where} {key} = {shown}: expected {KIND_TEXT[setting.kind]}")
    return setting


def _table(found: _Found) -> dict[str, str]:
    """The found table's settings as environment variables, every key checked."""
    path, table = found.path, found.table
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.handshake] must be a table, not {type(table).__name__}")
    values: dict[str, str] = {}
    keys: dict[str, str] = {}  # environment variable -> the key that set it
    for key, value in table.items():
        if _is_profiles(key, value):
            # Checked here so that a broken profile stops every command, as a broken
            # key does; read with target_profiles().
            profile.parse_all(value, _where(path))
            continue
        setting = _check(key, value, path)
        if setting.env in keys:
            # zigflow-cmd and zigflow_cmd both: which one wins would be a guess.
            raise ConfigError(f"{_where(path)} {key}: given twice ({keys[setting.env]} and {key})")
        keys[setting.env] = key
        values[setting.env] = _text(value)
    return values


def _is_profiles(key: str, value: Any) -> bool:
    # TOML's [tool.handshake.targets.staging] is a dict; certify's targets is a list.
    return key.lower().replace("_", "-") == "targets" and isinstance(value, dict)


@dataclass(frozen=True)
class Profiles:
    path: pathlib.Path | None  # the config file in use
    profiles: dict[str, profile.Profile]


def target_profiles(start: pathlib.Path | None = None) -> Profiles:
    """The target profiles of the config file in use (none without a file)."""
    found = _find(start)
    if found is None:
        return Profiles(None, {})
    _table(found)  # the whole file is checked, as for any command
    table = found.table
    profiles: Any = next((v for k, v in table.items() if _is_profiles(k, v)), {})
    return Profiles(found.path, profile.parse_all(profiles, _where(found.path)))


def from_file(path: pathlib.Path) -> dict[str, str]:
    """The file's settings as environment variables (``zigflow-cmd`` ->
    ``HANDSHAKE_ZIGFLOW_CMD``)."""
    table = _harness_table(path, _load(path))
    return _table(_Found(path, {} if table is None else table))


def environ(env: Mapping[str, str] | None = None, *, command: str | None = None) -> dict[str, str]:
    """The environment as the harness sees it, each setting from the first layer that
    has it: the process's ``HANDSHAKE_*`` (``env``, default ``os.environ``; set but
    empty counts: it unsets), then the Temporal CLI's names (``TEMPORAL_ADDRESS`` ... for
    ``HANDSHAKE_TEMPORAL`` ...), then the config file. Options, parsed over these
    defaults, beat them all: this is the one place the order is decided.

    ``command`` (``certify``, ``bench``) also takes its deprecated spellings
    (``HANDSHAKE_TARGETS``, ``targets``) for ``HANDSHAKE_TEMPORAL``, with a one-line note
    on stderr: within its layer a command's own old name is the more specific one."""
    process = dict(os.environ if env is None else env)
    _check_environment(process)
    found = _find()
    file = _table(found) if found is not None else {}
    temporal_cli = {s.env: process[name] for name, s in _used_temporal_names(process)}
    if command is not None:
        where = str(found.path) if found is not None else ""
        file = _fold_aliases(file, command, f"{where}: key " if where else "")
        process = _fold_aliases(process, command, "")
    return {**file, **temporal_cli, **process}


def _used_temporal_names(process: Mapping[str, str]) -> list[tuple[str, Setting]]:
    """The Temporal CLI variables that give a setting its value: set, not empty, the
    harness's own name unset (in the process), and the first such name of its setting."""
    used: dict[str, tuple[str, Setting]] = {}
    for name, setting in setting_names.CLI_NAMES:
        if setting.env in process or setting.env in used or not process.get(name, "").strip():
            continue
        used[setting.env] = (name, setting)
    return list(used.values())


_noted: set[str] = set()


def _fold_aliases(layer: dict[str, str], command: str, where: str) -> dict[str, str]:
    """``layer`` with the command's deprecated names copied onto the settings they spell."""
    folded = dict(layer)
    for s in setting_names.SETTINGS:
        if s.alias_of is None or s.command != command or not layer.get(s.env, "").strip():
            continue
        folded[s.alias_of] = layer[s.env]
        new = setting_names.BY_ENV[s.alias_of]
        note = (
            f"handshake {command}: {where}{s.name} is deprecated: write {new.name}"
            if where
            else f"handshake {command}: {s.env} is deprecated: set {new.env}"
        )
        if note not in _noted:  # once per process: environ() is called more than once
            _noted.add(note)
            print(note, file=sys.stderr)
    return folded


def _check_environment(process: Mapping[str, str]) -> None:
    """A misspelled ``HANDSHAKE_*`` variable, or a number that does not parse, is an
    error naming it, never a silent fallback to the default (the reference services)."""
    for name, value in sorted(process.items()):
        if not name.startswith(PREFIX) or name in setting_names.TEST_ONLY:
            continue
        setting = setting_names.BY_ENV.get(name)
        if setting is None:
            near = setting_names.suggest_env(name)
            hint = f"; did you mean {near}?" if near else ""
            raise ConfigError(f"environment: {name}: unknown setting{hint}")
        if not value.strip():
            continue  # empty: unset (an empty value also overrides a file's)
        shown = "<secret>" if setting.secret else repr(value)
        parse = {"int": int, "float": float}.get(setting.kind)
        if parse is None:
            continue
        try:
            parse(value)
        except ValueError:
            kind = setting_names.KIND_TEXT[setting.kind]
            raise ConfigError(f"environment: {name}={shown}: expected {kind}") from None


@dataclass(frozen=True)
class Sources:
    """Where a run's settings came from, for a header that says what it certifies:
    names only, never values (some are secrets)."""

    config: pathlib.Path | None
    environment: tuple[str, ...]  # HANDSHAKE_* variables the registry declares
    undeclared: tuple[str, ...]  # HANDSHAKE_* variables set that no setting reads
    # The Temporal CLI's variables that gave a setting its value, and those set that
    # the harness does not read (a profile file, inline key material).
    temporal_cli: tuple[str, ...] = ()
    temporal_unread: tuple[str, ...] = ()

    def describe(self) -> str:
        line = (
            f"config {self.config or 'none'}; environment: {', '.join(self.environment) or 'none'}"
        )
        if self.temporal_cli:
            line += f"; Temporal CLI variables: {', '.join(self.temporal_cli)}"
        if self.undeclared:
            line += f"; not harness settings, ignored: {', '.join(self.undeclared)}"
        if self.temporal_unread:
            line += f"; Temporal CLI variables not read: {', '.join(self.temporal_unread)}"
        return line


def sources(env: Mapping[str, str] | None = None) -> Sources:
    """The config file in use and the variables set (``env``, default ``os.environ``);
    raises ConfigError as ``environ`` does."""
    process = os.environ if env is None else env
    names = sorted(k for k in process if k.startswith(PREFIX))
    return Sources(
        config=config_file(),
        environment=tuple(n for n in names if n in setting_names.BY_ENV),
        undeclared=tuple(n for n in names if n not in setting_names.BY_ENV),
        temporal_cli=tuple(sorted(name for name, _ in _used_temporal_names(process))),
        temporal_unread=tuple(n for n in setting_names.CLI_NAMES_UNREAD if process.get(n)),
    )


# Declared with the registry (setting_names.add_options); here too for the entry points.
Deprecated = setting_names.Deprecated
