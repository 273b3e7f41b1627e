"""A pytest plugin for certify's own tests: makes chosen scenarios fail in a fixture,
skip, or crash (their xdist worker, or the whole run without xdist), so that a test can
show the verdict comes from what ran, not from what reported.

    CERTIFY_SABOTAGE="fixture=test_plan_continues;skip=test_a_request;crash=test_agent"
    python -m harness.certify ... -- -p tests.variants.sabotage
"""

from __future__ import annotations

import os

import pytest

ENV = "CERTIFY_SABOTAGE"


def _plan() -> list[tuple[str, str]]:
    spec = os.environ.get(ENV, "")
    return [
        (what.strip(), name.strip())
        for what, _, name in (part.partition("=") for part in spec.split(";") if part)
    ]


@pytest.fixture(autouse=True)
def _sabotage(request: pytest.FixtureRequest) -> None:
    for what, name in _plan():
        if name and name in request.node.nodeid:
            if what == "fixture":
                raise RuntimeError("sabotaged: a fixture that raises before the scenario")
            if what == "skip":
                pytest.skip("sabotaged: skipped")
            if what == "crash":
                os._exit(3)  # no teardown, no report from this process: a crash
