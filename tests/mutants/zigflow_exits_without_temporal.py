"""Zigflow with a "liveness" watchdog that exits the worker as soon as Temporal is
unreachable: nothing restarts it, so workflows waiting on it never resume."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from temporalio.client import Client

from reference_services.zigflow import __main__ as zigflow

_serve = zigflow.serve


async def _watchdog(address: str, namespace: str) -> None:
    client = await Client.connect(address, namespace=namespace)
    while True:
        await asyncio.sleep(0.3)
        try:
            await client.service_client.check_health(
                timeout=__import__("datetime").timedelta(seconds=0.5)
            )
        except Exception:
            os._exit(3)


async def serve(args: Any) -> None:
    task = asyncio.get_running_loop().create_task(_watchdog(args.temporal_address, args.namespace))
    try:
        await _serve(args)
    finally:
        task.cancel()


zigflow.serve = serve

if __name__ == "__main__":
    sys.exit(zigflow.main())
