"""Waiting on conditions, never on the clock: every wait names what it still waits for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness import spans
from harness.errors import ComponentDied, WaitTimeout

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float,
    pending: Callable[[], str],
    interval_s: float = 0.05,
) -> T:
    """Poll ``probe`` until it returns a value that is not None.

    ``pending`` describes what is still missing; it becomes the error message
    when ``timeout_s`` runs out. Exceptions from the probe count as "not yet"
    and the last one is chained to the timeout for diagnosis.
    """
    with spans.span(spans.WAIT):  # the durations table's "waiting on real time"
        return await _eventually(probe, timeout_s=timeout_s, pending=pending, interval_s=interval_s)


async def _eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float,
    pending: Callable[[], str],
    interval_s: float,
) -> T:
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            value = await probe()
            if value is not None:
                return value
        except ComponentDied:
            raise  # waiting longer cannot help
        except Exception as err:  # a probe failing is "not ready yet"
            last_error = err
        if time.monotonic() >= deadline:
            raise WaitTimeout(
                f"still waiting after {timeout_s:.1f}s: {pending()}"
                + (f" (last error: {one_line(last_error)})" if last_error else "")
            ) from last_error
        await asyncio.sleep(interval_s)  # poll interval, not synchronisation


def one_line(err: BaseException) -> str:
    """An error in one line: a gRPC error as its status code and details (its repr
    spans lines), anything else as its repr with the whitespace folded."""
    code, details = getattr(err, "code", None), getattr(err, "details", None)
    if callable(code) and callable(details):
        status = code()
        return f"{type(err).__name__} {getattr(status, 'name', status)}: {details()}"
    return " ".join(repr(err).split())


async def hold_for(seconds: float, why: str) -> None:
    """Keep a fault in place for a duration that is itself the point of the fault
    (e.g. longer than a client's retry window). Not synchronisation: nothing is
    waited *for*; ``why`` documents the number at the call site."""
    del why
    with spans.span(spans.WAIT):
        await asyncio.sleep(seconds)


async def counted(
    condition: asyncio.Condition,
    count: Callable[[], int],
    n: int,
    *,
    timeout_s: float,
    pending: Callable[[int], str],
) -> None:
    """Until ``count()`` reaches ``n``, woken by ``condition`` (notified by whoever
    adds to what is counted). ``pending(missing)`` names what has not arrived."""
    with spans.span(spans.WAIT):
        async with condition:
            try:
                await asyncio.wait_for(condition.wait_for(lambda: count() >= n), timeout_s)
            except TimeoutError:
                raise WaitTimeout(
                    f"still waiting after {timeout_s:.0f}s: {pending(n - count())}"
                ) from None
