"""The pytest11 entry point: loads the harness's plugin (harness.pytest_plugin) when
the packages it runs on are installed, and otherwise stays out of the run.

pytest loads every installed entry point into every run in the venv, a team's own
tests included; the plugin imports pytest-asyncio and Hypothesis (the [gate] extra)
and the generated protobuf code, so importing it where one is missing would fail
every run. Then this module registers nothing and says so in one header line.
``-p no:handshake`` keeps even this out.
"""

from __future__ import annotations

import pytest

from harness import doctor

PLUGIN = "harness.pytest_plugin"

MISSING = doctor.missing_modules(
    {**doctor.PLUGIN_MODULES, doctor.GENERATED: "the generated protobuf code (stigma.v1)"}
)

# pytest imports what a plugin module's pytest_plugins names when it registers it.
pytest_plugins = [] if MISSING else [PLUGIN]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not MISSING or config.pluginmanager.has_plugin(PLUGIN):
        return []
    return [
        f"handshake: plugin not loaded, missing {', '.join(MISSING)}: "
        f"pip install '{doctor.DISTRIBUTION}[gate]' (`handshake doctor` lists the rest)"
    ]
