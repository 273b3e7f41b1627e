"""Zigflow whose restarted process polls a different task queue (named per process,
e.g. after the host or pid): workflows started before the restart are orphaned."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from reference_services.zigflow import __main__ as zigflow

_parse = zigflow.parse_args


def parse_args(argv: object, env: dict[str, str]) -> object:
    args = _parse(argv, env)  # type: ignore[arg-type]
    marker = pathlib.Path(tempfile.gettempdir()) / f"mutant-zigflow-{args.task_queue}"
    if marker.exists():  # not the first incarnation for this queue
        args.task_queue = f"{args.task_queue}-{os.getpid()}"
    marker.touch()
    return args


zigflow.parse_args = parse_args  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(zigflow.main())
