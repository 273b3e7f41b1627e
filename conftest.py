"""Root conftest: the harness's pytest plugin (fixtures, options, markers).

Installed (``pip install -e .``, which ``make setup`` runs), pytest loads it from
its pytest11 entry point; in a checkout that was never installed, from here.
"""

import importlib.metadata

_entry_points = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
pytest_plugins = [] if "harness.pytest_plugin" in _entry_points else ["harness.pytest_plugin"]
