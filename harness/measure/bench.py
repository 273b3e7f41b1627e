"""``make bench``: handshake overhead under load, side by side with a direct call.

    python -m harness.measure.bench [--temporal dev|HOST:PORT] [--levels 1,10,100,1000]
                            [--modes closed,open] [--duration 6] [--out reports/out/bench]

For each concurrency level and mode it runs two back-to-back phases on the same
stack with the same (trivial) agent work:

* handshake: a Zigflow plan with one ``call_agent`` state (token to Stigma,
  Stigma's workflow runs the agent and completes the activity by token);
* direct: a Zigflow plan with one ``echo`` state, a plain synchronous activity
  without the handshake: the baseline, so that the noise of a shared machine
  shows in both and the difference and ratio stay meaningful. An open-loop
  direct phase is the same calls at every level of one arrival rate (no agent
  work): it runs once, at the first such level, and the others share it.

Closed loop keeps N calls in flight (each worker starts its next call when the
previous one ends): N handshakes at once, a saturation test. Open loop starts
calls at a fixed rate whatever happens to the earlier ones (by default half the
closed loop's throughput with 1 in flight, the same at every level) and gives
each agent N / rate seconds of its own work (in the harness's agent, not
overhead), so that N agents are in flight, by Little's law, while handshakes
arrive at a rate the machine can serve.

Latencies come from the servers' own timestamps in both workflows' histories,
read after the phase (so reading them does not load the run); percentiles are
nearest-rank over the exact samples (harness/measure/stats.py); stages as in
harness/observe/stages.py. CPU and peak RSS of each process come from /proc. Figures only:
nothing here asserts a time (the gate never depends on the machine's speed).
``make certify`` runs it (every level by default) and judges the open-loop p99 with 10
agents in flight against the budget (harness/report/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import pathlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from harness import contract, setting_names, settings, tls
from harness.config import (
    StackConfig,
    add_service_options,
    local_servers,
    resolve_services,
)
from harness.drive.plan import activity_id, call_agent, echo, plan, succeeds
from harness.errors import ConfigError, exit_process, run_main
from harness.measure import stats
from harness.observe import stages, traces
from harness.servers import procstat
from harness.stack.stack import Stack, start_stack

SCHEMA = 1
DEFAULT_LEVELS = (1, 10, 100, 1000)
CALL_TIMEOUT_S = 180.0
# Handshakes whose histories are read at once after a phase (two reads each). The reads
# wait on the server more than they use the harness's CPU: on 293 handshakes 16
# sequential pairs took 1.1-2.8 s, 64 in flight 0.8-1.5 s, the same CPU (0.5-0.65 s).
HISTORY_READERS = 32
# Open loop: arrivals at this share of the machine's capacity (the closed loop's
# throughput with 1 in flight), the same rate at every level; the level is the
# number of agents in flight, made by giving each agent level / rate seconds of
# work (wall seconds in the harness's agent), by Little's law.
OPEN_LOOP_SHARE = 0.5
MAX_AGENT_SECONDS = 30.0
# An agent works at least this long, and a level below rate * this arrives more slowly
# to match. It was 1 s, the resolution of the durable timer agents used to wait on in
# Stigma; the agents now work in the harness (wall seconds, heartbeating), so level 1
# arrives at the common rate like every other level, with a short agent, and gets its
# OPEN_SAMPLES in seconds instead of a minute at 1/s.
MIN_AGENT_SECONDS = 0.1
# Open-loop arrivals per phase: enough for a p99 that is not just the max, within a
# bounded time.
OPEN_SAMPLES = 100
MAX_ARRIVAL_SECONDS = 60.0
STATE = "agent"  # state name: activity id "0-agent" in both kinds of plan
# The open-loop direct phases measured so far, by (arrival rate, arrival seconds): a
# direct call has no agent work, so at one rate and number of calls every level's direct
# phase is the same run; measured at the first level, shared by the others (whose entry
# names that level), instead of running the same calls again.
SharedDirect = dict[tuple[float, float], dict[str, Any]]


@dataclass
class CallRecord:
    workflow_id: str
    run_id: str = ""
    started: float = 0.0  # monotonic, harness side
    ended: float = 0.0
    ok: bool = False
    error: str = ""


@dataclass
class Phase:
    kind: str  # "handshake" | "direct"
    calls: list[CallRecord] = field(default_factory=list)
    wall_s: float = 0.0
    max_in_flight: int = 0
    # Where a phase's wall time goes (the progress lines and bench.json say it): the
    # arrivals (until the last call started), then the drain (until the last ended),
    # then reading the histories after the phase.
    arrivals_s: float = 0.0
    histories_s: float = 0.0


def _plan(kind: str, seq: int, agent_s: float = 0.0) -> dict[str, Any]:
    if kind == "handshake":
        return plan(call_agent(STATE, succeeds(seq, work_s=agent_s)))
    return plan(echo(STATE, {"agent_id": "stand-in", "value": seq}))


class Runner:
    """Starts Zigflow plans on a stack and keeps what is needed to analyse them."""

    def __init__(self, stack: Stack, call_timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.stack = stack
        self.client: Client = stack.client
        self.call_timeout_s = call_timeout_s
        self._seq = 0
        self._in_flight = 0

    async def call(self, kind: str, phase: Phase, agent_s: float = 0.0) -> None:
        self._seq += 1
        rec = CallRecord(f"bench-{kind}-{uuid.uuid4().hex[:12]}")
        phase.calls.append(rec)
        self._in_flight += 1
        phase.max_in_flight = max(phase.max_in_flight, self._in_flight)
        rec.started = time.monotonic()
        try:
            # The team's Zigflow workflow, or (activity level) the harness's around its
            # agent activity; there the direct call's echo is served by the harness.
            handle = await self.client.start_workflow(
                self.stack.plan_workflow,
                self.stack.plan_input(_plan(kind, self._seq, agent_s)),
                id=rec.workflow_id,
                task_queue=self.stack.plan_task_queue,
            )
            rec.run_id = handle.result_run_id or handle.run_id or ""
            result = await asyncio.wait_for(handle.result(), self.call_timeout_s)
            rec.ok = _resumed_with_result(result, kind, rec.workflow_id)
            if not rec.ok:
                rec.error = f"unexpected result: {str(result)[:200]}"
        except Exception as err:  # recorded and counted; one bad call must not end the run
            rec.error = f"{type(err).__name__}: {err}"[:300]
        finally:
            rec.ended = time.monotonic()
            self._in_flight -= 1

    async def closed_loop(self, kind: str, level: int, duration_s: float) -> Phase:
        phase = Phase(kind)
        deadline = time.monotonic() + duration_s
        t0 = time.monotonic()

        async def worker() -> None:
            # At least one call each, so level N really has N in flight once.
            while True:
                await self.call(kind, phase)
                if time.monotonic() >= deadline:
                    return

        await asyncio.gather(*(worker() for _ in range(level)))
        phase.wall_s = time.monotonic() - t0
        phase.arrivals_s = max((c.started for c in phase.calls), default=t0) - t0
        return phase

    async def open_loop(
        self, kind: str, rate_per_s: float, duration_s: float, agent_s: float = 0.0
    ) -> Phase:
        phase = Phase(kind)
        t0 = time.monotonic()
        count = max(1, round(rate_per_s * duration_s))
        tasks: list[asyncio.Task[None]] = []
        for i in range(count):
            # Pacing of the arrivals (the point of an open loop), not synchronisation:
            # arrival i is due at t0 + i / rate, whatever the earlier calls are doing.
            due = t0 + i / rate_per_s
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.call(kind, phase, agent_s)))
        phase.arrivals_s = time.monotonic() - t0
        await asyncio.gather(*tasks)
        phase.wall_s = time.monotonic() - t0
        return phase

    async def samples(self, phase: Phase) -> list[stages.Sample]:
        """Stage samples of the phase's successful calls, from both histories."""
        gate = asyncio.Semaphore(HISTORY_READERS)
        converter = self.client.data_converter
        act = activity_id(0, {"name": STATE})

        async def one(rec: CallRecord) -> stages.Sample | None:
            if not rec.ok:
                return None
            async with gate:
                zig_handle = self.client.get_workflow_handle(rec.workflow_id)
                if phase.kind == "direct":
                    zig = await zig_handle.fetch_history()
                    return stages.direct(traces.read(zig, converter, traces.WorkflowTrace), act)
                # Both histories of a handshake at once: Stigma's workflow id is known
                # from the call alone, so the second read need not wait for the first.
                wf = contract.stigma_workflow_id(f"{rec.workflow_id}/{rec.run_id}/{act}")
                zig, hist = await asyncio.gather(
                    zig_handle.fetch_history(), self.client.get_workflow_handle(wf).fetch_history()
                )
                z = traces.read(zig, converter, traces.WorkflowTrace)
                s = traces.read(hist, converter, traces.StigmaTrace)
                return stages.handshake(z, act, s)

        begun = time.monotonic()
        found = await asyncio.gather(*(one(r) for r in phase.calls))
        phase.histories_s = time.monotonic() - begun
        return [s for s in found if s is not None]


def _resumed_with_result(result: Any, kind: str, workflow_id: str) -> bool:
    """Zigflow resumed with its state ok and, for a handshake, the envelope naming it."""
    try:
        state = result["states"][0]
    except (KeyError, IndexError, TypeError):
        return False
    if state.get("status") != "ok":
        return False
    if kind == "direct":
        return True
    value = state.get("result") or {}
    return bool(value.get("zigflow_workflow_id") == workflow_id)


def _completion_rate(ok: list[CallRecord]) -> float | None:
    """Successful calls per second between the first and the last completion: the rate
    the stack served, without the ramp-up before the first result or, in the open loop,
    the agents' own work after the last arrival."""
    ends = sorted(c.ended for c in ok)
    if len(ends) < 2 or ends[-1] <= ends[0]:
        return None
    return round((len(ends) - 1) / (ends[-1] - ends[0]), 2)


def _capacity(ok: list[CallRecord]) -> float | None:
    """Calls per second one at a time could serve, from the median call: one straggler
    (a 20 s GC pause, a slow poll) moves a mean, and with it the open-loop rate and the
    number of samples a phase gets, but not a median."""
    durations = sorted(c.ended - c.started for c in ok)
    if not durations:
        return None
    median = stats.percentile(durations, 50)
    return round(1.0 / median, 2) if median > 0 else None


STRAGGLER_FACTOR = 5.0  # a call this many times slower than the phase's median
MAX_STRAGGLERS = 5


def stragglers(ok: list[CallRecord]) -> list[dict[str, Any]]:
    """The calls far slower than the phase's median, slowest first: listed in the
    report, so that a p99 moved by a GC pause or a slow poll is seen for what it is
    (and which workflow to look at), not averaged away."""
    if len(ok) < 2:
        return []
    median = stats.percentile([c.ended - c.started for c in ok], 50)
    slow = [c for c in ok if c.ended - c.started > STRAGGLER_FACTOR * median]
    slow.sort(key=lambda c: c.started - c.ended)
    return [
        {"workflow_id": c.workflow_id, "seconds": round(c.ended - c.started, 3)}
        for c in slow[:MAX_STRAGGLERS]
    ]


def _ms(values: Iterable[float]) -> list[float]:
    """Negative samples (clock skew between server nodes) count as zero, not lost."""
    return [max(0.0, v) for v in values]


def _stage_summary(samples: list[stages.Sample], names: tuple[str, ...]) -> dict[str, Any]:
    return {
        name: stats.summary(_ms(s.stages_ms[name] for s in samples if name in s.stages_ms))
        for name in names
        if any(name in s.stages_ms for s in samples)
    }


def _kind_figures(phase: Phase, samples: list[stages.Sample], names: tuple[str, ...]) -> Any:
    overhead = _ms(s.overhead_ms for s in samples)
    ok = [c for c in phase.calls if c.ok]
    errors = [c.error for c in phase.calls if not c.ok]
    return {
        "overhead_ms": stats.summary(overhead),
        "cdf": stats.cdf(overhead),
        "stages_ms": _stage_summary(samples, names),
        "client_end_to_end_ms": stats.summary(_ms((c.ended - c.started) * 1000.0 for c in ok)),
        "calls": len(phase.calls),
        "errors": len(errors),
        "first_errors": errors[:3],
        "throughput_per_s": _completion_rate(ok),
        "capacity_per_s": _capacity(ok),
        "stragglers": stragglers(ok),
        "wall_s": round(phase.wall_s, 2),
        "arrivals_s": round(phase.arrivals_s, 2),
        "histories_s": round(phase.histories_s, 2),
        "max_in_flight": phase.max_in_flight,
    }


def _processes(stack: Stack) -> dict[str, int | None]:
    temporal = stack.temporal.process
    return {
        "temporal": temporal.pid if temporal else None,
        "zigflow": stack.zigflow.pid,
        "stigma": stack.stigma.pid,
        "harness": os.getpid(),
    }


async def _measured(
    stack: Stack, run: Callable[[], Awaitable[Phase]]
) -> tuple[Phase, dict[str, Any]]:
    pids = _processes(stack)
    before = {name: procstat.usage(pid) for name, pid in pids.items()}
    phase = await run()
    after = {name: procstat.usage(pid) for name, pid in pids.items()}
    return phase, {n: procstat.delta(before[n], after[n], phase.wall_s) for n in pids}


def cpu_per_call(usage: dict[str, dict[str, float | None]], calls: int) -> dict[str, Any]:
    """CPU milliseconds per call of each process over a phase (``_measured``'s readings):
    the harness's own (this process: its client and the stand-in agent, the load it
    generates) against the services', and so how many calls/s one core of the harness
    drives before the harness, not the services, is the bottleneck."""
    per: dict[str, float | None] = {}
    for name, u in usage.items():
        cpu_s = u.get("cpu_s")
        per[name] = round(1000.0 * cpu_s / calls, 2) if cpu_s is not None and calls else None
    harness = per.get("harness")
    services = [v for name, v in per.items() if name != "harness" and v is not None]
    return {
        "harness_ms": harness,
        "services_ms": round(sum(services), 2) if services else None,
        "calls_per_s_per_harness_core": round(1000.0 / harness, 1) if harness else None,
        "by_process": per,
    }


def _cpu_split(cpu: dict[str, Any]) -> dict[str, float | None]:
    """A concurrency row's CPU per handshake: the harness's (its client and stand-in
    agent: the load generator) and the services' together (cpu_per_call)."""
    return {"harness": cpu.get("harness_ms"), "services": cpu.get("services_ms")}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


async def run_level(
    runner: Runner,
    level: int,
    mode: str,
    duration_s: float,
    rate: float | None,
    open_samples: int = OPEN_SAMPLES,
    shared_direct: SharedDirect | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"level": level, "mode": mode}
    begun = time.monotonic()
    shared_key: tuple[float, float] | None = None  # this level's open direct phase
    for kind, names in (
        ("handshake", stages.HANDSHAKE_STAGES + stages.DETAIL_STAGES),
        ("direct", stages.DIRECT_STAGES),
    ):
        go: Callable[[], Awaitable[Phase]]
        if mode == "closed":
            go = functools.partial(runner.closed_loop, kind, level, duration_s)
        else:
            assert rate is not None
            # Handshakes: agents work level/rate s, so `level` are in flight once the
            # first ones finish; arrivals go on that long plus the measured duration.
            # Direct calls: the same arrival rate (their point is the overhead).
            level_rate = min(rate, level / MIN_AGENT_SECONDS)
            agent_s = level / level_rate if kind == "handshake" else 0.0
            arrivals_s = max(duration_s, min(open_samples / level_rate, MAX_ARRIVAL_SECONDS))
            entry.update(
                arrival_rate_per_s=round(level_rate, 2), agent_seconds=round(level / level_rate, 2)
            )
            go = functools.partial(
                runner.open_loop, kind, level_rate, arrivals_s + agent_s, agent_s
            )
            if kind == "direct" and shared_direct is not None:
                shared_key = (round(level_rate, 6), round(arrivals_s, 6))
                if shared_key in shared_direct:
                    entry[kind] = dict(shared_direct[shared_key])
                    continue

        phase, usage = await _measured(runner.stack, go)
        figures = _kind_figures(phase, await runner.samples(phase), names)
        figures["processes"] = usage
        figures["cpu_ms_per_call"] = cpu_per_call(usage, len(phase.calls))
        if mode == "open" and kind == "direct":
            figures["measured_at_level"] = level
            if shared_key is not None and shared_direct is not None:
                shared_direct[shared_key] = figures
        entry[kind] = figures
    h, d = entry["handshake"]["overhead_ms"], entry["direct"]["overhead_ms"]
    entry["vs_direct"] = {
        "diff_p50_ms": round(h["p50"] - d["p50"], 3) if h["n"] and d["n"] else None,
        "diff_p99_ms": round(h["p99"] - d["p99"], 3) if h["n"] and d["n"] else None,
        "ratio_p50": _ratio(h["p50"], d["p50"]),
        "ratio_p99": _ratio(h["p99"], d["p99"]),
    }
    entry["wall_s"] = round(time.monotonic() - begun, 2)  # both kinds, histories included
    return entry


def concurrency_rows(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The compact per-level figures the certification report carries."""
    rows = []
    for e in levels:
        h, d = e["handshake"], e["direct"]
        o = h["overhead_ms"]
        rows.append(
            {
                "level": e["level"],
                "mode": e["mode"],
                **{k: o[k] for k in ("n", "p50", "p95", "p99", "p999", "max")},
                "throughput_per_s": h["throughput_per_s"],
                "max_in_flight": h["max_in_flight"],
                "arrival_rate_per_s": e.get("arrival_rate_per_s"),
                "agent_seconds": e.get("agent_seconds", 0.0),
                "baseline_p50_ms": d["overhead_ms"]["p50"],
                "baseline_p99_ms": d["overhead_ms"]["p99"],
                "ratio_p99": e["vs_direct"]["ratio_p99"],
                "errors": h["errors"] + d["errors"],
                "stages_p50_ms": {k: v["p50"] for k, v in h["stages_ms"].items()},
                "stages_p99_ms": {k: v["p99"] for k, v in h["stages_ms"].items()},
                "cdf": h["cdf"],
                "baseline_cdf": d["cdf"],
                "peak_rss_mb": {
                    k: v["peak_rss_mb"] for k, v in h["processes"].items() if k != "harness"
                },
                "cpu_pct": {k: v["cpu_pct"] for k, v in h["processes"].items()},
                "cpu_ms_per_handshake": _cpu_split(h.get("cpu_ms_per_call") or {}),
                "stragglers": h.get("stragglers", []),
            }
        )
    return rows


def table(levels: list[dict[str, Any]]) -> str:
    """The figures as text, one line per level and mode."""
    head = (
        f"{'mode':6} {'N':>5} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'p99.9':>7} "
        f"{'max':>7} | {'dir50':>6} {'dir99':>6} {'x p99':>5} | {'hs/s':>6} {'err':>4}"
    )
    lines = [head, "-" * len(head)]
    for e in levels:
        o, d = e["handshake"]["overhead_ms"], e["direct"]["overhead_ms"]

        def f(v: Any) -> str:
            return "-" if v is None else f"{v:.1f}"

        lines.append(
            f"{e['mode']:6} {e['level']:>5} {o['n']:>6} {f(o['p50']):>7} {f(o['p95']):>7} "
            f"{f(o['p99']):>7} {f(o['p999']):>7} {f(o['max']):>7} | {f(d['p50']):>6} "
            f"{f(d['p99']):>6} {f(e['vs_direct']['ratio_p99']):>5} | "
            f"{f(e['handshake']['throughput_per_s']):>6} "
            f"{e['handshake']['errors'] + e['direct']['errors']:>4}"
        )
    lines.append("")
    lines.append("stages p50 / p99 (ms), handshake:")
    for e in levels:
        st = e["handshake"]["stages_ms"]
        parts = [
            f"{k}={v['p50']:.1f}/{v['p99']:.1f}" for k, v in st.items() if v["p50"] is not None
        ]
        lines.append(f"  {e['mode']} N={e['level']}: " + " ".join(parts))
    lines.append("")
    lines.append("processes during the handshake phase (cpu % of one core, peak RSS MB):")
    for e in levels:
        ps = e["handshake"]["processes"]
        parts = [f"{k} {v['cpu_pct']}% {v['peak_rss_mb']}MB" for k, v in ps.items()]
        lines.append(f"  {e['mode']} N={e['level']}: " + ", ".join(parts))
    lines += cpu_table(levels)
    return "\n".join(lines)


def cpu_table(levels: list[dict[str, Any]]) -> list[str]:
    """CPU ms per handshake of each process, the harness's against the services'."""
    lines = ["", "CPU ms per handshake (harness = this process: client + agent):"]
    for e in levels:
        cpu = e["handshake"].get("cpu_ms_per_call") or {}
        parts = [f"{k} {v}" for k, v in (cpu.get("by_process") or {}).items()]
        lines.append(
            f"  {e['mode']} N={e['level']}: harness {cpu.get('harness_ms')} vs services "
            f"{cpu.get('services_ms')} ({', '.join(parts)}); "
            f"{cpu.get('calls_per_s_per_harness_core')} handshakes/s per harness core"
        )
    return lines


def parse_levels(text: str, option: str = "--levels") -> list[int]:
    """ "1,10,100" -> [1, 10, 100]; anything else is a ConfigError naming the option."""
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        levels = []
    if not levels or any(n < 1 for n in levels):
        raise ConfigError(f"{option} {text!r}: give positive integers, e.g. 1,10,100,1000")
    return levels


def _since(begun: float) -> str:
    """Wall seconds since ``begun``, for the progress lines (what each level costs)."""
    return f"{time.monotonic() - begun:.1f} s"


def _where(entry: dict[str, Any]) -> str:
    """Where a level's wall time went, per kind: calls, arrivals, drain, history reads."""
    parts = []
    for kind in ("handshake", "direct"):
        f = entry[kind]
        if f.get("measured_at_level", entry.get("level")) != entry.get("level"):
            parts.append(f"{kind}: open N={f['measured_at_level']}'s (the same calls)")
            continue
        drain = f["wall_s"] - f["arrivals_s"]
        parts.append(
            f"{kind} {f['calls']} calls: arrivals {f['arrivals_s']:.1f} s + drain {drain:.1f} s"
            f" + histories {f['histories_s']:.1f} s"
        )
    return "; ".join(parts)


async def bench(config: StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    levels = parse_levels(args.levels)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(modes) <= {"closed", "open"} or not modes:
        raise ConfigError(f"--modes {args.modes!r}: closed, open or both")
    started = time.monotonic()
    machine = procstat.machine()
    results: list[dict[str, Any]] = []
    # Where the run's wall time goes outside the levels (each level carries its own
    # wall_s): bench.json says it, so a slower run shows which part grew.
    timings: dict[str, float] = {}
    async with start_stack(config) as stack:
        timings["stack_start_s"] = round(time.monotonic() - started, 2)
        runner = Runner(stack)
        # Warm-up: the workers' first tasks load workflow code and open channels. Both
        # kinds at once (nothing of it is measured): the warm-up costs --warmup seconds,
        # not twice that.
        warm_begun = time.monotonic()
        await asyncio.gather(
            *(runner.closed_loop(kind, 2, args.warmup) for kind in ("handshake", "direct"))
        )
        timings["warmup_s"] = round(time.monotonic() - warm_begun, 2)
        print(
            f"bench: stack up in {timings['stack_start_s']:.1f} s, warm in {_since(started)}",
            flush=True,
        )
        rate: float | None = args.rate
        shared_direct: SharedDirect = {}
        probed = False  # closed N=1 already measured (to choose the open-loop rate)
        if "open" in modes and rate is None:
            # The machine's capacity for one handshake at a time (its median call, not
            # its mean) sets the open-loop rate.
            capacity: float | None
            if "closed" in modes and 1 in levels:
                probe = await run_level(runner, 1, "closed", args.duration, None)
                capacity = probe["handshake"]["capacity_per_s"]
            else:
                # Only the rate is wanted (the level is not reported): the handshake
                # phase alone, not a direct one whose figures nobody would read.
                probe_begun = time.monotonic()
                one = await runner.closed_loop("handshake", 1, args.duration)
                timings["rate_probe_s"] = round(time.monotonic() - probe_begun, 2)
                capacity, probe = _capacity([c for c in one.calls if c.ok]), None
            rate = OPEN_LOOP_SHARE * (capacity or 0.0)
            if not rate:
                raise ConfigError("no handshake completed: cannot choose an open-loop rate")
            print(f"bench: open-loop rate {rate:.2f}/s, chosen at {_since(started)}", flush=True)
            if probe is not None:
                results.append(probe)
                probed = True
                print(f"bench: closed N=1 done ({_where(probe)})", flush=True)
        for level in levels:
            if "closed" in modes and not (level == 1 and probed):
                begun = time.monotonic()
                results.append(await run_level(runner, level, "closed", args.duration, None))
                print(
                    f"bench: closed N={level} done in {_since(begun)} ({_where(results[-1])})",
                    flush=True,
                )
            if "open" in modes:
                assert rate is not None
                if level / rate > args.max_agent_seconds:
                    print(
                        f"bench: open N={level} skipped: agents would work {level / rate:.0f} s "
                        f"at {rate:.1f}/s (raise --max-agent-seconds or --rate)",
                        flush=True,
                    )
                    continue
                begun = time.monotonic()
                results.append(
                    await run_level(
                        runner, level, "open", args.duration, rate, args.open_samples, shared_direct
                    )
                )
                print(
                    f"bench: open N={level} done ({results[-1]['arrival_rate_per_s']}/s) "
                    f"in {_since(begun)} ({_where(results[-1])})",
                    flush=True,
                )
        server = stack.temporal.version
        teardown_begun = time.monotonic()
    timings["teardown_s"] = round(time.monotonic() - teardown_begun, 2)
    print(f"bench: stack down in {timings['teardown_s']:.1f} s", flush=True)
    machine["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return {
        "schema": SCHEMA,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": config.temporal,
        "server": server,
        "machine": machine,
        "settings": {
            "levels": levels,
            "modes": modes,
            "duration_s": args.duration,
            "open_samples": args.open_samples,
            "zigflow_max_concurrent_activities": config.zigflow_max_concurrent_activities,
            "label": args.label,
            "zigflow_cmd": " ".join(config.zigflow_cmd),
            "stigma_cmd": " ".join(config.stigma_cmd),
            "zigflow_level": config.zigflow_level,
            "pairing": getattr(args, "pairing", None),
        },
        "note": "Shared machine: other processes' load shows in these figures; compare "
        "handshake and direct of the same level (run back to back on the same stack; the "
        "open-loop levels of one arrival rate share one direct phase, the same calls at "
        "each, measured at the first of them).",
        "levels": results,
        "concurrency": concurrency_rows(results),
        "timings_s": timings,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    # The settings layer: the config file's [tool.handshake] under the environment
    # (HANDSHAKE_BENCH_TEMPORAL is the bench's old spelling of HANDSHAKE_TEMPORAL).
    env = settings.environ(command="bench")
    p = setting_names.command_parser("bench", "python -m harness.measure.bench", __doc__, env)
    p.add_argument("--levels", default=",".join(str(n) for n in DEFAULT_LEVELS))
    p.add_argument("--modes", default="closed,open")
    p.add_argument("--duration", type=float, default=6.0, help="seconds per phase")
    p.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up (both kinds at once)"
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop arrivals per second (default: half the closed-loop throughput at 1)",
    )
    p.add_argument(
        "--open-samples",
        type=int,
        default=OPEN_SAMPLES,
        help="open-loop arrivals per phase (at least --duration seconds of them; at most "
        f"{MAX_ARRIVAL_SECONDS:.0f} s)",
    )
    p.add_argument(
        "--max-agent-seconds",
        type=float,
        default=MAX_AGENT_SECONDS,
        help="skip open-loop levels whose agents would have to work longer than this",
    )
    p.add_argument(
        "--zigflow-slots",
        type=int,
        default=100,
        help="Zigflow's activity slots (the reference's default; the gate uses 2)",
    )
    add_service_options(p.add_argument, env)
    # TLS towards a --temporal HOST:PORT cluster (harness/tls.py).
    tls.add_options(p.add_argument, env)
    p.add_argument("--label", default="", help="free text stored with the figures")
    p.add_argument("--out", default="reports/out/bench", help="where bench.json goes")
    args = p.parse_args(argv)
    # Where the settings came from, as every command's header says it (names only).
    print(f"bench: {settings.sources().describe()}", flush=True)
    out = pathlib.Path(args.out)
    chosen = resolve_services(args.pairing, args.zigflow_cmd, args.stigma_cmd, args.zigflow_level)
    config = StackConfig(
        temporal=args.temporal,
        namespace=args.namespace,
        zigflow_cmd=chosen.zigflow_cmd,
        stigma_cmd=chosen.stigma_cmd,
        zigflow_max_concurrent_activities=args.zigflow_slots,
        zigflow_level=chosen.zigflow_level,
        log_dir=out / "logs",
        connection=tls.from_options(args),
        servers=local_servers(env),
    )
    doc = asyncio.run(bench(config, args))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(table(doc["levels"]))
    print(f"bench: wrote {path} ({doc['wall_s']} s)")
    return 0


if __name__ == "__main__":
    exit_process(run_main("bench", main))
