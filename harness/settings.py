"""One settings layer: command-line options, environment variables, a config file.

Every harness setting has one name in three forms: the option (``--zigflow-cmd``),
the environment variable (``HANDSHAKE_ZIGFLOW_CMD``) and the config-file key
(``zigflow-cmd``: the variable's name without ``HANDSHAKE_``, lower case, dashes or
underscores). An option beats the environment, which beats the file. The file is a
team's own ``pyproject.toml`` (table ``[tool.handshake]``) or a ``handshake.toml``
(top level), the nearest one from the working directory upward:

    [tool.handshake]
    temporal = "temporal.staging.internal:7233"
    zigflow-level = "activity"
    zigflow-cmd = "./bin/zigflow --temporal {temporal_address} --stigma {stigma_target}"
    stigma-cmd = "java -jar stigma.jar"
    contract-names = ["zigflow_agent_activity=ExecuteAgent"]

Readers call ``environ()`` where they would read ``os.environ``: the environment
as the harness sees it, the process's own over the file's.
"""

from __future__ import annotations

import os
import pathlib
import tomllib
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError

PREFIX = "HANDSHAKE_"
FILES = ("handshake.toml", "pyproject.toml")


def config_file(start: pathlib.Path | None = None) -> pathlib.Path | None:
    """The nearest handshake.toml, or pyproject.toml with a [tool.handshake] table."""
    here = (start or pathlib.Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for name in FILES:
            path = directory / name
            if path.is_file() and (name == "handshake.toml" or _has_table(path)):
                return path
    return None


def _has_table(pyproject: pathlib.Path) -> bool:
    try:
        return "handshake" in _load(pyproject).get("tool", {})
    except ConfigError:
        return False


def _load(path: pathlib.Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: not a readable TOML file ({err})") from None


def _text(key: str, value: Any, path: pathlib.Path) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ConfigError(f"{path}: {key} = {value!r}: expected a string, number or list of strings")


def from_file(path: pathlib.Path) -> dict[str, str]:
    """The file's settings as environment variables (``zigflow-cmd`` ->
    ``HANDSHAKE_ZIGFLOW_CMD``)."""
    data = _load(path)
    table = data if path.name == "handshake.toml" else data.get("tool", {}).get("handshake", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.handshake] must be a table")
    return {
        PREFIX + key.upper().replace("-", "_"): _text(key, value, path)
        for key, value in table.items()
    }


def environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as the harness sees it: the config file's settings, under the
    process environment (``env``, default ``os.environ``), which wins."""
    process = dict(os.environ if env is None else env)
    path = config_file()
    return {**(from_file(path) if path is not None else {}), **process}
