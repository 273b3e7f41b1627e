"""Locust load shapes: step, spike, soak. The locustfile puts the one LOAD_SHAPE names
in its namespace, where Locust looks for a shape, made by ``configured`` with the run's
values (LOAD_USERS peak users, LOAD_SPAWN_RATE, LOAD_DURATION e.g. 10m, LOAD_STEPS):
the shapes receive them and read no environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from locust import LoadTestShape


@dataclass(frozen=True)
class ShapeValues:
    users: int = 5
    spawn_rate: float = 5.0
    duration_s: float = 60.0
    steps: int = 4


class _Shape(LoadTestShape):
    values = ShapeValues()

    def _env(self) -> tuple[int, float, float]:
        v = self.values
        return v.users, v.spawn_rate, v.duration_s


class StepShape(_Shape):
    """LOAD_STEPS equal steps up to LOAD_USERS over LOAD_DURATION: where does the
    handshake rate stop growing with users (the knee)?"""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = self._env()
        steps = max(1, self.values.steps)
        t = self.get_run_time()
        if t >= duration:
            return None
        step = min(steps, int(t // (duration / steps)) + 1)
        return max(1, round(users * step / steps)), rate


class SpikeShape(_Shape):
    """A quarter of LOAD_USERS, then all of them for the middle third, then back:
    does the backlog drain and do pending agents stay bounded?"""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = self._env()
        t = self.get_run_time()
        if t >= duration:
            return None
        base = max(1, users // 4)
        spiking = duration / 3 <= t < 2 * duration / 3
        return (users if spiking else base), max(rate, float(users))


class SoakShape(_Shape):
    """LOAD_USERS for LOAD_DURATION, constant: for the memory trend (minutes here,
    hours in staging)."""

    def tick(self) -> tuple[int, float] | None:
        users, rate, duration = self._env()
        return None if self.get_run_time() >= duration else (users, rate)


BY_NAME: dict[str, type[_Shape]] = {
    "step": StepShape,
    "spike": SpikeShape,
    "soak": SoakShape,
}


def configured(name: str, values: ShapeValues) -> type[LoadTestShape]:
    """The shape ``name`` with the run's values (a subclass: Locust instantiates it)."""
    chosen = values

    class Configured(BY_NAME[name]):  # type: ignore[misc,valid-type]
        values = chosen

    Configured.__name__ = BY_NAME[name].__name__
    return Configured
