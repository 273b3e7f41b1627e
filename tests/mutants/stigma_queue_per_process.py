"""Stigma whose restarted process polls a different task queue (named per process, e.g.
after the pod or pid): executions started before the restart are orphaned, so an
agent's result that arrives meanwhile is never delivered."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from reference_services.stigma import __main__ as stigma

_parse = stigma.parse_args


def parse_args(argv: object, env: dict[str, str]) -> object:
    args = _parse(argv, env)  # type: ignore[arg-type]
    marker = pathlib.Path(tempfile.gettempdir()) / f"mutant-stigma-{args.task_queue}"
    if marker.exists():  # not the first incarnation for this queue
        args.task_queue = f"{args.task_queue}-{os.getpid()}"
    marker.touch()
    return args


stigma.parse_args = parse_args  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(stigma.main())
