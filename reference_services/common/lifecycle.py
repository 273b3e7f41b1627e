"""Process lifecycle: SIGTERM/SIGINT request a clean shutdown."""

from __future__ import annotations

import asyncio
import signal


def shutdown_requested() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (install from inside the running loop)."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def env_or(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "")
    return value if value else default
