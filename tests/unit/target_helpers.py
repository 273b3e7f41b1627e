"""A target profile for the tests of harness.target: a staging-like table whose hooks
are small shell commands writing to files, so what ran (and what did not) shows."""

from __future__ import annotations

import pathlib
import shlex
import sys

SECRET = "sk-live-THIS-MUST-NEVER-BE-PRINTED"

# One shell command per hook: append its name to the marker file.
MARK = "sh -c 'echo {service}-%s >> {marker}'"


def profile_toml(
    marker: pathlib.Path,
    *,
    toxiproxy_url: str = "http://127.0.0.1:1",
    ready: str | None = None,
    start: str | None = None,
    table: str = "targets.staging",
    extra: str = "",
) -> str:
    """A handshake.toml holding one profile; every hook appends its name to ``marker``;
    readiness is ``true`` unless ``ready`` gives another command; ``start`` replaces the
    start hook."""
    readiness = ready or "true"
    commands = {h: MARK % h for h in ("kill", "start", "pause", "resume")}
    commands["start"] = start or commands["start"]
    hooks = "".join(
        f"[{table}.{service}]\n"
        + "".join(f'{h} = "{c}"\n' for h, c in commands.items())
        + f'ready = "{readiness}"\nready-interval-s = 0.05\nhook-timeout-s = 10\n'
        + "ready-timeout-s = 10\n"
        for service in ("zigflow", "stigma")
    )
    return (
        f"[{table}]\n"
        'temporal = "127.0.0.1:1"\n'
        'namespace = "handshake-cert"\n'
        'allowed-namespaces = ["handshake-cert"]\n'
        'zigflow-task-queue = "zigflow-cert"\n'
        'agent-task-queue = "agents-cert"\n'
        'temporal-api-key-env = "TEST_TARGET_API_KEY"\n'
        f'stigma-address = "127.0.0.1:1"\n'
        f"vars = {{ marker = {_toml_str(str(marker))} }}\n"
        f"{extra}"
        f"[{table}.toxiproxy]\n"
        f'admin-url = "{toxiproxy_url}"\n'
        f"[{table}.toxiproxy.proxies]\n"
        'stigma_grpc = "deployed-stigma-grpc"\n'
        'zigflow_temporal = "deployed-zigflow-temporal"\n'
        'stigma_temporal = "deployed-stigma-temporal"\n'
        f"{hooks}"
    )


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


PYTHON = shlex.quote(sys.executable)
