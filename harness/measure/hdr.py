"""Latency histograms (HDR): constant relative error over the whole range, so
p99.9 and max of a long run are as exact as p50, and histograms of the same
level can be merged. A thin layer over PyPI ``hdrhistogram``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

# Microsecond resolution, 1 us .. 10 min, 3 significant digits (0.1 % error).
_LOWEST_US = 1
_HIGHEST_US = 600_000_000
_DIGITS = 3
PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))


class Latencies:
    """Milliseconds in, milliseconds out; negative samples (clock skew between
    server nodes) are clamped to zero rather than lost."""

    def __init__(self, samples_ms: Iterable[float] = ()) -> None:
        self._h = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)
        for v in samples_ms:
            self.record(v)

    def record(self, value_ms: float) -> None:
        us = min(max(round(value_ms * 1000.0), _LOWEST_US), _HIGHEST_US)
        self._h.record_value(us)

    @property
    def n(self) -> int:
        return int(self._h.get_total_count())

    def at(self, percentile: float) -> float:
        return round(float(self._h.get_value_at_percentile(percentile)) / 1000.0, 3)

    def summary(self) -> dict[str, Any]:
        """n, p50, p95, p99, p999, max, mean (ms); Nones when there is no sample."""
        if not self.n:
            return {"n": 0, **{k: None for k, _ in PERCENTILES}, "max": None, "mean": None}
        return {
            "n": self.n,
            **{k: self.at(q) for k, q in PERCENTILES},
            "max": round(self._h.get_max_value() / 1000.0, 3),
            "mean": round(self._h.get_mean_value() / 1000.0, 3),
        }

    def cdf(self, points: int = 60) -> list[list[float]]:
        """[[latency_ms, cumulative fraction], ...] for plotting, denser in the tail."""
        if not self.n:
            return []
        out: list[list[float]] = []
        for i in range(points + 1):
            # 1 - 10^-x spacing puts half the points above p90.
            q = min(100.0, 100.0 * (1.0 - 10 ** (-3.0 * i / points)))
            out.append([self.at(q), round(q / 100.0, 5)])
        out.append([round(self._h.get_max_value() / 1000.0, 3), 1.0])
        return out
