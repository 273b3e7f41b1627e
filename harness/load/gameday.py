"""A game day on a deployed target: steady load while a fault schedule runs, and the
figures of each fault window.

    runner = HookRunner(profile, run_id="gd-42")
    day = await run_game_day(profile, runner, run_id="gd-42", out=pathlib.Path("out"))

For the run's whole length the harness serves the agent activity on the profile's
agent task queue (and, at activity level, its own plan workflow on a queue of the
run), and a load run (``python -m harness.load.run`` against the profile's Temporal,
``--rate`` steady, ``--run-id``: every workflow id is ``load-{run_id}-{uuid}``) starts
handshakes. Once the first handshake has answered: a baseline window without faults,
then each fault of the schedule for ``window_s`` followed by a recover window without
it. One fault at a time.

A recover window ends on its event, at most ``recover_s`` after the fault's stop:
once every handshake started before the stop has resolved (the load run records each
handshake as it starts and as it answers, harness/load/bridge.py) and a steady span of
``steady_s`` followed, in which every handshake started succeeded. A fault after which
that does not happen within ``recover_s`` gets the whole ``recover_s``, and its window
says what was still missing.

Every fault undoes itself on leaving its window, also on an exception or a
cancellation (Ctrl-C): a toxic is removed by its name from the external proxy, a
disabled proxy is enabled, a killed service is started by its hook and waited ready
(``harness.target.hooks``), each undo shielded (``hooks.finish``) so that a second
cancellation does not leave it half done. Before returning (or raising) the run
removes any toxic of its own still listed on the profile's proxies.

Figures per window come from the load run's samples (one JSON line per handshake,
harness/load/bridge.py), for the handshakes *started* in the window: handshakes/s that
succeeded, error ratio, overhead p50/p99 (``harness.measure.stats``), and after a fault
the time to recover: seconds from the fault's stop until every handshake started
before the stop has resolved (None when that did not happen within ``recover_s``,
and the window says why), and when the steady span after it began. Exactly once is
judged from Temporal's histories of the run's workflows with the scenarios'
checkers (structured event types only).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import pathlib
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from harness import contract
from harness.drive.plan import DEFAULT_MAX_ATTEMPTS, activity_id
from harness.errors import ComponentDied, ConfigError, WaitTimeout
from harness.faults.deployment import toxiproxy_api
from harness.judge import checkers
from harness.judge.checkers import Verdict
from harness.load import figures
from harness.load.bridge import RUN_ID_ENV, SAMPLES_GLOB, STARTED_GLOB
from harness.load.target import LoadTarget
from harness.measure import stats
from harness.observe import traces
from harness.observe.history import Call, History
from harness.report.model import Check, GameDay, GameDayWindow
from harness.servers.procs import ManagedProcess
from harness.servers.toxiproxy import ToxiproxyAPI, ToxiproxyError
from harness.stack.agent import Agents, serve_agents
from harness.stack.stack import plan_worker
from harness.target.hooks import (
    KILL_MISSING,
    PAUSE_MISSING,
    HookRunner,
    finish,
    service_killed,
    service_paused,
)
from harness.target.profile import SERVICES, Profile
from harness.waits import eventually, hold_for

FaultKind = Literal["toxic", "down", "kill", "pause"]
TOXICS = ("latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")
STREAMS = ("upstream", "downstream")
# How long to wait for the first handshake's answer (the load's bridge connects first).
BRIDGE_READY_TIMEOUT_S = 120.0
# After the schedule: how long the run's workflows may take to close before judging.
SETTLE_TIMEOUT_S = 60.0
# Stopping the load run: it stops Locust, whose bridge finishes what is in flight.
STOP_GRACE_S = 120.0
# After a fault's backlog drained: how long handshakes must go on succeeding before the
# recover window ends (steady state shown again; certify's --game-day-steady-s).
STEADY_S = 5.0
# A game day's defaults (certify's --game-day-* options). The baseline window is the
# budget figure: long enough for MIN_BUDGET_SAMPLES handshakes at the rate with a third
# to spare (a handshake slowed by the deployment's own hiccups still leaves enough),
# since a p99 of fewer is their maximum. Enough users that the rate holds while a fault
# slows handshakes down (each waits for its own).
RATE_PER_S = 3.0
USERS = 20
BASELINE_S = 45.0
WINDOW_S = 15.0
RECOVER_S = 45.0
# How often a recover window looks at what the load run has started and answered.
RECOVER_POLL_S = 0.25
_toxic_numbers = itertools.count(1)


@dataclass(frozen=True)
class Fault:
    """One fault of a schedule: a toxic on a link, a link down (its proxy disabled), or a
    service killed / paused by its hooks."""

    kind: FaultKind
    link: str = ""  # toxic, down: a link the profile's Toxiproxy carries
    service: str = ""  # kill, pause: zigflow or stigma
    toxic: str = "latency"
    stream: str = "downstream"
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "toxic":
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(self.attributes.items()))
            return f"{self.toxic} {self.stream} on {self.link}" + (f" ({attrs})" if attrs else "")
        if self.kind == "down":
            return f"{self.link} down"
        return f"{self.service} {'killed' if self.kind == 'kill' else 'paused'}"

    @property
    def target(self) -> str:
        return self.link if self.kind in ("toxic", "down") else self.service

    def check(self, profile: Profile) -> None:
        """ConfigError unless the profile can inject (and undo) this fault."""
        if self.kind in ("toxic", "down"):
            proxies = profile.toxiproxy.proxies if profile.toxiproxy else {}
            if self.link not in proxies:
                raise ConfigError(
                    f"fault {self.describe()!r}: target {profile.name!r} names no Toxiproxy "
                    f"proxy for link {self.link!r} (proxies: {', '.join(proxies) or 'none'})"
                )
            if self.kind == "toxic" and (self.toxic not in TOXICS or self.stream not in STREAMS):
                raise ConfigError(
                    f"fault {self.describe()!r}: toxic {self.toxic!r}/{self.stream!r}: "
                    f"expected one of {TOXICS} / {STREAMS}"
                )
        elif self.kind in ("kill", "pause"):
            if self.service not in SERVICES:
                raise ConfigError(f"fault {self.describe()!r}: service one of {SERVICES}")
            can = profile.can_kill if self.kind == "kill" else profile.can_pause
            if not can(self.service):
                raise ConfigError(
                    f"fault {self.describe()!r}: target {profile.name!r} has "
                    + (KILL_MISSING if self.kind == "kill" else PAUSE_MISSING)
                    + f" for {self.service}"
                )
        else:
            raise ConfigError(f"fault kind {self.kind!r}: expected toxic, down, kill or pause")


def default_schedule(profile: Profile) -> list[Fault]:
    """What the profile provides, one fault at a time: each link with a proxy gets a
    200 ms latency then goes down; each service with kill hooks is killed."""
    schedule: list[Fault] = []
    for link in profile.toxiproxy.proxies if profile.toxiproxy else {}:
        schedule.append(Fault("toxic", link=link, toxic="latency", attributes={"latency": 200}))
        schedule.append(Fault("down", link=link))
    for service in SERVICES:
        if profile.can_kill(service):
            schedule.append(Fault("kill", service=service))
    return schedule


# -- the external Toxiproxy ------------------------------------------------------------


@dataclass
class Proxies:
    """The profile's proxies as Toxiproxy lists them (name -> toxics, enabled)."""

    toxics: dict[str, list[str]]
    disabled: list[str]


async def proxies_now(api: ToxiproxyAPI, names: Iterable[str]) -> Proxies:
    listed = await api.call("GET", "/proxies")
    listed = listed if isinstance(listed, dict) else {}
    toxics: dict[str, list[str]] = {}
    disabled: list[str] = []
    for name in names:
        proxy = listed.get(name) or {}
        toxics[name] = [str(t.get("name")) for t in proxy.get("toxics") or []]
        if not proxy.get("enabled", False):
            disabled.append(name)
    return Proxies(toxics, disabled)


async def _remove_toxic(api: ToxiproxyAPI, proxy: str, name: str) -> None:
    """Remove toxic ``name``; already gone is fine (the proxy is asked, not assumed)."""
    try:
        await api.remove_toxic(proxy, name)
    except ToxiproxyError:
        listed = await api.call("GET", f"/proxies/{proxy}")
        if any(t.get("name") == name for t in listed.get("toxics") or []):
            raise


@contextlib.asynccontextmanager
async def fault_applied(
    fault: Fault,
    profile: Profile,
    runner: HookRunner,
    api: ToxiproxyAPI | None,
    *,
    toxic_prefix: str,
) -> AsyncIterator[str]:
    """``fault`` in place for the block; undone on leaving however the block ends.
    Yields how a kill or a pause was seen to land ("" for a toxic or a proxy down)."""
    if fault.kind in ("kill", "pause"):
        if fault.kind == "kill":
            async with service_killed(runner, fault.service) as seen:
                yield seen
        else:
            # A resume that does not bring the service back is the recover window's
            # finding ("not recovered"), not a reason to stop the game day.
            async with service_paused(runner, fault.service, thaw_seen=False) as seen:
                yield seen
        return
    assert api is not None  # Fault.check: the profile has a Toxiproxy
    assert profile.toxiproxy is not None
    proxy = profile.toxiproxy.proxies[fault.link]
    if fault.kind == "down":
        try:
            await finish(api.set_enabled(proxy, False))
            yield ""
        finally:
            await finish(api.set_enabled(proxy, True))
        return
    name = f"{toxic_prefix}{next(_toxic_numbers)}-{fault.toxic}-{fault.stream}"
    toxic = {
        "name": name,
        "type": fault.toxic,
        "stream": fault.stream,
        # Toxicity decides per connection and a gRPC channel is one long-lived
        # connection: always 1.0 (see harness/links/network.py).
        "toxicity": 1.0,
        "attributes": dict(fault.attributes),
    }
    try:
        # Shielded: a cancellation while the POST is on its way still lets it finish,
        # so that the removal below finds what it removes.
        await finish(api.add_toxic(proxy, toxic))
        yield ""
    finally:
        await finish(_remove_toxic(api, proxy, name))


async def _remove_ours(api: ToxiproxyAPI, names: Iterable[str], prefix: str) -> list[str]:
    """Any toxic of this run still listed on the proxies, removed; what was removed."""
    now = await proxies_now(api, names)
    removed = []
    for proxy, toxics in now.toxics.items():
        for toxic in toxics:
            if toxic.startswith(prefix):
                await _remove_toxic(api, proxy, toxic)
                removed.append(f"{proxy}/{toxic}")
    return removed


# -- the load run -----------------------------------------------------------------------


@dataclass
class LoadRun:
    proc: ManagedProcess
    out: pathlib.Path

    async def flowing(self, timeout_s: float) -> None:
        """Until the first handshake has answered (the bridge is connected, load flows)."""

        async def probe() -> bool | None:
            if not self.proc.running():
                raise ComponentDied(
                    f"the load run exited with {self.proc.exit_code()} before its first "
                    f"handshake answered\n--- {self.proc.log_path} ---\n{self.proc.tail()}"
                )
            return True if any(p.stat().st_size for p in self.out.glob(SAMPLES_GLOB)) else None

        await eventually(
            probe,
            timeout_s=timeout_s,
            interval_s=0.2,
            pending=lambda: f"the load run's first handshake answer in {self.out}/{SAMPLES_GLOB}",
        )

    def alive(self) -> None:
        """ComponentDied when the load run has exited: no handshake starts any more."""
        if not self.proc.running():
            raise ComponentDied(
                f"the load run exited with {self.proc.exit_code()} during the schedule"
                f"\n--- {self.proc.log_path} ---\n{self.proc.tail()}"
            )


# Longer than a fault window can keep Stigma's heartbeats and completion from Temporal
# (a 15 s window, then Stigma's completion retry backoff: its attempt at 31 s), shorter
# than the recover window after a kill (the attempt lost at the kill is retried at this).
GAME_DAY_HEARTBEAT_TIMEOUT_S = 40.0


def load_command(
    *, run_id: str, out: pathlib.Path, users: int, rate_per_s: float, duration_s: float
) -> list[str]:
    return [
        sys.executable, "-m", "harness.load.run",
        "--users", str(users), "--spawn-rate", str(users), "--rate", f"{rate_per_s:g}",
        "--duration", f"{max(1, round(duration_s))}s", "--run-id", run_id, "--out", str(out),
        # The game day judges per window; the run's own thresholds are not its verdict.
        "--overhead-budget-ms", "1e9", "--max-error-ratio", "1",
        # Its windows' overhead is read from the samples of a load it stops (SIGTERM):
        # each handshake's stages as it answers, not after a load that never ends.
        "--stages", "inline",
        # A Zigflow killed after taking an agent activity and before Stigma's ACK loses
        # that attempt, and only a heartbeat timeout tells Temporal so: without one it
        # waits for its start-to-close (a day) and the window can never recover.
        "--heartbeat-timeout-s", f"{GAME_DAY_HEARTBEAT_TIMEOUT_S:g}",
    ]  # fmt: skip


def load_env(
    profile: Profile, env: Mapping[str, str], run_id: str, plan_task_queue: str
) -> dict[str, str]:
    """The target by environment (secrets never on a command line)."""
    target = LoadTarget(
        address=profile.temporal,
        namespace=profile.namespace,
        connection=profile.connection(env),
        zigflow_task_queue=profile.zigflow_task_queue,
        plan_task_queue=plan_task_queue,
    )
    return {**env, **target.to_env(), RUN_ID_ENV: run_id}


@contextlib.asynccontextmanager
async def load_running(
    profile: Profile,
    env: Mapping[str, str],
    *,
    run_id: str,
    out: pathlib.Path,
    users: int,
    rate_per_s: float,
    duration_s: float,
    plan_task_queue: str,
) -> AsyncIterator[LoadRun]:
    """``python -m harness.load.run`` against the profile's target; stopped on leaving
    (SIGTERM: it stops Locust, whose bridge finishes the handshakes in flight)."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    argv = load_command(
        run_id=run_id, out=out, users=users, rate_per_s=rate_per_s, duration_s=duration_s
    )
    proc = ManagedProcess(
        "gameday-load", argv, load_env(profile, env, run_id, plan_task_queue), out / "logs"
    )
    await proc.start()
    try:
        yield LoadRun(proc, out)
    finally:
        await finish(proc.stop(grace_s=STOP_GRACE_S))


# -- figures ----------------------------------------------------------------------------


def _ended(sample: Mapping[str, Any]) -> float | None:
    """When the handshake resolved; None when it has not (the load gave up waiting for
    a workflow that had not closed: that is no recovery)."""
    if sample.get("resolved") is False:
        return None
    if sample.get("ended_at") is not None:
        return float(sample["ended_at"])
    if sample.get("e2e_ms") is not None:
        return float(sample["started_at"]) + float(sample["e2e_ms"]) / 1000.0
    return None


def window_figures(
    samples: Sequence[Mapping[str, Any]], start: float, stop: float
) -> dict[str, Any]:
    """Counts, handshakes/s (succeeded), error ratio and overhead p50/p99 of the
    handshakes started in [start, stop)."""
    inside = [s for s in samples if start <= float(s.get("started_at") or 0) < stop]
    ok = [s for s in inside if s.get("ok")]
    overhead = sorted(float(s["overhead_ms"]) for s in ok if s.get("overhead_ms") is not None)
    span = stop - start
    return {
        "handshakes": len(inside),
        "succeeded": len(ok),
        "failed": len(inside) - len(ok),
        "handshakes_per_s": round(len(ok) / span, 3) if span > 0 else None,
        "error_ratio": round((len(inside) - len(ok)) / len(inside), 4) if inside else None,
        "overhead_n": len(overhead),
        "overhead_p50_ms": round(stats.percentile(overhead, 50.0), 3) if overhead else None,
        "overhead_p99_ms": round(stats.percentile(overhead, 99.0), 3) if overhead else None,
    }


def time_to_recover(
    samples: Sequence[Mapping[str, Any]],
    stop: float,
    recover_s: float,
    unanswered_before_stop: int = 0,
) -> tuple[float | None, str]:
    """Seconds from ``stop`` until every handshake started before it had resolved, and
    a note; None (with why) when that did not happen within ``recover_s``."""
    if unanswered_before_stop:
        return None, (
            f"not recovered: {unanswered_before_stop} handshake(s) started before the stop "
            "never answered"
        )
    before = [s for s in samples if float(s.get("started_at") or 0) < stop]
    gave_up = sum(1 for s in before if s.get("resolved") is False)
    if gave_up:
        return None, (
            f"not recovered: {gave_up} handshake(s) started before the stop got no result "
            "while the load waited (still running, or lost)"
        )
    ends = [_ended(s) for s in before]
    if any(e is None for e in ends):
        return None, "not recovered: a handshake started before the stop has no end time"
    last = max((e for e in ends if e is not None), default=stop)
    drained = max(0.0, last - stop)
    if drained > recover_s:
        return None, (
            f"not recovered within {recover_s:g}s: the backlog drained only after {drained:.1f}s"
        )
    if drained == 0.0:
        return 0.0, "nothing in flight at the stop"
    return round(drained, 3), f"backlog drained {drained:.2f}s after the stop"


# -- the recover window -----------------------------------------------------------------


class JsonLines:
    """The JSON lines appended to the files of ``directory`` matching ``pattern``, read
    as they grow: each call to ``new`` returns the whole lines added since the last one
    (a line still being written is read whole by a later call)."""

    def __init__(self, directory: pathlib.Path, pattern: str) -> None:
        self.directory = directory
        self.pattern = pattern
        self._offsets: dict[pathlib.Path, int] = {}

    def new(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for path in sorted(self.directory.glob(self.pattern)):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
            whole = data.rfind(b"\n") + 1
            self._offsets[path] = offset + whole
            records += [json.loads(line) for line in data[:whole].splitlines() if line.strip()]
        return records


class LoadProgress:
    """What the load run has started and answered so far, from its files as they grow
    (harness/load/bridge.py: a line per handshake started, a sample per answer)."""

    def __init__(self, out: pathlib.Path) -> None:
        self.started: dict[str, float] = {}  # workflow id -> started_at (epoch s)
        self.answered: dict[str, dict[str, Any]] = {}  # workflow id -> its sample
        self._started = JsonLines(out, STARTED_GLOB)
        self._answers = JsonLines(out, SAMPLES_GLOB)

    def refresh(self) -> None:
        for record in self._started.new():
            self.started[str(record["workflow_id"])] = float(record["started_at"])
        for sample in self._answers.new():
            wf_id = str(sample.get("workflow_id"))
            self.answered[wf_id] = sample
            self.started.setdefault(wf_id, float(sample.get("started_at") or 0))


@dataclass(frozen=True)
class Recovered:
    """How a recover window ended on its event."""

    drained_at: float  # epoch s: every handshake started before the stop had resolved
    steady_from: float  # epoch s: from here every handshake started in the span succeeded
    steady_until: float  # epoch s: the span's end (at least steady_s after its start)
    steady_n: int  # the handshakes started in the span (all succeeded)


def recovered(
    started: Mapping[str, float],
    answered: Mapping[str, Mapping[str, Any]],
    *,
    stop: float,
    now: float,
    steady_s: float,
) -> Recovered | str:
    """Whether the load has recovered from a fault undone at ``stop``: every handshake
    started before the stop has resolved (as ``time_to_recover`` counts it), then a span
    of at least ``steady_s`` in which at least one handshake started and every one
    started succeeded: the earliest such span (a handshake of a candidate span that
    failed moves the span's start past it). Else what is still missing, in words."""
    backlog = [w for w, t in started.items() if t < stop]
    unanswered = sum(1 for w in backlog if w not in answered)
    if unanswered:
        return f"{unanswered} handshake(s) started before the stop still unanswered"
    gave_up = sum(1 for w in backlog if answered[w].get("resolved") is False)
    if gave_up:
        return f"{gave_up} handshake(s) started before the stop got no result"
    ends = [_ended(answered[w]) for w in backlog]
    drained_at = max([stop, *(e for e in ends if e is not None)])
    starts = sorted((t, w) for w, t in started.items() if t > drained_at)
    steady_from = drained_at
    while True:
        since = [(t, w) for t, w in starts if t > steady_from]
        if not since:
            return (
                f"a handshake started after {steady_from - stop:.1f}s from the stop "
                "(the backlog drained; none started since)"
            )
        # At least steady_s long, and at least one handshake in it (a load slower than
        # one handshake per span stretches the span to its next one).
        until = max(steady_from + steady_s, since[0][0])
        in_span = [(t, w) for t, w in since if t <= until]
        failed = [t for t, w in in_span if w in answered and not answered[w].get("ok")]
        if not failed:
            break
        steady_from = max(failed)
    if now < until:
        return (
            f"a steady span of {steady_s:g}s from {steady_from - stop:.1f}s after the stop "
            f"({max(0.0, now - steady_from):.1f}s so far)"
        )
    waiting = sum(1 for _, w in in_span if w not in answered)
    if waiting:
        return f"{waiting} handshake(s) of the steady span still unanswered"
    return Recovered(drained_at, steady_from, until, len(in_span))


async def await_recovery(
    load: LoadRun, progress: LoadProgress, *, stop: float, recover_s: float, steady_s: float
) -> Recovered | str:
    """The recover window: until ``recovered`` says so, at most ``recover_s`` after the
    stop; then what was still missing."""
    missing = ["the load run's records not read yet"]

    async def probe() -> Recovered | None:
        load.alive()
        await asyncio.to_thread(progress.refresh)
        state = recovered(
            progress.started, progress.answered, stop=stop, now=time.time(), steady_s=steady_s
        )
        if isinstance(state, str):
            missing[0] = state
            return None
        return state

    try:
        return await eventually(
            probe,
            timeout_s=max(0.0, stop + recover_s - time.time()),
            interval_s=RECOVER_POLL_S,
            pending=lambda: missing[0],
        )
    except WaitTimeout:
        return f"not steady again within {recover_s:g}s: {missing[0]}"


# -- exactly once, from Temporal's histories --------------------------------------------


@dataclass(frozen=True)
class RunWorkflow:
    workflow_id: str
    run_id: str
    started_at: float


async def run_workflows(client: Client, run_id: str, since: float) -> list[RunWorkflow]:
    """Every handshake workflow of the run the server lists (ids ``load-{run_id}-...``)."""
    prefix = f"load-{run_id}-"
    found: dict[str, RunWorkflow] = {}

    def add(wf_id: str, run: str, start: datetime.datetime | None) -> None:
        if wf_id.startswith(prefix):
            found[wf_id] = RunWorkflow(wf_id, run, start.timestamp() if start else 0.0)

    try:
        async for w in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'"):
            add(w.id, w.run_id, w.start_time)
    except RPCError as err:
        if err.status not in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.UNIMPLEMENTED):
            raise
        # A visibility store without STARTS_WITH: the run's time span, filtered here.
        begun = datetime.datetime.fromtimestamp(since, datetime.UTC).isoformat()
        async for w in client.list_workflows(f"StartTime >= '{begun}'"):
            add(w.id, w.run_id, w.start_time)
    return sorted(found.values(), key=lambda w: w.started_at)


def _plan_of(history: Any, converter: Any) -> dict[str, Any]:
    """The plan a handshake workflow was started with (its first event's input; at
    activity level the plan workflow's input holds the plan's states too)."""
    for ev in history.events:
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = list(ev.workflow_execution_started_event_attributes.input.payloads)
            values = converter.payload_converter.from_payloads(payloads) if payloads else []
            if values and isinstance(values[0], dict):
                return dict(values[0])
    return {"states": []}


async def _closed(handle: WorkflowHandle[Any, Any], deadline: float) -> None:
    """Until the workflow has closed, however; quietly no longer than the deadline
    (the checkers then see it open and say so)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(handle.result(), max(0.1, deadline - time.monotonic()))


async def collect_call(
    client: Client, wf: RunWorkflow, agents: Agents | None, deadline: float
) -> Call:
    """One handshake workflow joined with its Stigma executions, as the scenarios'
    driver joins a call (harness/drive/driver.py ``collect``)."""
    converter = client.data_converter
    handle = client.get_workflow_handle(wf.workflow_id, run_id=wf.run_id)
    await _closed(handle, deadline)
    hist = await handle.fetch_history()
    call = Call(wf.workflow_id, "plan", _plan_of(hist, converter))
    call.zigflow = traces.read(hist, converter, traces.WorkflowTrace)
    for index, state in enumerate(call.plan.get("states") or []):
        if state.get("kind", "call_agent") != "call_agent":
            continue
        act = activity_id(index, state)
        if call.zigflow.activity(act) is None:
            continue
        stigma_id = contract.stigma_workflow_id(f"{wf.workflow_id}/{wf.run_id}/{act}")
        if agents is not None:
            call.agents[act] = [a.to_json() for a in agents.attempts(stigma_id)]
        runs: list[traces.StigmaTrace] = []
        with contextlib.suppress(RPCError):  # none: the checkers say what is missing
            async for w in client.list_workflows(f"WorkflowId = '{stigma_id}'"):
                stigma = client.get_workflow_handle(stigma_id, run_id=w.run_id)
                await _closed(stigma, deadline)
                runs.append(
                    traces.read(await stigma.fetch_history(), converter, traces.StigmaTrace)
                )
        if not runs:
            with contextlib.suppress(RPCError):
                stigma = client.get_workflow_handle(stigma_id)
                await _closed(stigma, deadline)
                runs.append(
                    traces.read(await stigma.fetch_history(), converter, traces.StigmaTrace)
                )
        if runs:
            runs.sort(key=lambda t: t.started_at)
            call.stigma_runs[act] = runs
            call.stigma[act] = runs[-1]
    return call


def judge_exactly_once(calls: Sequence[Call]) -> Check:
    """Each handshake whose Zigflow activity completed got the one agent run's result,
    completed once (Temporal allows one completion: attempts within the plan's retries)
    and Stigma delivered it; and no handshake, completed or not, ran its agent twice."""
    done = History("game_day:completed")
    every = History("game_day:all")
    open_or_failed = 0
    for call in calls:
        every.calls[call.call_id] = call
        spans = call.zigflow.of_type(contract.NAMES.zigflow_agent_activity) if call.zigflow else []
        if spans and all(s.status == "completed" for s in spans):
            done.calls[call.call_id] = call
        else:
            open_or_failed += 1
    verdicts: list[Verdict] = [checkers.at_most_one_agent_per_key(every)]
    if done.calls:
        verdicts.append(
            checkers.resumed_once_with_agent_result(done, max_attempts=DEFAULT_MAX_ATTEMPTS)
        )
    evidence = [f"{v.checker}: {line}" for v in verdicts for line in v.evidence]
    if not calls:
        evidence = ["nothing to check: no handshake workflow of the run started in the window"]
    if open_or_failed:
        evidence.append(
            f"{checkers.NOT_CHECKED}{open_or_failed} handshake(s) whose Zigflow activity did "
            "not complete: judged for one agent run only"
        )
    ok = all(v.ok for v in verdicts)
    missing = next((v.missing for v in verdicts if v.missing is not None), None)
    status: Literal["ok", "violated", "not_checked"] = (
        "violated" if not ok else ("not_checked" if missing is not None or not calls else "ok")
    )
    return Check(
        checker="exactly_once",
        ok=ok,
        status=status,
        checked=len(calls),
        evidence=evidence[:50],
        area=missing.area if missing else ("handshakes" if not calls else None),
        why=missing.why if missing else ("no handshake in the window" if not calls else None),
    )


# -- the game day -----------------------------------------------------------------------


@dataclass
class _Timeline:
    """Each window's wall-clock span and what the proxies listed meanwhile."""

    rows: list[dict[str, Any]] = field(default_factory=list)


async def run_game_day(
    profile: Profile,
    runner: HookRunner,
    *,
    run_id: str,
    out: pathlib.Path,
    users: int = USERS,
    rate_per_s: float = RATE_PER_S,
    baseline_s: float = BASELINE_S,
    window_s: float = WINDOW_S,
    recover_s: float = RECOVER_S,
    steady_s: float = STEADY_S,
    schedule: Sequence[Fault] | None = None,
    serve_agent: bool = True,
    load_ready_timeout_s: float = BRIDGE_READY_TIMEOUT_S,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
) -> GameDay:
    """Steady load on ``profile``'s target while ``schedule`` (default: what the profile
    provides) runs one fault at a time; the figures of each window. After each fault
    the recover window lasts until the backlog drained and ``steady_s`` of succeeding
    handshakes followed, at most ``recover_s``. ``serve_agent``
    False: something else already serves the agent task queue (then the harness's own
    record of each agent run is not part of the evidence). Every fault is undone on
    leaving, however; the result is also written to ``out/game_day.json`` and ``.md``."""
    faults = list(default_schedule(profile) if schedule is None else schedule)
    for fault in faults:
        fault.check(profile)
    if users < 1 or rate_per_s <= 0 or min(baseline_s, window_s, recover_s, steady_s) <= 0:
        raise ConfigError("game day: users >= 1, a positive rate and positive durations")
    api = toxiproxy_api(profile)
    proxy_names = list(profile.toxiproxy.proxies.values()) if profile.toxiproxy else []
    prefix = f"gameday-{run_id}-"
    started_at = time.time()
    timeline = _Timeline()
    notes: list[str] = []
    load_exit: int | None = None
    connection = profile.connection(runner.env)
    client = await Client.connect(
        profile.temporal, namespace=profile.namespace, **connection.client_kwargs()
    )
    total_s = baseline_s + len(faults) * (window_s + recover_s)  # at most
    agents: Agents | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if serve_agent:
                agents = await stack.enter_async_context(
                    serve_agents(client, profile.agent_task_queue)
                )
            plan_queue = ""
            if profile.zigflow_level == "activity":
                plan_queue = f"plan-{run_id}"
                await stack.enter_async_context(plan_worker(client, plan_queue))
            load = await stack.enter_async_context(
                load_running(
                    profile,
                    runner.env,
                    run_id=run_id,
                    out=out / "load",
                    users=users,
                    rate_per_s=rate_per_s,
                    # A backstop: the load is stopped when the schedule is done.
                    duration_s=total_s + load_ready_timeout_s + 60,
                    plan_task_queue=plan_queue,
                )
            )
            await load.flowing(load_ready_timeout_s)
            progress = LoadProgress(out / "load")
            start = time.time()
            await hold_for(baseline_s, "the baseline window is the schedule")
            timeline.rows.append({"fault": None, "start": start, "stop": time.time()})
            for fault in faults:
                row: dict[str, Any] = {"fault": fault, "start": time.time()}
                timeline.rows.append(row)
                try:
                    async with fault_applied(
                        fault, profile, runner, api, toxic_prefix=prefix
                    ) as seen:
                        row["start"] = time.time()  # in place from here
                        row["seen"] = seen
                        if api is not None:
                            row["during"] = await proxies_now(api, proxy_names)
                        await hold_for(window_s, "the fault window is the schedule")
                finally:
                    row["stop"] = time.time()  # undone by here
                if api is not None:
                    row["after"] = await proxies_now(api, proxy_names)
                row["recovered"] = await await_recovery(
                    load, progress, stop=row["stop"], recover_s=recover_s, steady_s=steady_s
                )
                row["recover_until"] = time.time()
            load_exit = await _stop(load)
            # Judged while the agent (and plan) workers still serve: a handshake whose
            # answer the load's stop cut off still closes, rather than being waited for
            # until settle_timeout_s with nothing left to run its agent.
            samples = await asyncio.to_thread(_read_samples, out / "load")
            day = await _figures(
                profile,
                client,
                agents,
                run_id=run_id,
                samples=samples,
                timeline=timeline,
                started_at=started_at,
                settle_timeout_s=settle_timeout_s,
                recover_s=recover_s,
            )
    finally:
        if api is not None:
            removed = await finish(_remove_ours(api, proxy_names, prefix))
            if removed:
                notes.append(f"toxics of the run left on the proxies, removed: {removed}")
    left = await proxies_now(api, proxy_names) if api is not None else Proxies({}, [])
    day = day.model_copy(
        update={
            "users": users,
            "rate_per_s": rate_per_s,
            "baseline_s": baseline_s,
            "window_s": window_s,
            "recover_s": recover_s,
            "steady_s": steady_s,
            "load_exit_code": load_exit,
            "toxics_left": {k: v for k, v in left.toxics.items() if v},
            "disabled_left": left.disabled,
            "hooks": runner.log.hooks(),
            "notes": notes + day.notes,
        }
    )
    await asyncio.to_thread(write, day, out)
    return day


def _read_samples(out: pathlib.Path) -> list[dict[str, Any]]:
    return figures.read_samples(sorted(out.glob(SAMPLES_GLOB)))


async def _stop(load: LoadRun) -> int | None:
    return await finish(load.proc.stop(grace_s=STOP_GRACE_S))


async def _figures(
    profile: Profile,
    client: Client,
    agents: Agents | None,
    *,
    run_id: str,
    samples: list[dict[str, Any]],
    timeline: _Timeline,
    started_at: float,
    settle_timeout_s: float,
    recover_s: float,
) -> GameDay:
    listed = await run_workflows(client, run_id, started_at)
    answered = {str(s.get("workflow_id")) for s in samples}
    deadline = time.monotonic() + settle_timeout_s
    gate = asyncio.Semaphore(8)

    async def one(wf: RunWorkflow) -> Call:
        async with gate:
            return await collect_call(client, wf, agents, deadline)

    calls = await asyncio.gather(*(one(wf) for wf in listed))
    by_id = {c.call_id: c for c in calls}
    started = {
        str(s["workflow_id"]): float(s["started_at"]) for s in samples if s.get("workflow_id")
    }
    for wf in listed:
        started.setdefault(wf.workflow_id, wf.started_at)
    windows: list[GameDayWindow] = []
    for index, row in enumerate(timeline.rows):
        fault: Fault | None = row["fault"]
        start, stop = float(row["start"]), float(row["stop"])
        fig = window_figures(samples, start, stop)
        ttr: float | None = None
        steady_after: float | None = None
        recovery = "no fault"
        if fault is not None:
            unanswered = sum(
                1 for wf in listed if wf.workflow_id not in answered and wf.started_at < stop
            )
            ttr, recovery = time_to_recover(samples, stop, recover_s, unanswered)
            steady_after, steady = steady_again(row.get("recovered"), stop)
            recovery = f"{recovery}; {steady}" if steady else recovery
        in_window = [by_id[w] for w, t in started.items() if start <= t < stop and w in by_id]
        during: Proxies | None = row.get("during")
        after: Proxies | None = row.get("after")
        windows.append(
            GameDayWindow(
                index=index,
                name="baseline" if fault is None else f"fault {index}",
                kind="baseline" if fault is None else fault.kind,
                fault="none" if fault is None else fault.describe(),
                target="" if fault is None else fault.target,
                start=start,
                stop=stop,
                recover_until=row.get("recover_until"),
                **fig,
                time_to_recover_s=ttr,
                steady_after_s=steady_after,
                recovery=recovery,
                exactly_once=judge_exactly_once(in_window),
                seen=row.get("seen", ""),
                toxics_during={k: v for k, v in during.toxics.items() if v} if during else {},
                disabled_during=during.disabled if during else [],
                toxics_after={k: v for k, v in after.toxics.items() if v} if after else {},
            )
        )
    notes = []
    if len(listed) != len(answered - {"None"}):
        notes.append(
            f"{len(listed)} handshake workflow(s) listed by Temporal, "
            f"{len(answered - {'None'})} answered to the load"
        )
    return GameDay(
        run_id=run_id,
        target=profile.name,
        started_at=started_at,
        ended_at=time.time(),
        windows=windows,
        workflows=len(listed),
        exactly_once=judge_exactly_once(calls),
        notes=notes,
    )


def steady_again(state: Recovered | str | None, stop: float) -> tuple[float | None, str]:
    """Seconds from the stop until the steady span began (None: not within the recover
    window), and a note; (None, "") when the window was not watched (a fault cut short)."""
    if state is None:
        return None, ""
    if isinstance(state, str):
        return None, state
    after = round(state.steady_from - stop, 3)
    span = state.steady_until - state.steady_from
    return after, (
        f"steady again {after:.2f}s after the stop "
        f"({state.steady_n} handshake(s) succeeded over {span:.1f}s)"
    )


def write(day: GameDay, out: pathlib.Path) -> None:
    from harness.report import game_day

    out.mkdir(parents=True, exist_ok=True)
    (out / "game_day.json").write_text(day.model_dump_json(indent=2) + "\n")
    (out / "game_day.md").write_text(game_day.markdown(day))
