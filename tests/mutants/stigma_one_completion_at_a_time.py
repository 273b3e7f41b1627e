"""Stigma that makes its calls by token one at a time (a single completion slot: a
process-wide lock, "to be gentle with the server"), each with the reference's deadline.
Every call answers, so every result arrives; but a call the server does not answer
holds every other execution's completion behind it until its deadline."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_real = activities._alive_while
_one_slot = asyncio.Lock()


async def _one_at_a_time(call: Awaitable[None]) -> None:
    async with _one_slot:  # the call starts only once it holds the slot
        await _real(call)


activities._alive_while = _one_at_a_time

if __name__ == "__main__":
    sys.exit(stigma.main())
