"""Stigma that logs each task token it is handed, Base64, as the seed plan literally
asks ("Log token (Base64)"): anyone who reads its log can complete the activity."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import server

_start = server.TemporalStarter.start


async def start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    if request.token is not None:
        # The request already carries the token as Base64 (JSON has no bytes).
        print(f"Log token (Base64): {request.token.token_b64}", flush=True)
    await _start(self, workflow_id, request, timeout_s)


server.TemporalStarter.start = start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
