"""Locust load shapes: step, spike, soak. Chosen by LOAD_SHAPE (the locustfile puts
the one named there in its namespace, where Locust looks for a shape).

Parameters come from the environment that run.py (``make load``) sets:
LOAD_USERS (peak users), LOAD_SPAWN_RATE, LOAD_DURATION (e.g. 10m), LOAD_STEPS.
"""

from __future__ import annotations

import os

from locust import LoadTestShape

from harness.load.figures import parse_duration


def _env() -> tuple[int, float, float]:
    users = int(os.environ.get("LOAD_USERS") or 5)
    rate = float(os.environ.get("LOAD_SPAWN_RATE") or users)
    duration = parse_duration(os.environ.get("LOAD_DURATION") or "60s")
    return users, rate, duration


class StepShape(LoadTestShape):
    """LOAD_STEPS equal steps up to LOAD_USERS over LOAD_DURATION: where does the
    handshake rate stop growing with users (the knee)?"""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = _env()
        steps = max(1, int(os.environ.get("LOAD_STEPS") or 4))
        t = self.get_run_time()
        if t >= duration:
            return None
        step = min(steps, int(t // (duration / steps)) + 1)
        return max(1, round(users * step / steps)), rate


class SpikeShape(LoadTestShape):
    """A quarter of LOAD_USERS, then all of them for the middle third, then back:
    does the backlog drain and do pending agents stay bounded?"""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = _env()
        t = self.get_run_time()
        if t >= duration:
            return None
        base = max(1, users // 4)
        spiking = duration / 3 <= t < 2 * duration / 3
        return (users if spiking else base), max(rate, float(users))


class SoakShape(LoadTestShape):
    """LOAD_USERS for LOAD_DURATION, constant: for the memory trend (minutes here,
    hours in staging)."""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = _env()
        return None if self.get_run_time() >= duration else (users, rate)


BY_NAME: dict[str, type[LoadTestShape]] = {
    "step": StepShape,
    "spike": SpikeShape,
    "soak": SoakShape,
}
