"""Load-run figures, thresholds, leak verdict and target options (no Locust imported)."""

from __future__ import annotations

import pytest

from harness import tls
from harness.load import figures, target
from harness.load.figures import Thresholds

pytestmark = pytest.mark.unit


def test_durations_use_locusts_syntax() -> None:
    assert figures.parse_duration("90") == 90
    assert figures.parse_duration("30s") == 30
    assert figures.parse_duration("10m") == 600
    assert figures.parse_duration("1h30m") == 5400
    with pytest.raises(ValueError, match="not a duration"):
        figures.parse_duration("ten minutes")


def _sample(i: int, ok: bool = True, overhead: float = 50.0) -> dict[str, object]:
    return {"id": i, "ok": ok, "started_at": 1000.0 + i, "e2e_ms": 500.0, "ack_ms": 10.0,
            "overhead_ms": overhead, "error": "" if ok else "workflow failed: boom"}  # fmt: skip


def test_summary_counts_rate_and_exact_percentiles_above_100_ms() -> None:
    samples = [_sample(i, overhead=150.0 + i) for i in range(10)] + [_sample(10, ok=False)]
    s = figures.summarize(samples)
    assert (s["handshakes"], s["succeeded"], s["failed"]) == (11, 10, 1)
    assert s["wall_s"] == pytest.approx(10.5)  # first start -> last answer
    assert s["handshakes_per_s"] == pytest.approx(10 / 10.5, abs=0.01)
    # exact samples where Locust would round to 10 ms steps
    assert s["latency_ms"]["overhead_ms"]["max"] == pytest.approx(159.0, rel=1e-3)
    assert s["errors"] == {"workflow failed: boom": 1}


def test_breaches_name_each_threshold() -> None:
    good = figures.summarize([_sample(i) for i in range(20)])
    assert figures.breaches(good, Thresholds()) == []
    slow = figures.summarize([_sample(i, overhead=250.0) for i in range(20)])
    assert any("overhead p99 250" in b for b in figures.breaches(slow, Thresholds()))
    failing = figures.summarize([_sample(0), _sample(1, ok=False)])
    assert any("error ratio 50.00%" in b for b in figures.breaches(failing, Thresholds()))
    assert figures.breaches(figures.summarize([]), Thresholds())  # nothing ran: a failure


def test_memory_trend_tells_a_climb_from_a_warm_up() -> None:
    warm_then_flat = [(t, 100.0 + min(t, 100) * 0.4) for t in range(0, 600, 2)]
    assert figures.memory_trend("stigma", warm_then_flat).verdict == "stable"
    climbing = [(t, 100.0 + t * 0.05) for t in range(0, 600, 5)]  # 180 MB/h
    trend = figures.memory_trend("zigflow", climbing)
    assert trend.verdict == "growing"
    assert trend.slope_mb_per_h == pytest.approx(180.0, rel=0.01)
    assert figures.memory_trend("x", [(0, 1.0)]).verdict == "too short"


def test_a_minute_of_samples_gives_no_leak_verdict_and_a_soak_that_short_fails() -> None:
    # A default 60 s run: RSS up 0.6 MB after the warm-up is 50+ MB/h extrapolated, noise
    # over a minute, not a trend; the same climb kept up for 10 minutes is one.
    minute = [(t, 84.0 + t * 0.015) for t in range(0, 61)]
    short = figures.memory_trend("stigma", minute)
    assert short.verdict == "too short"
    assert short.slope_mb_per_h == pytest.approx(54.0, rel=0.01)  # shown, not judged
    assert "45 s after warm-up" in short.detail
    ten_minutes = [(t, 84.0 + t * 0.015) for t in range(0, 601)]
    assert figures.memory_trend("stigma", ten_minutes).verdict == "growing"
    # A soak judges the services it samples: growing fails, too short fails, stable passes.
    stable = figures.memory_trend("zigflow", [(t, 80.0) for t in range(0, 601)])
    found = figures.leak_breaches(
        [short, stable, figures.memory_trend("temporal", minute)], {"zigflow", "stigma"}
    )
    assert found == [f"stigma memory not judged: {short.detail}"]
    grown = figures.memory_trend("stigma", ten_minutes)
    assert figures.leak_breaches([grown, stable], {"zigflow", "stigma"}) == [
        f"stigma memory growing: {grown.detail}"
    ]
    assert figures.leak_breaches([stable], {"zigflow"}) == []


def test_target_round_trips_through_the_environment_and_hides_secrets() -> None:
    t = target.LoadTarget(address="temporal.staging:7233", namespace="cert",
                          connection=tls.Connection(api_key="s3cret"),
                          zigflow_task_queue="zig")  # fmt: skip
    again = target.from_env(t.to_env())
    assert again == t
    assert again.uses_tls  # an API key implies TLS
    assert "s3cret" not in t.describe()
    assert target.from_env({}).local


def test_the_locust_side_never_imports_temporalio() -> None:
    """The locustfile imports target.py under gevent: it must not pull temporalio in."""
    import subprocess
    import sys

    code = "import sys, harness.load.target; print('temporalio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    assert out.stdout.strip() == "False"
