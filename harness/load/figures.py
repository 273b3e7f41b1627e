"""A load run's figures and verdicts, as pure functions: latency summaries from the
bridges' raw samples (nearest-rank percentiles over the exact values, harness/measure/stats.py:
Locust itself keeps exact values only up to 100 ms and rounds the rest), the
thresholds that fail a run, the memory-leak verdict."""

from __future__ import annotations

import bisect
import json
import math
import pathlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure import stats

STAGES = ("e2e_ms", "ack_ms", "overhead_ms")
# A bridge's reads of a handshake's two histories after the load (LOAD_STAGES=after)
# took 4-7 ms of wall time each on 2 busy cores: the waits for them (Locust's for its
# bridge, the runner's for Locust) allow this much per handshake on top of their own.
STAGE_READ_ALLOWANCE_S = 0.02
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def parse_duration(text: str) -> float:
    """Locust's duration syntax: "90", "30s", "10m", "1h30m" -> seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 10m, 1h30m)")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def _records(paths: Iterable[pathlib.Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()
    ]


def read_samples(paths: Iterable[pathlib.Path]) -> list[dict[str, Any]]:
    """One sample per handshake answered, with its stages: those a bridge read after
    the load (``stages_of`` records, harness/load/bridge.py) merged into their sample."""
    samples: list[dict[str, Any]] = []
    later: dict[str, dict[str, Any]] = {}
    for record in _records(paths):
        if "stages_of" in record:
            later[str(record.pop("stages_of"))] = record
        elif "event" not in record:
            samples.append(record)
    for sample in samples:
        sample.update(later.get(str(sample.get("workflow_id")), {}))
    return samples


def read_stage_reads(paths: Iterable[pathlib.Path]) -> list[dict[str, Any]]:
    """The bridges' ``stages_read`` records: each one's reads of the histories after the
    load, with its CPU before and after them."""
    return [r for r in _records(paths) if r.get("event") == "stages_read"]


def latency_summary(values_ms: Sequence[float]) -> dict[str, Any]:
    """n, min, mean, max and percentiles (ms, nearest rank) of the samples."""
    values = sorted(max(0.0, v) for v in values_ms)
    if not values:
        return {"n": 0}
    out: dict[str, Any] = {
        "n": len(values),
        "min": round(values[0], 3),
        "mean": round(sum(values) / len(values), 3),
        "max": round(values[-1], 3),
    }
    for q in PERCENTILES:
        out[f"p{q:g}"] = round(stats.percentile(values, q), 3)
    return out


def load_window_s(samples: Sequence[dict[str, Any]]) -> float:
    """First handshake started -> last one answered (excludes stack start-up and ramp-down)."""
    spans = [
        (float(s["started_at"]), float(s["started_at"]) + float(s.get("e2e_ms") or 0) / 1000.0)
        for s in samples
        if s.get("started_at") is not None
    ]
    if not spans:
        return 0.0
    return max(end for _, end in spans) - min(start for start, _ in spans)


def summarize(samples: Sequence[dict[str, Any]], wall_s: float | None = None) -> dict[str, Any]:
    """Counts, error ratio, sustained handshakes/s over the load window, latencies."""
    wall_s = load_window_s(samples) if wall_s is None else wall_s
    ok = [s for s in samples if s.get("ok")]
    errors: dict[str, int] = {}
    for s in samples:
        if not s.get("ok"):
            key = str(s.get("error", "?"))[:120]
            errors[key] = errors.get(key, 0) + 1
    return {
        "handshakes": len(samples),
        "succeeded": len(ok),
        "failed": len(samples) - len(ok),
        "error_ratio": round((len(samples) - len(ok)) / len(samples), 4) if samples else None,
        "handshakes_per_s": round(len(ok) / wall_s, 2) if wall_s > 0 else None,
        "wall_s": round(wall_s, 1),
        "latency_ms": {
            stage: latency_summary([float(s[stage]) for s in ok if s.get(stage) is not None])
            for stage in STAGES
        },
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:10]),
    }


# The processes a load run runs to make load (this runner, which on the local stack also
# hosts the stand-in agent; Locust; its bridges), as opposed to the services under test.
HARNESS_PROCESSES = ("runner", "locust", "bridge")
# (seconds since the epoch, cumulative CPU seconds) readings of one process.
CpuReadings = Sequence[tuple[float, float]]


def cpu_at(readings: CpuReadings, t: float) -> float:
    """A process's cumulative CPU seconds at ``t``, interpolated between the readings
    around it (clamped to the first and last reading outside them)."""
    if not readings:
        return 0.0
    if t <= readings[0][0]:
        return readings[0][1]
    if t >= readings[-1][0]:
        return readings[-1][1]
    i = bisect.bisect_right([r[0] for r in readings], t)
    (t0, c0), (t1, c1) = readings[i - 1], readings[i]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1


def handshake_window(samples: Sequence[dict[str, Any]]) -> tuple[float, float] | None:
    """First handshake started -> last one answered, in epoch seconds (the bridges'
    clocks, this host's); None without a sample."""
    starts = [float(s["started_at"]) for s in samples if s.get("started_at") is not None]
    ends = [
        float(s.get("ended_at") or float(s["started_at"]) + float(s.get("e2e_ms") or 0) / 1000)
        for s in samples
        if s.get("started_at") is not None
    ]
    return (min(starts), max(ends)) if starts else None


def with_stage_reads(
    readings: Mapping[str, Mapping[int, CpuReadings]], stage_reads: Sequence[Mapping[str, Any]]
) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """The readings with each bridge's own CPU reading at the start of its reads after
    the load (``stages_read``): the once-a-second readings around it would otherwise
    spread those reads' CPU into the load window's last second."""
    merged = {name: {pid: list(r) for pid, r in pids.items()} for name, pids in readings.items()}
    for mark in stage_reads:
        pid = int(mark["pid"])
        for pids in merged.values():
            series = pids.get(pid)
            if not series:
                continue
            at = float(mark["began_at"])
            # Kept between its neighbours: the kernel's tick-rounded figures and this
            # process's own clock may differ by a tick.
            before = [c for t, c in series if t <= at]
            after = [c for t, c in series if t > at]
            cpu = float(mark["began_cpu_s"])
            cpu = min(max(cpu, before[-1] if before else cpu), after[0] if after else cpu)
            series.append((at, cpu))
            series.sort()
    return merged


def stage_reads_cpu(stage_reads: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The bridges' reads of both histories of each handshake after the load: CPU and
    wall seconds, and CPU ms per handshake read; None when none were (LOAD_STAGES=inline,
    whose reads are in the load window)."""
    if not stage_reads:
        return None
    cpu = sum(float(r["ended_cpu_s"]) - float(r["began_cpu_s"]) for r in stage_reads)
    read = sum(int(r["handshakes"]) for r in stage_reads)
    wall = max(float(r["ended_at"]) for r in stage_reads) - min(
        float(r["began_at"]) for r in stage_reads
    )
    return {
        "handshakes": read,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 1),
        "ms_per_handshake": round(1000.0 * cpu / read, 3) if read else None,
    }


def cpu_per_handshake(
    readings: Mapping[str, Mapping[int, CpuReadings]],
    window: tuple[float, float] | None,
    handshakes: int,
    stage_reads: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """CPU milliseconds per handshake of each process (its pids' readings, summed over
    the load window), and the harness's total against the services': how much of a
    core the load generator spends per handshake, so that 1000 / harness_ms is the
    handshakes/s one generating core drives before the generator is the bottleneck.
    Start-up and teardown are outside the window, so they do not count; nor do the
    bridges' reads of the histories after the load (LOAD_STAGES=after), reported on
    their own as ``stage_reads_after``."""
    after = stage_reads_cpu(stage_reads)
    if window is None or handshakes <= 0:
        return {
            "handshakes": handshakes,
            "window_s": None,
            "processes": {},
            "stage_reads_after": after,
        }
    start, end = window
    processes: dict[str, Any] = {}
    for name, pids in with_stage_reads(readings, stage_reads).items():
        used = sum(max(0.0, cpu_at(r, end) - cpu_at(r, start)) for r in pids.values() if r)
        processes[name] = {
            "role": "harness" if name in HARNESS_PROCESSES else "service",
            "cpu_s": round(used, 3),
            "ms_per_handshake": round(1000.0 * used / handshakes, 3),
        }

    def total(role: str) -> float | None:
        values = [p["ms_per_handshake"] for p in processes.values() if p["role"] == role]
        return round(sum(values), 3) if values else None

    harness = total("harness")
    return {
        "handshakes": handshakes,
        "window_s": round(end - start, 1),
        "harness_ms": harness,
        "services_ms": total("service"),
        "handshakes_per_s_per_harness_core": round(1000.0 / harness, 1) if harness else None,
        "processes": processes,
        "stage_reads_after": after,
    }


def cpu_markdown(cpu: Mapping[str, Any]) -> list[str]:
    """The CPU-per-handshake lines of figures.md (empty when none was measured)."""
    if not cpu.get("processes"):
        return []
    lines = [
        "",
        "## CPU per handshake",
        "",
        f"Over the load window ({cpu['window_s']} s, {cpu['handshakes']} handshakes): the "
        f"harness (load generator) {cpu['harness_ms']} ms, the services {cpu['services_ms']} "
        f"ms; one generating core drives about {cpu['handshakes_per_s_per_harness_core']} "
        "handshakes/s.",
        "",
        "| process | role | CPU s | ms per handshake |",
        "|---|---|---:|---:|",
    ]
    for name, p in cpu["processes"].items():
        lines.append(f"| {name} | {p['role']} | {p['cpu_s']} | {p['ms_per_handshake']} |")
    after = cpu.get("stage_reads_after")
    if after:
        lines += [
            "",
            f"After the load window, the bridges read both histories of {after['handshakes']} "
            f"handshakes for their ack and overhead: {after['cpu_s']} CPU s in "
            f"{after['wall_s']} s, {after['ms_per_handshake']} ms per handshake (not in the "
            "table: outside the load, they do not compete with the services).",
        ]
    return lines


@dataclass(frozen=True)
class Thresholds:
    overhead_p99_ms: float = 100.0  # the plan's budget
    max_error_ratio: float = 0.01
    min_handshakes: int = 1


def breaches(figures: dict[str, Any], limits: Thresholds) -> list[str]:
    """Why the run fails, one line each; empty when within every threshold."""
    found = []
    if figures["succeeded"] < limits.min_handshakes:
        found.append(
            f"{figures['succeeded']} successful handshake(s), at least {limits.min_handshakes} "
            "required"
        )
    ratio = figures["error_ratio"]
    if ratio is not None and ratio > limits.max_error_ratio:
        found.append(f"error ratio {ratio:.2%} above {limits.max_error_ratio:.2%}")
    p99 = figures["latency_ms"]["overhead_ms"].get("p99")
    if p99 is None:
        found.append("no overhead sample: the overhead budget cannot be judged")
    elif p99 > limits.overhead_p99_ms:
        found.append(f"overhead p99 {p99} ms above the {limits.overhead_p99_ms:g} ms budget")
    return found


@dataclass
class MemoryTrend:
    process: str
    samples: int
    first_mb: float
    last_mb: float
    slope_mb_per_h: float
    verdict: str  # "stable" | "growing" | "too short"
    detail: str = ""
    series: list[tuple[float, float]] = field(default_factory=list)


# The shortest post-warm-up window a leak verdict is drawn from. RSS moves by about a
# megabyte between samples of an idle service (allocator and GC), which over a minute
# extrapolates to tens of MB/h either way: a 60 s load run's "slope" is that noise, not a
# trend. Over 300 s the same noise is under a tenth of the default 50 MB/h limit.
LEAK_MIN_WINDOW_S = 300.0


def memory_trend(
    process: str,
    series: Sequence[tuple[float, float]],
    *,
    warmup_fraction: float = 0.25,
    leak_mb_per_h: float = 50.0,
    min_samples: int = 10,
    min_window_s: float = LEAK_MIN_WINDOW_S,
) -> MemoryTrend:
    """Leak verdict from (seconds, RSS MB) samples: the least-squares slope after the
    warm-up (caches and pools filling are not leaks), extrapolated to an hour. Growing
    means both a slope above ``leak_mb_per_h`` and a last quarter above the first
    post-warm-up quarter (a steady climb, not one late allocation). Fewer than
    ``min_samples`` samples, or less than ``min_window_s`` seconds of them, after the
    warm-up give no verdict ("too short"), the slope still shown."""
    kept = list(series[int(len(series) * warmup_fraction) :])
    if len(kept) < min_samples:
        return MemoryTrend(
            process,
            len(series),
            series[0][1] if series else 0.0,
            series[-1][1] if series else 0.0,
            0.0,
            "too short",
            f"{len(kept)} sample(s) after warm-up, {min_samples} needed",
            list(series),
        )
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_m = sum(m for _, m in kept) / n
    var = sum((t - mean_t) ** 2 for t, _ in kept)
    slope = sum((t - mean_t) * (m - mean_m) for t, m in kept) / var if var else 0.0
    quarter = max(1, n // 4)
    early = sum(m for _, m in kept[:quarter]) / quarter
    late = sum(m for _, m in kept[-quarter:]) / quarter
    per_h = slope * 3600.0
    span_s = kept[-1][0] - kept[0][0]
    growing = per_h > leak_mb_per_h and late > early
    measured = (
        f"RSS {early:.1f} -> {late:.1f} MB (first vs last quarter after warm-up), "
        f"slope {per_h:+.1f} MB/h"
    )
    if span_s < min_window_s:
        verdict = "too short"
        detail = (
            f"{measured} over {span_s:.0f} s after warm-up: no verdict from under "
            f"{min_window_s:.0f} s (a soak of {_soak_minutes(min_window_s, warmup_fraction)}"
            " min or more gives one)"
        )
    else:
        verdict = "growing" if growing else "stable"
        detail = f"{measured}, limit {leak_mb_per_h:g} MB/h"
    return MemoryTrend(
        process,
        len(series),
        round(series[0][1], 1),
        round(series[-1][1], 1),
        round(per_h, 2),
        verdict,
        detail,
        list(series),
    )


def _soak_minutes(window_s: float, warmup_fraction: float) -> int:
    """The whole run's minutes that leave ``window_s`` after its warm-up share."""
    return max(1, math.ceil(window_s / (1.0 - warmup_fraction) / 60.0))


def leak_breaches(trends: Sequence[MemoryTrend], judged: Iterable[str]) -> list[str]:
    """Why a soak fails on memory: a judged service growing, or one sampled too briefly
    for a verdict (a soak that cannot tell is not a pass). Services whose processes are
    not on this machine (a cluster's) have no trend: the report says so instead."""
    wanted = set(judged)
    found: list[str] = []
    for t in trends:
        if t.process not in wanted:
            continue
        if t.verdict == "growing":
            found.append(f"{t.process} memory growing: {t.detail}")
        elif t.verdict == "too short":
            found.append(f"{t.process} memory not judged: {t.detail}")
    return found


def _warm_up_note(warm_up: Mapping[str, int] | None) -> str:
    if not warm_up:
        return ""
    return (
        f" Before the load, {warm_up['succeeded']} of {warm_up['handshakes']} warm-up "
        "handshakes succeeded (not counted here)."
    )


def markdown(figures: dict[str, Any], trends: Sequence[MemoryTrend], failed: list[str]) -> str:
    lines = [
        "# Load run",
        "",
        f"**{'FAIL' if failed else 'PASS'}** — target: {figures.get('target', '?')}, "
        f"shape: {figures.get('shape', 'constant')}, users: {figures.get('users')}, "
        f"wall {figures['wall_s']} s",
        "",
        *[f"- {reason}" for reason in failed],
        "",
        f"Handshakes: {figures['handshakes']} ({figures['succeeded']} ok, {figures['failed']} "
        f"failed); sustained {figures['handshakes_per_s']} handshakes/s."
        + _warm_up_note(figures.get("warm_up")),
        "",
        "| stage (ms) | n | p50 | p95 | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage, s in figures["latency_ms"].items():
        if s.get("n"):
            lines.append(
                f"| {stage} | {s['n']} | {s['p50']} | {s['p95']} | {s['p99']} | {s['p99.9']} "
                f"| {s['max']} |"
            )
    agree = figures.get("metrics_agree")
    if agree:
        # "not checked" is said, never shown as an agreement: metrics are optional
        # evidence, and a run without them certifies nothing about them.
        if agree["status"] == "not_checked" and not agree["checked"]:
            line = f"Service metrics not checked: {agree['why']}."
        else:
            verdict = "DISAGREE" if agree["status"] == "violated" else "agree"
            line = f"Service metrics {verdict} with the handshakes: {agree['detail']}."
        lines += ["", line]
    if trends:
        lines += [
            "",
            "## Memory (RSS)",
            "",
            "| process | samples | first MB | last MB | slope MB/h | verdict |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for t in trends:
            lines.append(
                f"| {t.process} | {t.samples} | {t.first_mb} | {t.last_mb} | "
                f"{t.slope_mb_per_h} | {t.verdict} |"
            )
        lines += ["", *(f"- {t.process}: {t.detail}" for t in trends if t.detail)]
    else:
        lines += [
            "",
            "## Memory (RSS)",
            "",
            "Not judged: no service process of this run is on this machine.",
        ]
    lines += cpu_markdown(figures.get("cpu_per_handshake") or {})
    if figures.get("errors"):
        lines += ["", "## Errors", ""] + [f"- {n} x {e}" for e, n in figures["errors"].items()]
    return "\n".join(lines) + "\n"
