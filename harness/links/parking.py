"""What a relay parks (held calls, in arrival order) and waiting until enough arrived:
the StartAgent relay's and the completion relay's holds alike."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from harness.waits import counted

T = TypeVar("T")


class Parking(Generic[T]):
    def __init__(self) -> None:
        self.parked: list[T] = []
        self._arrived = asyncio.Condition()

    def not_arrived(self, missing: int) -> str:
        """What has not reached the relay yet, and what to check (a wait's error)."""
        return f"{missing} call(s) to reach the harness's relay"

    async def arrived(self, n: int = 1, timeout_s: float = 60.0) -> None:
        """Until ``n`` calls are parked."""
        await counted(
            self._arrived, lambda: len(self.parked), n, timeout_s=timeout_s,
            pending=self.not_arrived,
        )  # fmt: skip
