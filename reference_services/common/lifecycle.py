"""Process lifecycle: SIGTERM/SIGINT request a clean shutdown."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import sys
from typing import NoReturn


def shutdown_requested() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (install from inside the running loop)."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def exit_after_shutdown(code: int) -> NoReturn:
    """Exit once the service has shut down cleanly, without interpreter finalization.

    grpcio's threads can still be running when the interpreter finalizes, and then
    abort the process ("Fatal Python error: PyGILState_Release", SIGABRT): a clean
    SIGTERM shutdown would look like a crash to the supervisor. Everything that
    matters has happened by now (server stopped, worker drained, logs written), so:
    the exit handlers (log flushing, coverage data), then ``os._exit``.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def env_or(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "")
    return value if value else default
