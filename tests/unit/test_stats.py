"""The one percentile definition (nearest rank), on cases worked out by hand."""

from __future__ import annotations

import pytest

from harness.measure import stats

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        # n=10: rank ceil(q/100 * 10)
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5),  # rank 5
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10),  # rank ceil(9.5) = 10
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10, 1),  # rank 1
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 11, 2),  # rank ceil(1.1) = 2
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0, 1),  # rank max(1, 0) = 1
        # n=4: p50 is the 2nd value, not the mean of the 2nd and 3rd
        ([10, 20, 30, 40], 50, 20),
        ([10, 20, 30, 40], 75, 30),
        ([10, 20, 30, 40], 76, 40),
        # n=100: 0.95 * 100 is 95.00000000000001 in floating point; still rank 95
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 99.9, 100),  # rank ceil(99.9) = 100
        # n=1000: p99.9 is the 999th
        (list(range(1, 1001)), 99.9, 999),
        ([7.5], 99, 7.5),
    ],
)
def test_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert stats.percentile(values, q) == expected


def test_no_samples_and_bad_q_are_errors() -> None:
    with pytest.raises(ValueError, match="no samples"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        stats.percentile([1.0], 101)


def test_summary_reports_observed_values_only() -> None:
    s = stats.summary([4.0, 1.0, 3.0, 2.0])  # unsorted in, sorted inside
    assert s == {
        "n": 4,
        "p50": 2.0,
        "p95": 4.0,
        "p99": 4.0,
        "p999": 4.0,
        "max": 4.0,
        "mean": 2.5,
    }
    assert stats.summary([])["p99"] is None


def test_cdf_is_monotonic_and_ends_at_the_max() -> None:
    points = stats.cdf([float(v) for v in range(1, 1001)], points=6)
    assert points[0] == [1.0, 0.0]
    assert points[-1] == [1000.0, 1.0]
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    # q = 1 - 10^-1.5 = 96.8377...: rank ceil(968.377) = 969
    assert points[3] == [969.0, 0.96838]
    assert stats.cdf([]) == []
