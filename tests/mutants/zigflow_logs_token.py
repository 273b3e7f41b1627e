"""Zigflow that logs the task token of each attempt, Base64, before handing it to
Stigma, as the seed plan literally asks ("Log token (Base64)")."""

from __future__ import annotations

import base64
import sys
from typing import Any

from reference_services.zigflow import __main__ as zigflow
from reference_services.zigflow import activities

_start_agent = activities.GrpcStigmaClient.start_agent


async def start_agent(self: Any, request: Any, timeout_s: float) -> None:
    if request.callback_token:
        token = base64.b64encode(request.callback_token).decode()
        print(f"Log token (Base64): {token}", flush=True)
    await _start_agent(self, request, timeout_s)


activities.GrpcStigmaClient.start_agent = start_agent  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(zigflow.main())
