"""The reference services stop cleanly on SIGTERM: exit code 0, nothing aborted.

A service that crashes at shutdown (grpcio's threads aborting interpreter finalization
with SIGABRT, seen in about 1 % of the gate's service logs) looks like a crash to
every supervisor at every deploy; the reference a team copies must not do that.
"""

from __future__ import annotations

import dataclasses
import pathlib

from harness.config import StackConfig
from harness.stack.stack import start_stack


async def test_both_reference_services_exit_0_on_sigterm(tmp_path: pathlib.Path) -> None:
    config = dataclasses.replace(StackConfig(), log_dir=tmp_path)
    async with start_stack(config, run_id="shutdown") as stack:
        services = (stack.zigflow, stack.stigma)
    for service in services:
        assert service.exit_code() == 0, f"{service.name}: {service.tail(20)}"
        assert "Fatal Python error" not in service.tail(200), service.tail(40)
