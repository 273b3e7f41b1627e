"""One command for a load run (``make load``): ``python -m harness.load.run``.

1. Target: the local stack (dev server + the services of --zigflow-cmd / --stigma-cmd,
   as in the gate, default the reference; brought up here once for every Locust
   process) unless --temporal (HANDSHAKE_TEMPORAL, TEMPORAL_ADDRESS) names a cluster
   (with --zigflow-task-queue of the Zigflow workers there).
2. Locust, headless: one process, or a master and --workers K workers on loopback.
3. While it runs: the RSS of each service process we started, every --memory-interval s.
4. After: Locust's CSV and HTML, our figures (figures.json / figures.md) in --out;
   exit 1 when a threshold is breached (overhead p99 vs the budget, error ratio, a
   growing memory trend in a soak), 2 on a usage error, 3 when the run itself broke
   (an unreachable target, a stack or Locust that did not run): harness/errors.py.

This process never imports Locust (gevent): Locust runs as child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from harness import setting_names, settings
from harness.config import StackConfig, is_host_port, local_servers
from harness.drive.plan import call_agent, plan, succeeds
from harness.errors import (
    ConfigError,
    ExitCode,
    HarnessError,
    WaitTimeout,
    exit_code_of,
    exit_process,
)
from harness.judge import checkers, metrics_checks
from harness.judge.checkers import Missing, Verdict
from harness.load import bridge, figures, services, target
from harness.load.figures import MemoryTrend, Thresholds
from harness.observe import metrics
from harness.servers import procstat
from harness.servers.ports import LOOPBACK, free_port
from harness.servers.procs import ManagedProcess
from harness.servers.temporal import connect
from harness.stack.stack import Stack, start_stack
from harness.waits import eventually

LOCUSTFILE = pathlib.Path(__file__).with_name("locustfile.py")
LEAK_JUDGED = frozenset({"zigflow", "stigma"})
JUDGED_METRICS = ("zigflow", "stigma")  # services whose counters the run cross-checks
# What each of them counts of a successful handshake: the counter, the label and value
# that pick the series, the word for it (figures' "<service>_<word>"). Zigflow's is
# counted by its own workflow: only judged at workflow level (the local stack then
# exports it) or when a target's endpoint is named.
COUNTED = {
    "zigflow": (metrics_checks.ZIGFLOW_COUNTER["completed"], "mode", "handshake", "completed"),
    "stigma": (metrics_checks.STIGMA_DELIVERIES, "outcome", "delivered", "delivered"),
}


def parse_args(argv: list[str] | None, env: dict[str, str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m harness.load.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The load settings, declared once by the registry (a plain `locust -f` takes the
    # thresholds too: locustfile.py).
    setting_names.add_options(
        p.add_argument,
        env,
        "load",
        "LOAD_USERS",
        "LOAD_SPAWN_RATE",
        "LOAD_DURATION",
        "LOAD_SHAPE",
        "LOAD_WORKERS",
        "LOAD_RATE_PER_S",
        "LOAD_RUN_ID",
        "LOAD_OUT",
        "LOAD_OVERHEAD_BUDGET_MS",
        "LOAD_MAX_ERROR_RATIO",
        "LOAD_STAGES",
    )
    p.add_argument("--min-handshakes", type=int, default=1)
    p.add_argument(
        "--memory-interval",
        type=float,
        default=1.0,
        help="seconds between RSS samples of the services",
    )
    p.add_argument(
        "--leak-mb-per-h",
        type=float,
        default=50.0,
        help="a soak fails when a service's RSS trend exceeds this (or is not judged: "
        "under 300 s of samples after the warm-up)",
    )
    p.add_argument(
        "--agent-work-s", type=float, default=0.0, help="wall seconds of each stand-in agent's work"
    )
    p.add_argument(
        "--heartbeat-timeout-s",
        type=float,
        default=0.0,
        help="heartbeat timeout of each handshake's agent activity (0: none); Stigma then "
        "heartbeats by token, and an attempt lost with a killed Zigflow is retried after it",
    )
    p.add_argument(
        "--metrics-endpoint",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="zigflow=/stigma= metrics endpoints of a target, cross-checked after the run",
    )
    p.add_argument(
        "--pid",
        action="append",
        default=[],
        metavar="NAME=PID",
        help="also sample this process's RSS (a service of a target on this host)",
    )
    target.add_arguments(p.add_argument_group("target (default: the local stack)"), env)
    services.add_arguments(p.add_argument_group("services of the local stack"))
    args = p.parse_args(argv)
    if args.rate < 0:
        p.error(f"--rate {args.rate:g}: expected 0 (off) or a positive rate")
    if args.run_id and not re.fullmatch(r"[A-Za-z0-9_.-]+", args.run_id):
        p.error(f"--run-id {args.run_id!r}: letters, digits, '_', '.' and '-' only")
    try:
        args.commands = services.from_options(args, env)
        wanted = target.from_options(args)
    except ConfigError as err:
        p.error(str(err))  # exit 2 with the usage, as for any other bad option
    given = services.given_options(args)
    if given and not wanted.local:
        p.error(
            f"{' and '.join(given)} with --temporal {wanted.address}: a remote target's "
            "services run there, not here; drop the address to load the local stack"
        )
    if wanted.address and not is_host_port(wanted.address):
        p.error(f"--temporal {wanted.address!r}: expected HOST:PORT, or nothing for a local stack")
    try:
        wanted.connection.validate()
    except ConfigError as err:
        p.error(str(err))
    # The resolved settings, handed to the Locust processes (locust_env) and the stack.
    args.settings = dict(env)
    return args


def local_stack_config(args: argparse.Namespace, out: pathlib.Path) -> StackConfig:
    commands: services.ServiceCommands = args.commands
    return commands.stack_config(out / "logs", local_servers(_settings(args)))


def _settings(args: argparse.Namespace) -> dict[str, str]:
    """The settings parse_args resolved (an empty set for a Namespace built by hand)."""
    resolved: dict[str, str] = getattr(args, "settings", {})
    return resolved


@dataclasses.dataclass
class Prepared:
    target: target.LoadTarget
    pids: dict[str, int | None]
    metrics: dict[str, str] = dataclasses.field(default_factory=dict)  # service -> host:port
    warm_up: dict[str, int] = dataclasses.field(default_factory=dict)  # local stack only


@contextlib.asynccontextmanager
async def prepared(t: target.LoadTarget, config: StackConfig) -> AsyncIterator[Prepared]:
    """The given target, or a local stack of ``config`` for the run's length (torn down
    after)."""
    if not t.local:
        # Checked once, before any Locust process: a target that cannot be reached
        # ends the run naming it (a refused loopback address at once), instead of a
        # run of zero handshakes whose cause is only in a bridge's log.
        client = await connect(
            t.address,
            t.namespace,
            config.ready_timeout_s,
            "Temporal (--temporal-address)",
            t.connection,
            refused_is_final=True,
        )
        del client
        yield Prepared(t, {})
        return
    async with start_stack(config, run_id=f"load-{os.getpid()}") as stack:
        local = dataclasses.replace(
            t,
            address=stack.temporal.address,
            namespace=stack.namespace,
            zigflow_task_queue=stack.zigflow_task_queue,
            plan_task_queue=(stack.plan_task_queue if config.zigflow_level == "activity" else ""),
        )
        pids = {"zigflow": stack.zigflow.pid, "stigma": stack.stigma.pid}
        if stack.temporal.process is not None:
            pids["temporal"] = stack.temporal.process.pid
        warmed = await warm_up(stack)
        yield Prepared(local, pids, dict(stack.metrics), warmed)


# Handshakes through a freshly started local stack before the load: each process's
# first handshakes load code and open connections (tens of ms more each), and a short
# run's p99 would be those. One alone, then a few at once (the concurrency a load has:
# Zigflow's slots, the workers' pollers). As the bench's warm-up; a cluster's services
# are already warm. Not in the figures, and before the metrics' first scrape.
WARMUP_ALONE = 1
WARMUP_AT_ONCE = 4
WARMUP_TIMEOUT_S = 60.0  # a bound on one warm-up handshake, not a measurement


async def warm_up(stack: Stack) -> dict[str, int]:
    """The warm-up's handshakes and how many succeeded (a failure is left to the load
    run to show, with its reason, on every handshake)."""

    async def one(n: int) -> bool:
        p = plan(call_agent("agent", succeeds(n)))
        try:
            handle = await stack.client.start_workflow(
                stack.plan_workflow,
                stack.plan_input(p),
                id=f"warmup-{uuid.uuid4().hex}",  # not load-*: no run's handshake
                task_queue=stack.plan_task_queue,
            )
            await asyncio.wait_for(handle.result(), WARMUP_TIMEOUT_S)
        except (TimeoutError, WorkflowFailureError, RPCError):
            return False
        return True

    ok = [await one(n) for n in range(WARMUP_ALONE)]
    ok += await asyncio.gather(*(one(WARMUP_ALONE + n) for n in range(WARMUP_AT_ONCE)))
    return {"handshakes": len(ok), "succeeded": sum(ok)}


class CpuSampler:
    """Cumulative CPU of this runner, the Locust processes, their bridges and the services
    (each with its children), read every sampling period: figures.cpu_per_handshake
    turns them into CPU per handshake over the load window. This runner is part of the
    load generator, so its own readings are kept cheap: one read of /proc/<pid>/stat per
    process (the services' RSS comes from the same read), and a pass over all of /proc
    for new children only until each Locust process's bridge is seen, then rarely."""

    # Readings between passes over /proc for new children once the bridges are seen:
    # a pass reads every process on the machine (a few ms on a shared one), a reading
    # only ours; a service's helper child started later is seen within this many.
    RESCAN_EVERY = 30

    def __init__(self, services: Mapping[str, int | None], locust: Sequence[int | None]) -> None:
        self._services = {name: pid for name, pid in services.items() if pid}
        self._locust = [pid for pid in locust if pid]
        self._pids: dict[str, set[int]] = {}
        self._reads = 0
        self.readings: dict[str, dict[int, list[tuple[float, float]]]] = {}

    def _rescan(self) -> None:
        roots = {**self._services, **{f"locust-{pid}": pid for pid in self._locust}}
        trees = procstat.descendants(roots)
        # This process's own children are Locust and the stack: only itself is "runner".
        pids: dict[str, set[int]] = {"runner": {os.getpid()}, "locust": set(), "bridge": set()}
        for name, tree in trees.items():
            if name.startswith("locust-"):
                root = roots[name]
                pids["locust"].add(root)
                pids["bridge"] |= tree - {root}  # a Locust process's only children
            else:
                pids[name] = tree
        self._pids = pids

    def _bridges_seen(self) -> bool:
        # A Locust master runs no users and has no bridge: only its workers count.
        wanted = len(self._locust) - 1 if len(self._locust) > 1 else 1
        return len(self._pids.get("bridge", set())) >= wanted

    def read(self, now: float) -> dict[int, float]:
        """One reading of every process; returns the RSS (MB) of each one read."""
        # Every reading until the bridges are seen (a Locust process starts its bridge
        # before its users, and a short run must not miss it), then every RESCAN_EVERY.
        if self._reads % self.RESCAN_EVERY == 0 or not self._bridges_seen():
            self._rescan()
        self._reads += 1
        rss: dict[int, float] = {}
        for name, pids in self._pids.items():
            for pid in pids:
                reading = procstat.cpu_and_rss(pid)
                if reading is not None:
                    self.readings.setdefault(name, {}).setdefault(pid, []).append((now, reading[0]))
                    rss[pid] = reading[1]
        return rss


def locust_commands(args: argparse.Namespace, out: pathlib.Path) -> list[tuple[str, list[str]]]:
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    report = ["--csv", str(out / "locust"), "--html", str(out / "locust.html")]
    # Our thresholds judge the run (figures.breaches); Locust's own "any failure
    # means exit 1" would fail a run that is within the error budget.
    common = ["--headless", "--exit-code-on-error", "0", "--only-summary"]
    load = [] if args.shape else ["-u", str(args.users), "-r", str(args.spawn_rate)]
    run_time = ["-t", args.duration]
    if args.workers <= 0:
        return [("locust", [*base, *common, *load, *run_time, *report])]
    port = free_port()
    master = [*base, *common, *load, *run_time, *report, "--master",
              "--master-bind-host", LOOPBACK, "--master-bind-port", str(port),
              "--expect-workers", str(args.workers)]  # fmt: skip
    worker = [*base, "--headless", "--worker", "--master-host", LOOPBACK,
              "--master-port", str(port)]  # fmt: skip
    return [("locust-master", master)] + [
        (f"locust-worker-{i}", list(worker)) for i in range(1, args.workers + 1)
    ]


def locust_env(args: argparse.Namespace, t: target.LoadTarget, out: pathlib.Path) -> dict[str, str]:
    # The settings as resolved here (config file, Temporal CLI names and all): the
    # Locust processes and their bridges read values from their environment, never a
    # config file of their own.
    env = {**os.environ, **_settings(args)}
    env.update(t.to_env())
    env.update(
        LOAD_USERS=str(args.users),
        LOAD_SPAWN_RATE=str(args.spawn_rate),
        LOAD_DURATION=args.duration,
        LOAD_SHAPE=args.shape,
        LOAD_RATE_PER_S=str(args.rate),
        LOAD_RUN_ID=args.run_id,
        LOAD_OUT=str(out),
        LOAD_AGENT_WORK_S=str(args.agent_work_s),
        LOAD_HEARTBEAT_TIMEOUT_S=str(args.heartbeat_timeout_s),
        LOAD_LOG_DIR=str(out / "logs"),
        # The runner judges the bridges' exact samples (figures.breaches), not Locust.
        LOAD_JUDGED_BY="runner",
        LOAD_STAGES=args.stages,
    )
    # Explicit even for the reference: a bridge that brings up a stack of its own
    # (no address) must start the same services, never its default.
    commands: services.ServiceCommands = args.commands
    env.update(commands.to_env())
    return env


async def run(args: argparse.Namespace) -> int:
    # SIGINT/SIGTERM cancel the run, so the finally blocks stop Locust and the stack
    # (set explicitly: a shell's background job starts with SIGINT ignored).
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    out = pathlib.Path(args.out)
    duration_s = figures.parse_duration(args.duration)
    series: dict[str, list[tuple[float, float]]] = {}
    wanted = target.from_options(args)
    if not wanted.local:
        ignored = [var for var in services.ENV.values() if _settings(args).get(var)]
        if ignored:
            print(f"load: {', '.join(ignored)} not used: the target runs its own services")
    async with prepared(wanted, local_stack_config(args, out)) as ready:
        print(f"load: target {ready.target.describe()}", flush=True)
        ready.pids.update(_named_pids(args.pid))
        ready.metrics.update(_named_endpoints(args.metrics_endpoint))
        unscraped: dict[str, str] = {}  # service -> why its endpoint gave nothing
        before = await _settled_scrape(ready.metrics, unscraped)
        env = locust_env(args, ready.target, out)
        procs = [
            ManagedProcess(name, argv, env, out / "logs")
            for name, argv in locust_commands(args, out)
        ]
        t0 = time.monotonic()
        try:
            for proc in reversed(procs):  # workers first, so the master finds them
                await proc.start()
            master = procs[0]
            cpu = CpuSampler(ready.pids, [proc.pid for proc in procs])
            bound_s = duration_s + 180  # a bound on a hung Locust, not a measurement
            # Sampled every period until Locust's master exits; its exit ends the wait
            # for the next sample at once (a short run would otherwise spend up to a
            # period after Locust finished doing nothing).
            master_exit = asyncio.ensure_future(master.exited())
            try:
                while master.running() and (
                    time.monotonic() - t0 < bound_s
                    or time.monotonic() - t0 < bound_s + _stage_reads_allowance_s(args, out)
                ):
                    now = time.monotonic() - t0
                    rss_now = cpu.read(time.time())  # epoch: the bridges' samples' clock
                    for name, pid in ready.pids.items():
                        rss = rss_now.get(pid) if pid else None
                        if rss is not None:
                            series.setdefault(name, []).append((round(now, 2), round(rss, 2)))
                    await asyncio.wait({master_exit}, timeout=args.memory_interval)
            finally:
                master_exit.cancel()
            cpu.read(time.time())  # the load window's end, when Locust ended before it
            with contextlib.suppress(WaitTimeout):
                await eventually(
                    lambda: _exited(master),
                    timeout_s=5,
                    pending=lambda: f"{master.name} to exit",
                )
            code = master.exit_code()
            after = await _settled_scrape(ready.metrics, unscraped)
        finally:
            for proc in procs:
                await proc.stop(grace_s=30)
    samples = await asyncio.to_thread(_samples, out)
    stage_reads = await asyncio.to_thread(_stage_reads, out)
    result = figures.summarize(samples)
    result["cpu_per_handshake"] = figures.cpu_per_handshake(
        cpu.readings, figures.handshake_window(samples), len(samples), stage_reads
    )
    result.update(
        target=ready.target.describe(),
        shape=args.shape or "constant",
        users=args.users,
        spawn_rate=args.spawn_rate,
        rate_per_s=args.rate or None,
        run_id=args.run_id or None,
        duration=args.duration,
        workers=args.workers,
        locust_exit_code=code,
        warm_up=ready.warm_up or None,
    )
    trends = [
        figures.memory_trend(name, s, leak_mb_per_h=args.leak_mb_per_h)
        for name, s in series.items()
    ]
    limits = Thresholds(args.overhead_budget_ms, args.max_error_ratio, args.min_handshakes)
    failed = figures.breaches(result, limits)
    if args.shape == "soak":
        # The services' trends only: the local dev server keeps every workflow in memory.
        failed += figures.leak_breaches(trends, LEAK_JUDGED)
    if code != 0:
        failed.append(f"locust exited with {code} (see {out / 'logs'})")
    agreement = metrics_agreement(
        before, after, result, ready.metrics, unscraped, local=wanted.local
    )
    result["metrics_agree"] = agreement
    if agreement["status"] == "violated":
        failed.append("service metrics disagree with the handshakes: " + agreement["detail"])
    result["memory"] = [_trend_json(t) for t in trends]
    result["breaches"] = failed
    await asyncio.to_thread(_write, out, result, figures.markdown(result, trends, failed))
    print(figures.markdown(result, trends, failed))
    print(f"load: figures in {out / 'figures.json'}, Locust report {out / 'locust.html'}")
    if code is None or code not in (0, 1):
        return int(ExitCode.ENVIRONMENT)  # Locust itself did not run to its end
    return 1 if failed else 0


async def _exited(proc: ManagedProcess) -> bool | None:
    return None if proc.running() else True


def _trend_json(t: MemoryTrend) -> dict[str, Any]:
    data = dataclasses.asdict(t)
    data["series"] = [list(p) for p in t.series]
    return data


def _named_endpoints(values: list[str]) -> dict[str, str]:
    named = dict(value.partition("=")[::2] for value in values)
    if any(not name or ":" not in address for name, address in named.items()):
        raise SystemExit(f"--metrics-endpoint {values!r}: expected NAME=HOST:PORT")
    return named


async def _scrape_all(
    endpoints: dict[str, str], unscraped: dict[str, str]
) -> dict[str, metrics.Samples]:
    """One scrape of each endpoint; a service that does not answer is left out and its
    error kept in ``unscraped`` (the first one: the "before" scrape's, when both fail)."""
    scraped = {}
    for name, address in endpoints.items():
        try:
            scraped[name] = await metrics.scrape(address)
        except OSError as err:  # a target without metrics is not an error: not checked
            unscraped.setdefault(name, str(err))
    return scraped


async def _settled_scrape(
    endpoints: dict[str, str], unscraped: dict[str, str]
) -> dict[str, metrics.Samples]:
    """One scrape of each endpoint once the contract's gauges read zero (or the gate's
    GAUGE_SETTLE_S has passed: a deployed target with other traffic keeps its level).
    Zigflow's result comes back a moment before Stigma has counted its delivery and
    closed its execution: a scrape right after the warm-up, or right after the last
    handshake answered, would count those deliveries in the wrong window (seen: "moved
    by 7, the run saw 4" on a loaded CI runner)."""
    answering = {n: a for n, a in endpoints.items() if n in await _scrape_all(endpoints, unscraped)}
    await metrics_checks.quiet(answering)
    return await _scrape_all(endpoints, unscraped)


def metrics_agreement(
    before: Mapping[str, metrics.Samples],
    after: Mapping[str, metrics.Samples],
    result: Mapping[str, Any],
    endpoints: Mapping[str, str],
    unscraped: Mapping[str, str],
    *,
    local: bool,
) -> dict[str, Any]:
    """The services' counters moved by the handshakes the run saw succeed: Zigflow's
    completed counter and Stigma's delivered completions, each judged when its service
    answered both scrapes (runs without failures only: a handshake the bridge gave up
    on may still complete later).

    Metrics are optional evidence (harness/contract.py): what cannot be judged makes
    the verdict "not checked" with the reason, never a silent agreement. Returned as
    the history records a verdict (``Verdict.record``, so that a scenario records and
    judges it with ``holds``), with the figures compared."""
    succeeded = int(result["succeeded"])
    figures: dict[str, Any] = {"handshakes_ok": succeeded}
    if result["failed"]:
        failures = Missing(
            metrics_checks.AREA,
            "not compared in a load run with failed handshakes (one the run gave up on "
            "may still complete later)",
            (f"{result['failed']} handshake(s) failed",),
        )
        verdict = Verdict.not_checked(metrics_checks.CHECKER, failures)
        return {**verdict.record(), "detail": failures.why, **figures}
    judged = [s for s in JUDGED_METRICS if s in before and s in after]
    gap = _metrics_gap(endpoints, unscraped, judged, local=local)
    if not judged:
        assert gap is not None  # nothing judged: _metrics_gap names both services
        verdict = Verdict.not_checked(metrics_checks.CHECKER, gap)
        return {**verdict.record(), "detail": gap.why, **figures}
    evidence: list[str] = []
    said: list[str] = []
    for service in judged:
        counter, label, value, word = COUNTED[service]
        counted = metrics.total(
            metrics.delta(before[service], after[service]), counter, **{label: value}
        )
        figures[f"{service}_{word}"] = counted
        said.append(f"{service} {word} +{counted:g}")
        if counted != succeeded:
            evidence.append(
                f"{counter}{{{label}={value}}} moved by {counted:g}, the run saw "
                f"{succeeded} successful handshake(s)"
            )
    if gap is not None:
        evidence += [f"{checkers.NOT_CHECKED}{line}" for line in gap.detail or (gap.why,)]
    verdict = Verdict(
        metrics_checks.CHECKER, not checkers.violations(evidence), len(judged), evidence, gap
    )
    detail = ", ".join(said) + f", {succeeded} successful handshakes"
    if gap is not None:
        detail += f" (not checked: {gap.why})"
    return {**verdict.record(), "detail": detail, **figures}


def _metrics_gap(
    endpoints: Mapping[str, str],
    unscraped: Mapping[str, str],
    judged: Sequence[str],
    *,
    local: bool,
) -> Missing | None:
    """Which services' metrics were not judged, and why. On the local stack the same
    reasons as the gate's scenarios (harness.judge.metrics_checks), so the report puts
    the load smoke under the same "metrics: not certified" line as they."""
    silent = [s for s in JUDGED_METRICS if s in endpoints and s not in judged]
    absent = [s for s in JUDGED_METRICS if s not in endpoints]
    if not silent and not absent:
        return None
    whys: list[str] = []
    detail: list[str] = []
    if local:
        if silent:
            whys.append(metrics_checks.exports_none(silent))
            detail += [
                metrics_checks.silent_detail(s, endpoints[s], unscraped.get(s, "no answer"))
                for s in silent
            ]
        if absent:  # the local stack names Zigflow's endpoint at workflow level only
            whys.append(metrics_checks.not_judged_at_activity_level(absent))
            detail += [metrics_checks.activity_level_detail(s) for s in absent]
    else:
        if silent:
            whys.append(f"{' and '.join(silent)} answered no scrape at --metrics-endpoint")
            detail += [
                f"{s}: no metrics at {endpoints[s]}: {unscraped.get(s, 'no answer')}"
                for s in silent
            ]
        if absent:
            whys.append(f"{' and '.join(absent)}: no --metrics-endpoint given")
    return Missing(metrics_checks.AREA, "; ".join(whys), tuple(detail))


def _named_pids(values: list[str]) -> dict[str, int | None]:
    named: dict[str, int | None] = {}
    for value in values:
        name, _, pid = value.partition("=")
        if not pid.isdigit():
            raise SystemExit(f"--pid {value!r}: expected NAME=PID")
        named[name] = int(pid)
    return named


def _write(out: pathlib.Path, result: dict[str, Any], md: str) -> None:
    (out / "figures.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "figures.md").write_text(md)


def _stage_reads_allowance_s(args: argparse.Namespace, out: pathlib.Path) -> float:
    """LOAD_STAGES=after: how much longer the bridges may take, past the bound, to read
    the histories of the handshakes started (a long soak's many); else nothing."""
    if args.stages != bridge.STAGES_AFTER:
        return 0.0
    started = 0
    for path in out.glob(bridge.STARTED_GLOB):
        with path.open("rb") as file:
            started += sum(1 for _ in file)
    return figures.STAGE_READ_ALLOWANCE_S * started


def _samples(out: pathlib.Path) -> list[dict[str, Any]]:
    return figures.read_samples(sorted(out.glob(bridge.SAMPLES_GLOB)))


def _stage_reads(out: pathlib.Path) -> list[dict[str, Any]]:
    return figures.read_stage_reads(sorted(out.glob(bridge.SAMPLES_GLOB)))


def _fresh(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for pattern in (bridge.SAMPLES_GLOB, bridge.STARTED_GLOB):
        for old in out.glob(pattern):
            old.unlink()  # a run's figures are its own


def main(argv: list[str] | None = None) -> int:
    try:
        # The settings layer, as in the gate: [tool.handshake] / handshake.toml under
        # the environment, so a team's zigflow-cmd reaches the load run too, and a bad
        # config file stops it instead of loading the reference services.
        env = settings.environ()
    except ConfigError as err:
        print(f"load: {err}", file=sys.stderr)
        return 2
    args = parse_args(argv, env)
    # Where the settings came from, as every command's header says it (names only).
    print(f"load: {settings.sources().describe()}", flush=True)
    _fresh(pathlib.Path(args.out))
    try:
        return asyncio.run(run(args))
    except asyncio.CancelledError:
        print("load: interrupted; Locust and the stack were stopped", file=sys.stderr)
        return 130
    except HarnessError as err:
        # E.g. a service of the local stack that died before it was ready: its name,
        # exit code and log tail say more than a traceback.
        print(f"load: the run broke: {err}", file=sys.stderr)
        return int(exit_code_of(err))


if __name__ == "__main__":
    exit_process(main())
