"""A local stack that stays up until SIGINT/SIGTERM: a stand-in for a staging cluster.

    python -m harness.load.standin [--out reports/out/standin] [--zigflow-cmd ..] [--stigma-cmd ..]

Its services are those of --zigflow-cmd / --stigma-cmd (or HANDSHAKE_ZIGFLOW_CMD /
HANDSHAKE_STIGMA_CMD), as in the gate; default: the reference.

Prints (and writes to <out>/target.json) what a load run needs to reach it, e.g.
``make load LOAD_ARGS="--temporal 127.0.0.1:PORT --zigflow-task-queue Q"``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import signal
import sys

from harness import settings
from harness.config import StackConfig, local_servers
from harness.errors import ConfigError, HarnessError
from harness.load import services
from harness.stack.stack import start_stack


async def serve(out: pathlib.Path, config: StackConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with start_stack(config, run_id=f"standin-{os.getpid()}") as stack:
        info = {
            "temporal_address": stack.temporal.address,
            "namespace": stack.namespace,
            "zigflow_task_queue": stack.zigflow_task_queue,
            "metrics": stack.metrics,
            "pids": {"zigflow": stack.zigflow.pid, "stigma": stack.stigma.pid},
            "load_args": f"--temporal {stack.temporal.address} "
            f"--namespace {stack.namespace} "
            f"--zigflow-task-queue {stack.zigflow_task_queue}",
        }
        await asyncio.to_thread((out / "target.json").write_text, json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.load.standin", description=__doc__)
    p.add_argument("--out", default="reports/out/standin")
    services.add_arguments(p)
    args = p.parse_args(argv)
    try:
        env = settings.environ()  # the settings layer, as every command's
        commands = services.from_options(args, env)
    except ConfigError as err:
        p.error(str(err))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(out, commands.stack_config(out / "logs", local_servers(env))))
    except HarnessError as err:  # e.g. a service that died before it was ready, with its log
        print(f"standin: the stack did not come up: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
