"""Stigma whose agent work and completion calls do not heartbeat: an attempt lost with
a killed worker is only noticed at its StartToClose, long after the restart."""

from __future__ import annotations

import asyncio
import sys

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities


async def _work(seconds: float) -> None:
    await asyncio.sleep(seconds)


activities._work = _work

if __name__ == "__main__":
    sys.exit(stigma.main())
