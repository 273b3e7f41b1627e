"""Zigflow that "cleans up" on SIGTERM: it fails each of its result-pending activities
(retryable, "shutting down") before it stops. Harmless-looking, and the workflow even
succeeds after a retry; but the pending attempt Temporal was keeping is ended, the
agent's result meets a dead token, and every deploy costs a retry of every call in
flight."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, NoReturn

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from reference_services.zigflow import __main__ as zigflow

PENDING: list[bytes] = []  # tokens of the activities this process left result-pending
CLIENTS: list[Client] = []

_raise_complete_async = activity.raise_complete_async


def raise_complete_async() -> NoReturn:
    PENDING.append(activity.info().task_token)
    _raise_complete_async()


activity.raise_complete_async = raise_complete_async  # the reference's activity says it so

_connect = Client.connect


async def connect(*args: Any, **kwargs: Any) -> Client:
    client = await _connect(*args, **kwargs)
    CLIENTS.append(client)
    return client


zigflow.Client.connect = connect  # type: ignore[method-assign]


class FailPendingOnStop:
    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    async def wait(self) -> None:
        await self._event.wait()
        for token in PENDING:
            with contextlib.suppress(Exception):  # already completed: NOT_FOUND
                await (
                    CLIENTS[0]
                    .get_async_activity_handle(task_token=token)
                    .fail(ApplicationError("zigflow is shutting down"))
                )


_shutdown_requested = zigflow.shutdown_requested
zigflow.shutdown_requested = lambda: FailPendingOnStop(_shutdown_requested())  # type: ignore[assignment,return-value]

if __name__ == "__main__":
    sys.exit(zigflow.main())
