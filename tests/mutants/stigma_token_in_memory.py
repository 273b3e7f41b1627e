"""Stigma that keeps the token in process memory instead of in its durable workflow:
after a kill the token is gone and the waiting Zigflow activity is never completed."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities, server
from reference_services.stigma.model import CompletionOutcome

TOKENS: dict[str, str] = {}  # execution id -> token (base64): lost with the process
_start = server.TemporalStarter.start
_deliver = activities.SystemActivities._deliver


async def start(self: Any, workflow_id: str, request: Any, timeout_s: float | None) -> None:
    if request.token is not None:
        TOKENS[request.execution_id] = request.token.token_b64
        request.token = dataclasses.replace(request.token, token_b64="")
    await _start(self, workflow_id, request, timeout_s)


async def deliver(self: Any, completion: Any, *, fail: bool, kind: str = "") -> Any:
    token = TOKENS.get(completion.execution_id)
    if token is None:
        return CompletionOutcome("token_lost", message="not in this process's memory")
    return await _deliver(
        self, dataclasses.replace(completion, token_b64=token), fail=fail, kind=kind
    )


server.TemporalStarter.start = start  # type: ignore[method-assign]
activities.SystemActivities._deliver = deliver  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
