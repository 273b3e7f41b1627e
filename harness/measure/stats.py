"""The one percentile definition of every figure the harness reports: nearest rank.

p(q) of n samples is the ceil(q/100 * n)-th smallest (rank at least 1). Every value
reported was observed (no interpolation between two samples, no histogram bucket's
edge), so a p99 can be traced to a handshake's history, and the definition is the
same for the scenarios' overhead, the budget run (harness/measure/bench.py) and load runs
(harness/load/figures.py). The samples are kept exact: a budget run has thousands,
not millions, so a histogram's approximation buys nothing here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

# The summary's percentiles: key, q.
PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of samples already sorted ascending (0 < q <= 100)."""
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0..100")
    # round() first: q/100 * n in floating point (e.g. 0.95 * 100 = 95.00000000000001)
    # must not push the rank past the sample it names.
    rank = max(1, math.ceil(round(q / 100.0 * len(sorted_values), 9)))
    return sorted_values[rank - 1]


def summary(samples: Iterable[float]) -> dict[str, Any]:
    """n, p50, p95, p99, p999, max, mean (rounded to the microsecond when in ms);
    Nones when there is no sample."""
    values = sorted(samples)
    if not values:
        return {"n": 0, **{k: None for k, _ in PERCENTILES}, "max": None, "mean": None}
    return {
        "n": len(values),
        **{k: round(percentile(values, q), 3) for k, q in PERCENTILES},
        "max": round(values[-1], 3),
        "mean": round(sum(values) / len(values), 3),
    }


def cdf(samples: Iterable[float], points: int = 60) -> list[list[float]]:
    """[[value, cumulative fraction], ...] for plotting, denser in the tail: point i is
    at q = 1 - 10^(-3 i / points), which puts half the points above p90; the max last."""
    values = sorted(samples)
    if not values:
        return []
    out: list[list[float]] = []
    for i in range(points + 1):
        q = min(100.0, 100.0 * (1.0 - 10 ** (-3.0 * i / points)))
        out.append([round(percentile(values, q), 3), round(q / 100.0, 5)])
    out.append([round(values[-1], 3), 1.0])
    return out
