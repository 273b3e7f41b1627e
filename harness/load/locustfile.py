"""Locust drives real handshakes: ``locust -f harness/load/locustfile.py``.

Each simulated user starts Zigflow workflows whose one state calls the stand-in
agent through the handshake, and reports three request types to Locust under
request_type "handshake": ``end_to_end`` (start -> Zigflow's result), ``ack``
(Zigflow's activity started -> Stigma durably started the agent) and ``overhead``
(Zigflow's activity duration minus the agent's work). A wrong result or a failed
workflow is a failure of ``end_to_end``. Under ``make load`` (LOAD_JUDGED_BY=runner,
LOAD_STAGES=after) the bridge reads ack and overhead once the load has stopped (no
history read competes with the services during it), and they reach Locust's
statistics then, at the test stop.

temporalio never runs in this process: Locust has monkey-patched it with gevent
on import, and temporalio's asyncio + Rust core does not work under that. Each
Locust process starts one bridge process (harness/load/bridge.py) that owns the
client, and users talk to it over pipes; gevent's subprocess and AsyncResult make
that cooperative, so a waiting user blocks only its own greenlet.

Thresholds are judged by Locust itself, so a plain ``locust -f ... --headless`` in
staging fails (exit 1) when the handshake overhead p99 is over the budget
(``--overhead-budget-ms``, env LOAD_OVERHEAD_BUDGET_MS, default 100) or more than
``--max-error-ratio`` (LOAD_MAX_ERROR_RATIO, default 0.01) of the handshakes
failed; the reasons are printed. (On a distributed run the master judges Locust's
aggregated figures, which round anything above 100 ms to 2 significant digits;
``make load`` judges the bridges' exact samples instead.)

Each user paces itself: LOAD_THINK_S (default 1 s) between its handshakes, so
the default 5 users are a steady load, not a saturation test (LOAD_THINK_S=0 for
that); each user starts on its own phase of that period (user i of LOAD_USERS
after i/LOAD_USERS of it), so that they neither start nor stay in step.
LOAD_RATE_PER_S instead sets a steady rate for the whole run: each of the
LOAD_USERS users starts at most LOAD_RATE_PER_S / LOAD_USERS handshakes a second
(each user on its own phase of the period; a user whose handshake is slow falls
behind, so give more users than the rate needs when faults slow handshakes down).

Target: the Temporal options below (--temporal, --namespace, the TLS set: every
command's, with their HANDSHAKE_* or TEMPORAL_* environment); without an address,
the bridge brings up a local stack of its own, of the services of --zigflow-cmd /
--stigma-cmd (or HANDSHAKE_ZIGFLOW_CMD / HANDSHAKE_STIGMA_CMD, as in the gate;
default the reference). ``make load`` (run.py) brings one up once for all processes
and passes its address instead.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import pathlib
import sys
import time
from typing import Any

import gevent
from gevent import subprocess as gsubprocess
from gevent.event import AsyncResult
from gevent.lock import Semaphore
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from harness import setting_names, settings
from harness.drive.plan import call_agent, plan, succeeds
from harness.errors import ConfigError
from harness.load import services, shapes, target
from harness.load.figures import STAGE_READ_ALLOWANCE_S, parse_duration

READY_TIMEOUT_S = 120.0


def _resolved() -> dict[str, str]:
    """The settings layer, as for every command: what `handshake load` handed down in
    the environment, or, under a plain `locust -f`, the user's environment (Temporal
    CLI names too) over the config file. Read once, here, at import: Locust takes the
    shape class it finds in this module when it imports it."""
    try:
        return settings.environ()
    except ConfigError as err:
        sys.stderr.write(f"locust: {err}\n")
        sys.exit(2)


SETTINGS = _resolved()
CALL_TIMEOUT_S = float(SETTINGS.get("LOAD_CALL_TIMEOUT_S") or 60) + 30
AGENT_WORK_S = float(SETTINGS.get("LOAD_AGENT_WORK_S") or 0)
HEARTBEAT_TIMEOUT_S = float(SETTINGS.get("LOAD_HEARTBEAT_TIMEOUT_S") or 0)  # 0: none
OUT = pathlib.Path(SETTINGS.get("LOAD_OUT") or "reports/out/load")
RATE_PER_S = float(SETTINGS.get("LOAD_RATE_PER_S") or 0)
USERS = max(1, int(SETTINGS.get("LOAD_USERS") or 1))
THINK_S = float(SETTINGS.get("LOAD_THINK_S") or 1.0)
# make load (harness/load/run.py) judges the bridges' exact samples itself.
JUDGED_BY_RUNNER = SETTINGS.get("LOAD_JUDGED_BY") == "runner"
# Its bridge then reads each handshake's histories once the load has ended
# (harness/load/bridge.py), within STAGE_READ_ALLOWANCE_S a handshake.
STAGES_AFTER = JUDGED_BY_RUNNER and SETTINGS.get("LOAD_STAGES", "after") == "after"

if SETTINGS.get("LOAD_SHAPE"):  # Locust uses the shape class it finds in this module
    _peak = int(SETTINGS.get("LOAD_USERS") or 5)
    Shape = shapes.configured(
        SETTINGS["LOAD_SHAPE"],
        shapes.ShapeValues(
            users=_peak,
            spawn_rate=float(SETTINGS.get("LOAD_SPAWN_RATE") or _peak),
            duration_s=parse_duration(SETTINGS.get("LOAD_DURATION") or "60s"),
            steps=int(SETTINGS.get("LOAD_STEPS") or 4),
        ),
    )


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    # On Locust's own parser (not a group): only it takes env_var and is_secret (the
    # API key is masked in Locust's web UI). The flag's default already reads the
    # settings (HANDSHAKE_TEMPORAL_TLS, TEMPORAL_TLS).
    target.add_arguments(
        parser,
        SETTINGS,
        extra=lambda s: {} if s.flag else {"env_var": s.env, "is_secret": s.secret},
    )
    services.add_arguments(parser)
    # The thresholds, as `handshake load` declares them (the registry).
    setting_names.add_options(
        parser.add_argument, SETTINGS, "load", "LOAD_OVERHEAD_BUDGET_MS", "LOAD_MAX_ERROR_RATIO"
    )


def threshold_breaches(environment: Environment) -> list[str]:
    """Why this run fails its thresholds, from Locust's own statistics."""
    options = environment.parsed_options
    if options is None:
        return []
    e2e = environment.stats.get("end_to_end", "handshake")
    overhead = environment.stats.get("overhead", "handshake")
    found: list[str] = []
    if e2e.num_requests == 0:
        found.append("no handshake completed")
    elif e2e.fail_ratio > options.max_error_ratio:
        found.append(
            f"{e2e.num_failures} of {e2e.num_requests} handshakes failed "
            f"(ratio {e2e.fail_ratio:.3f} > {options.max_error_ratio:g})"
        )
    if overhead.num_requests:
        p99 = overhead.get_response_time_percentile(0.99)
        if p99 is not None and p99 > options.overhead_budget_ms:
            found.append(
                f"overhead p99 {p99:.0f} ms above the {options.overhead_budget_ms:g} ms budget "
                f"(n={overhead.num_requests})"
            )
    return found


@events.quitting.add_listener
def _judge(environment: Environment, **_: Any) -> None:
    if JUDGED_BY_RUNNER or isinstance(environment.runner, WorkerRunner):
        return
    breaches = threshold_breaches(environment)
    for reason in breaches:
        print(f"handshake load: threshold breached: {reason}", file=sys.stderr)
    if breaches:
        environment.process_exit_code = 1


def _bridge_env(environment: Environment) -> dict[str, str]:
    """The settings as resolved here, the target and the service commands, all explicit."""
    options = environment.parsed_options
    env = dict(SETTINGS)
    env.update(target.from_options(options).to_env())
    env.update(services.from_options(options, SETTINGS).to_env())
    if not JUDGED_BY_RUNNER:
        # Locust judges its own ack and overhead figures: they must reach it.
        env["LOAD_STAGES"] = "inline"
    return env


@events.init.add_listener
def _check_services(environment: Environment, **_: Any) -> None:
    # At start-up, not in a user's first task: a command line that does not parse is
    # the operator's mistake, reported once with the option's name (SystemExit is not
    # swallowed by Locust's event hooks, unlike an exception).
    try:
        services.from_options(environment.parsed_options, SETTINGS)
        target.from_options(environment.parsed_options)
    except ConfigError as err:
        sys.stderr.write(f"locust: {err}\n")
        sys.exit(2)


class Bridge:
    """The pipe to this process's bridge: requests by id, answers matched by id."""

    def __init__(self, env: dict[str, str]) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        self._log = (OUT / f"bridge-{os.getpid()}.log").open("ab")
        self._proc = gsubprocess.Popen(
            [sys.executable, "-m", "harness.load.bridge"],
            stdin=gsubprocess.PIPE,
            stdout=gsubprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        self._waiting: dict[int, AsyncResult] = {}
        self._ids = itertools.count()
        self._calls = 0
        # Requests whose answer reached their user (one stopped meanwhile never sees it).
        self.answered: set[int] = set()
        self._ready = AsyncResult()
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            if message.get("event") == "ready":
                self._ready.set(message)
                continue
            waiter = self._waiting.pop(message.get("id"), None)
            if waiter is not None:
                waiter.set(message)
        died = RuntimeError(f"bridge exited ({self._proc.wait()}); see {self._log.name}")
        for waiter in self._waiting.values():
            waiter.set_exception(died)
        if not self._ready.ready():
            self._ready.set_exception(died)

    def ready(self) -> dict[str, Any]:
        value: dict[str, Any] = self._ready.get(timeout=READY_TIMEOUT_S)
        return value

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self._calls += 1
        answer = self._ask(request, CALL_TIMEOUT_S)
        self.answered.add(int(answer["id"]))
        return answer

    def stages(self) -> list[dict[str, Any]]:
        """LOAD_STAGES=after: the stages of every handshake answered so far, read by the
        bridge once those in flight have answered."""
        answer = self._ask(
            {"command": "stages"}, CALL_TIMEOUT_S + STAGE_READ_ALLOWANCE_S * self._calls
        )
        found: list[dict[str, Any]] = answer.get("stages") or []
        return found

    def _ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        request_id = next(self._ids)
        waiter = AsyncResult()
        self._waiting[request_id] = waiter
        assert self._proc.stdin is not None
        self._proc.stdin.write((json.dumps({"id": request_id, **request}) + "\n").encode())
        self._proc.stdin.flush()
        answer: dict[str, Any] = waiter.get(timeout=timeout_s)
        return answer

    def close(self) -> None:
        """EOF lets the bridge finish what is in flight and tear its stack down."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        timeout = CALL_TIMEOUT_S
        if STAGES_AFTER:
            timeout += STAGE_READ_ALLOWANCE_S * self._calls
        try:
            self._proc.wait(timeout=timeout)
        except gsubprocess.TimeoutExpired:
            self._proc.kill()  # our own child, by its handle
            self._proc.wait()
        self._log.close()


_bridge: Bridge | None = None
_bridge_lock = Semaphore()


def bridge(environment: Environment) -> Bridge:
    global _bridge
    with _bridge_lock:
        if _bridge is None:
            env = _bridge_env(environment)
            env.setdefault("LOAD_SAMPLES", str(OUT / f"samples-{os.getpid()}.jsonl"))
            _bridge = Bridge(env)
            _bridge.ready()
    return _bridge


@events.init.add_listener
def _start_bridge(environment: Environment, **_: Any) -> None:
    # Before the run starts, not in the first user's on_start: Locust's run time counts
    # from the first user's spawn, so a bridge still starting (a Python process, its
    # Temporal client) would spend a short run's window, on a busy machine all of it.
    # A master runs no users, so it needs no bridge.
    if not isinstance(environment.runner, MasterRunner):
        bridge(environment)


@events.test_stop.add_listener
def _stages_after(environment: Environment, **_: Any) -> None:
    # LOAD_STAGES=after: the bridge read no history during the load; now it reads them
    # all, and Locust's statistics get each handshake's ack and overhead as with inline.
    if not STAGES_AFTER or _bridge is None:
        return
    try:
        stages = _bridge.stages()
    except (Exception, gevent.Timeout) as err:
        # The runner's figures say what is missing (no overhead sample); Locust's stop
        # must go on to its report and to closing the bridge.
        print(f"locust: the bridge read no stages after the load: {err!r}", file=sys.stderr)
        return
    for found in stages:
        # As inline: the stages of the handshakes Locust counted, not of those whose
        # user the stop cut off (the runner's figures have every one).
        if found.get("id") in _bridge.answered:
            _report_stages(environment, found)
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        # Locust rewrites its CSV once a second and may exit within that second of
        # this stop: the final file must have them too (the HTML report is written
        # after this, from the same statistics).
        with open(f"{prefix}_stats.csv", "w", newline="") as file:
            StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(file))


def _report_stages(environment: Environment, answer: dict[str, Any]) -> None:
    """A handshake's ack and overhead, where it has them, as Locust requests."""
    for stage in ("ack", "overhead"):
        value = answer.get(f"{stage}_ms")
        if value is not None:
            environment.events.request.fire(
                request_type="handshake",
                name=stage,
                response_time=float(value),
                response_length=0,
                exception=None,
                context={},
            )


@events.quitting.add_listener
def _close_bridge(**_: Any) -> None:
    if _bridge is not None:
        _bridge.close()


_sequence = itertools.count()
_users = itertools.count()


class HandshakeUser(User):
    """Closed loop: one handshake at a time per user (LOAD_THINK_S between them)."""

    _think = constant(THINK_S)
    _next_at = 0.0  # with LOAD_RATE_PER_S: when this user's next handshake is due

    def wait_time(self) -> float:
        if RATE_PER_S <= 0:
            return float(self._think())
        # A fixed grid per user (a slow handshake delays the next, no catch-up burst).
        self._next_at = max(self._next_at + USERS / RATE_PER_S, time.monotonic())
        return self._next_at - time.monotonic()

    def on_start(self) -> None:
        bridge(self.environment)
        # Every user waited for the one bridge and would start in step, and with a
        # fixed think time stay in step: bursts of LOAD_USERS handshakes at once, the
        # first of them on cold services, the slowest of a run (they set a short run's
        # p99). Each user takes its own phase of the period instead, so that handshakes
        # arrive evenly (pacing, not synchronisation).
        slot = next(_users) % USERS
        if RATE_PER_S > 0:
            self._next_at = time.monotonic() + slot / RATE_PER_S
            gevent.sleep(self._next_at - time.monotonic())
        elif THINK_S > 0:
            gevent.sleep(slot * THINK_S / USERS)

    @task
    def handshake(self) -> None:
        n = next(_sequence)
        p = plan(
            call_agent(
                "agent",
                succeeds(n, work_s=AGENT_WORK_S),
                heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S or None,
            )
        )
        answer = bridge(self.environment).call({"plan": p, "expect": n})
        fire = self.environment.events.request.fire
        e2e = float(answer.get("e2e_ms") or 0.0)
        failure = None if answer.get("ok") else RuntimeError(answer.get("error") or "failed")
        fire(
            request_type="handshake",
            name="end_to_end",
            response_time=e2e,
            response_length=0,
            exception=failure,
            context={},
        )
        _report_stages(self.environment, answer)
