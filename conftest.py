"""Root conftest: the harness's pytest plugin (fixtures, options, markers).

Installed (``pip install -e .``, which ``make setup`` runs), pytest loads it through
its pytest11 entry point (harness.pytest_entry, which registers it under its module
name: listed here too, pytest skips it); an older install's entry point registered it
under the entry point's name, so then it is not listed again; in a checkout that was
never installed, it is loaded from here.
"""

import importlib.metadata

_entry_points = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
pytest_plugins = [] if "harness.pytest_plugin" in _entry_points else ["harness.pytest_plugin"]


import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """The repository's own Hypothesis tests (tests/unit) run under the gate's profile
    too (few examples, derandomized): the plugin loads it by itself only for runs of its
    scenarios. After the plugin's pytest_configure, which registers the profiles."""
    import os

    from hypothesis import settings

    if not os.environ.get("HANDSHAKE_HYPOTHESIS_PROFILE"):
        settings.load_profile("gate")
