"""The pytest face of the harness: options, markers, fixtures, failure reports.

Thin on purpose (pytest-httpserver style): fixtures hand out engine objects;
everything else lives in the engine modules.

Fixture chain: handshake_config -> stacks (one per session / xdist worker: each kind
of stack started once) -> stack (the kind the test's ``@pytest.mark.stack`` asks for)
-> driver, with history (one per test); network and tamper on a chaos stack.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import pathlib
import random
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from typing import Any, get_args

import pytest
import pytest_asyncio

from harness import contract, schedule, setting_names, settings, tls
from harness.config import (
    DEFAULT_READY_TIMEOUT_S,
    Services,
    StackConfig,
    add_service_options,
    configured_payload_limit,
    configured_ready_timeout_s,
    local_servers,
    resolve_services,
)
from harness.drive.driver import Driver
from harness.errors import SETUP_ERRORS, ConfigError, ExitCode, exit_code_of
from harness.faults import matrix as fault_matrix
from harness.judge import after_scenario, reach
from harness.judge.expect import violated_checkers
from harness.links.network import Network
from harness.links.tamper import TokenTamper
from harness.measure import durations
from harness.observe.history import History
from harness.report import records
from harness.report.ledger import Ledger
from harness.report.model import ObservedAspect
from harness.servers import programs
from harness.stack import deployed
from harness.stack.pool import StackKind, StackPool
from harness.stack.stack import Stack
from harness.target import needs as target_needs
from harness.target import profile as target_profile
from harness.target.hooks import HookRunner
from harness.target.profile import Profile

# "not certified: ..." at the end of a run, for checks left without their evidence.
pytest_plugins = ["harness.pytest_not_certified"]

HISTORY_KEY = pytest.StashKey[History]()
SEED_KEY = pytest.StashKey[int]()
WORKER_SEED = "handshake_chaos_seed"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Options, then HANDSHAKE_* variables, then TEMPORAL_* ones, then [tool.handshake] /
    # handshake.toml (harness.settings).
    try:
        ENV = settings.environ()
    except ConfigError as err:
        # A bad config file must stop the run (exit 2, one line), never fall back to
        # the reference services; pytest passes a UsageError from here through.
        raise pytest.UsageError(str(err)) from None
    group = parser.getgroup(
        "handshake",
        "token handshake harness (each option also HANDSHAKE_<NAME> in the environment or "
        "<name> in [tool.handshake] of pyproject.toml / handshake.toml)",
    )
    # The Temporal target and namespace, declared once for every command (the registry).
    setting_names.add_options(
        group.addoption, ENV, "gate", "HANDSHAKE_TEMPORAL", "HANDSHAKE_NAMESPACE"
    )
    # TLS and authentication towards a --temporal cluster (harness/tls.py).
    tls.add_options(group.addoption, ENV)
    add_service_options(group.addoption, ENV)
    setting_names.add_options(group.addoption, ENV, "gate", "HANDSHAKE_CALL_TIMEOUT_S")
    # Default None, not the environment's: the stack fixture falls back to
    # configured_ready_timeout_s(settings.environ()), which also checks the value.
    setting_names.add_options(
        group.addoption,
        ENV,
        "gate",
        "HANDSHAKE_READY_TIMEOUT_S",
        notes={"HANDSHAKE_READY_TIMEOUT_S": f"default {DEFAULT_READY_TIMEOUT_S:g}"},
        from_env=False,
    )
    setting_names.add_options(
        group.addoption,
        ENV,
        "gate",
        "HANDSHAKE_CHAOS_SEED",
        "HANDSHAKE_FAULT_MATRIX",
        "HANDSHAKE_OUT",
        "HANDSHAKE_CONTRACT_NAMES",
        # Shared with certify.
        "HANDSHAKE_REPEAT",
        "HANDSHAKE_TARGET",
        "HANDSHAKE_RUN_ID",
        "HANDSHAKE_RESULTS",
        "HANDSHAKE_DURATIONS_JSON",
    )


def _register_hypothesis_profiles() -> None:
    """ "gate": few examples, derandomized (the same verdict every run, in CI);
    "nightly": many, random; "mutant": the gate's, without shrinking.
    HANDSHAKE_HYPOTHESIS_PROFILE selects (default gate)."""
    from hypothesis import HealthCheck, Phase, settings

    quiet = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    settings.register_profile(
        "gate",
        max_examples=25,
        derandomize=True,
        database=None,
        print_blob=True,
        deadline=None,
        suppress_health_check=quiet,
    )
    settings.register_profile(
        "nightly", max_examples=500, print_blob=True, deadline=None, suppress_health_check=quiet
    )
    # Mutant runs only ask "does the spec fail?": no shrinking, which on a live stack
    # against a service that hangs costs a bounded wait per shrink step.
    settings.register_profile(
        "mutant",
        settings.get_profile("gate"),
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
    )


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """The harness's profile for a run of its shipped scenarios, or where one is asked
    for by name: the plugin is loaded into every pytest run of the environment it is
    installed in, and a team's own Hypothesis tests keep the settings they chose.
    Loaded at configure time, before collection: a test's own ``@settings`` takes its
    parent from the profile loaded when the module is imported."""
    from harness import settings as harness_settings
    from harness.drive import strategies

    asked = harness_settings.environ().get("HANDSHAKE_HYPOTHESIS_PROFILE")
    spec = importlib.util.find_spec("scenarios")
    shipped = (
        pathlib.Path(spec.origin).parent.resolve()
        if spec is not None and spec.origin is not None
        else None
    )
    ours = shipped is not None and any(
        shipped in (here := pathlib.Path(arg.split("::")[0]).resolve(), *here.parents)
        or here == shipped
        for arg in config.args
    )
    if asked or ours:
        from hypothesis import settings

        profile = asked or "gate"
        settings.load_profile(profile)
        strategies.use_profile(profile)  # the specs' live() sizes come from it too


def services(config: pytest.Config) -> Services:
    """The services under test: ``--pairing``, or the command lines (harness.config)."""
    return resolve_services(
        config.getoption("--pairing"),
        config.getoption("--zigflow-cmd"),
        config.getoption("--stigma-cmd"),
        config.getoption("--zigflow-level"),
    )


PROFILE_KEY = pytest.StashKey[Profile]()
RUNNER_KEY = pytest.StashKey[HookRunner]()
# node id -> {"missing": [needs], "local_only": bool}: why it is not run on the target
OFF_TARGET_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()


def _configure_target(config: pytest.Config) -> None:
    """``--target NAME``: the profile, the run's id and its hook runner, once."""
    name = config.getoption("--target", None)
    if not name:
        return
    try:
        profile = target_profile.load(name)
    except ConfigError as err:
        raise pytest.UsageError(f"handshake: {err}") from None
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            f"handshake: --target {name} runs one scenario at a time (its faults act on "
            "shared deployed services): drop -n"
        )
    run_id = config.getoption("--run-id") or f"cert-{uuid.uuid4().hex[:8]}"
    config.option.run_id = run_id
    config.stash[PROFILE_KEY] = profile
    config.stash[RUNNER_KEY] = HookRunner(profile, run_id=run_id)
    contract.configure(profile.contract_overrides())


def target_of(config: pytest.Config) -> Profile | None:
    """The deployed target's profile (``--target``), or None for the harness's own stack."""
    return config.stash.get(PROFILE_KEY, None)


# Set per process in pytest_configure: PYTEST_XDIST_WORKER is inherited by the child
# pytest runs a worker's tests start, which are not workers themselves.
_IS_WORKER = False
_RESULTS: pathlib.Path | None = None  # --handshake-results, for the setup abort's file


def pytest_configure(config: pytest.Config) -> None:
    global _IS_WORKER, _RESULTS
    _IS_WORKER = hasattr(config, "workerinput")
    results = config.getoption("--handshake-results", None)
    _RESULTS = pathlib.Path(results) if results else None
    if config.getoption("--pairing", None) and not config.getoption("--target", None):
        try:  # once, before anything runs: a missing binary names its make target
            services(config)
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from err
    _register_hypothesis_profiles()
    _load_hypothesis_profile(config)
    contract.configure(config.getoption("--contract-name"))
    _configure_target(config)
    config.addinivalue_line("markers", "scenario: a given/when/then spec run against a live stack")
    config.addinivalue_line("markers", "unit: a test of one component with fakes, no servers")
    config.addinivalue_line(
        "markers",
        "stack(real_clock=False, chaos=False): the stack a scenario runs on: a real Temporal "
        "server, links through Toxiproxy and the harness's relays (harness.stack.pool)",
    )
    config.addinivalue_line(
        "markers",
        "fault_matrix: parametrized over harness.faults.matrix cells (argument 'cell'); "
        "--fault-matrix selects which run",
    )
    config.addinivalue_line(
        "markers",
        "slow(seconds): about how long the spec takes in wall time by design (its comments "
        "say why); under xdist the longest start first, so the workers finish together",
    )
    config.addinivalue_line(
        "markers",
        "server_kinds_differ(*aspects, why): what this scenario observes differs between "
        "server kinds by design (aspects: outcome, calls, checks, tokens, retries); the "
        "report marks such a difference expected, with the reason",
    )
    try:
        fault_matrix.select(config.getoption("--fault-matrix"), 0)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from None
    if not hasattr(config, "workerinput") and not config.getoption("--help", False):
        if target_of(config) is None:
            _validate_options(config)
            _preflight_tls(config)
        results = config.getoption("--handshake-results")
        if results:
            config.pluginmanager.register(LedgerKeeper(pathlib.Path(results)), "handshake-ledger")
        timed = config.getoption("--durations-json")
        if timed:
            workers = durations.workers_of(getattr(config.option, "numprocesses", None))
            keeper = durations.DurationsKeeper(pathlib.Path(timed), workers)
            config.pluginmanager.register(keeper, "handshake-durations")


def _validate_options(config: pytest.Config) -> None:
    """A bad --temporal, --zigflow-level, --ready-timeout or TLS combination is a usage
    error of the run, once, before any stack starts (not a setup error of every test)."""
    try:
        StackConfig(
            temporal=config.getoption("--temporal"),
            zigflow_level=config.getoption("--zigflow-level") or "workflow",
            connection=tls.from_options(config.option),
            ready_timeout_s=_ready_timeout(config),
        ).validate()
    except ConfigError as err:
        raise pytest.UsageError(f"handshake: {err}") from None


def _preflight_tls(config: pytest.Config) -> None:
    """A TLS problem (wrong CA, name or client certificate) ends the run at once with
    pytest's usage error (4; ``handshake gate``: 2) and ``tls.TLS_FAILED`` in the
    message, before any stack starts; other connection problems are left to the stacks,
    which wait for a cluster to come up (a refused loopback address: at once)."""
    connection = tls.from_options(config.option)
    address = config.getoption("--temporal")
    if not connection.uses_tls:
        return
    try:
        StackConfig(temporal=address, connection=connection).validate()
        tls.probe(address, connection)
    except ConfigError as err:  # TLSConnectError too
        raise pytest.UsageError(f"handshake: {err}") from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker uses the controller's seed, so the seed in the header
    replays the whole run and every worker selects the same matrix cells."""
    node.workerinput[WORKER_SEED] = session_seed(node.config)


def _off_target(config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """On a deployed target: the scenarios it cannot serve, each with what it lacks
    (``harness.target.needs``). Not skipped: deselected, and listed (in the results
    directory for certify, in the terminal summary) as not certified on the target."""
    profile = target_of(config)
    if profile is None:
        return []
    assessed = {a.test: a for a in target_needs.assess(target_needs.provided(profile))}
    off: dict[str, dict[str, Any]] = {}
    dropped = []
    for item in items:
        if item.get_closest_marker("scenario") is None:
            continue
        key = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        found = assessed.get(key)
        if found is None:
            off[item.nodeid] = {"missing": ["declared needs"], "local_only": False}
        elif not found.runs:
            off[item.nodeid] = {"missing": found.missing, "local_only": found.local_only}
        else:
            continue
        dropped.append(item)
    config.stash[OFF_TARGET_KEY] = off
    results = config.getoption("--handshake-results")
    if results and not hasattr(config, "workerinput"):
        records.write_off_target(pathlib.Path(results), off)
    return dropped


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        kinds_differ(item)  # a server_kinds_differ mark without its reason: a usage error
        try:  # a wrong marker is the spec's mistake: named once, before any stack starts
            stack_kind(item)
        except ConfigError as err:
            raise pytest.UsageError(f"{item.nodeid}: {err}") from None
    off = _off_target(config, items)
    if off:
        config.hook.pytest_deselected(items=off)
        items[:] = [item for item in items if item not in off]
    chosen = fault_matrix.select(config.getoption("--fault-matrix"), session_seed(config))
    # A cell named on the command line (a reproduce command) runs whatever the slice.
    named = {arg.replace(os.sep, "/") for arg in config.args}
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        cell = callspec.params.get("cell") if callspec is not None else None
        if (
            item.get_closest_marker("fault_matrix") is None
            or cell in chosen
            or item.nodeid in named
        ):
            keep.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    if hasattr(config, "workerinput"):
        # Costliest first, so no worker is left with a long spec when the others are
        # done. Every worker sorts the same collection the same way, as xdist requires.
        schedule.costliest_first(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist: hand the sorted scenarios out one at a time (``harness.schedule``)."""
    return schedule.make_scheduler(config, log)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    repeat = int(metafunc.config.getoption("--repeat"))
    if repeat > 1:
        metafunc.fixturenames.append("handshake_repeat")
        metafunc.parametrize("handshake_repeat", range(1, repeat + 1), ids=lambda i: f"run{i}")


@pytest.fixture
def handshake_repeat() -> int:
    """Which of the ``--repeat`` runs this is (1 without ``--repeat``)."""
    return 1


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def handshake_config(pytestconfig: pytest.Config) -> StackConfig:
    profile = target_of(pytestconfig)
    # The cluster's payload limit, which the harness cannot read from it.
    payload_limit = configured_payload_limit(settings.environ())
    if profile is not None:
        return dataclasses.replace(deployed.config_of(profile), payload_limit_bytes=payload_limit)
    out = pathlib.Path(pytestconfig.getoption("--handshake-out"))
    chosen = services(pytestconfig)
    cfg = StackConfig(
        temporal=pytestconfig.getoption("--temporal"),
        namespace=pytestconfig.getoption("--namespace"),
        zigflow_cmd=chosen.zigflow_cmd,
        stigma_cmd=chosen.stigma_cmd,
        log_dir=out / "logs",
        # The gate sees each ACK pass through its own relay (the kill-after-ACK specs).
        relay=True,
        zigflow_level=chosen.zigflow_level,
        connection=tls.from_options(pytestconfig.option),
        ready_timeout_s=_ready_timeout(pytestconfig),
        servers=local_servers(settings.environ()),
        payload_limit_bytes=payload_limit,
    )
    cfg.validate()
    return cfg


def _ready_timeout(config: pytest.Config) -> float:
    """The option, else the setting (the environment, then the config file), which
    every other command's stacks read too."""
    given = config.getoption("--ready-timeout")
    if given is None:
        return configured_ready_timeout_s(settings.environ())
    if not float(given) > 0:
        raise ConfigError(f"--ready-timeout={given}: give seconds above 0")
    return float(given)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def deployment(pytestconfig: pytest.Config) -> AsyncIterator[Stack | None]:
    """The deployed target's services as a stack (``--target``), or None. Every kind of
    stack a scenario asks for is this one on a target: there is one set of services."""
    profile = target_of(pytestconfig)
    if profile is None:
        yield None
        return
    out = pathlib.Path(pytestconfig.getoption("--handshake-out"))
    runner = pytestconfig.stash[RUNNER_KEY]
    async with deployed.deployed_stack(profile, runner, out / "logs") as running:
        yield running


def stack_kind(item: pytest.Item) -> StackKind:
    """What the test's ``@pytest.mark.stack(...)`` asks of its stack (the default: the
    session's own stack, no marker needed); checked at collection."""
    marker = item.get_closest_marker("stack")
    return StackKind() if marker is None else StackKind.of(marker.args, marker.kwargs)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stacks(
    handshake_config: StackConfig, deployment: Stack | None
) -> AsyncIterator[StackPool]:
    """Every kind of stack the session's tests ask for, each started once (per xdist
    worker) when first asked for, all torn down at the end."""
    run_id = f"{_worker()}-{os.getpid()}"
    async with StackPool(handshake_config, run_id, deployment) as pool:
        yield pool


@pytest_asyncio.fixture(loop_scope="session")
async def stack(request: pytest.FixtureRequest, stacks: StackPool) -> AsyncIterator[Stack]:
    """The live stack of the kind the test's marker asks for, shared by every test of
    that kind: ``@pytest.mark.stack(real_clock=True)`` a real Temporal server (process
    deaths: the time-skipping server does not redeliver a workflow task parked on a
    SIGKILLed worker's sticky queue), ``@pytest.mark.stack(chaos=True)`` every link
    through Toxiproxy and the harness's relays (``network``, ``tamper``); both may be
    asked for. On a deployed target (``--target``): the deployment, whatever the kind."""
    try:
        running = await stacks.get(stack_kind(request.node))
    except SETUP_ERRORS as err:
        # Started once for the session: no later test of its kind could run either.
        setattr(err, SETUP_ABORT, True)
        raise
    yield running
    # Once this process's first test on a stack is over, the other stacks it will need
    # start in the background while the next tests run (once a session: later calls do
    # nothing). Not sooner: a run's first seconds are its busiest (every worker starting
    # its first stack), and a start begun then slowed the other worker's (seen: 1.5 s
    # to 3.5 s).
    stacks.prestart(kinds_ahead(request.session.items))


def kinds_ahead(items: Sequence[pytest.Item]) -> list[StackKind]:
    """The stack kinds the session's tests ask for, in the order their first test comes
    (the run's order: under xdist, costliest first), each only if enough tests ask for
    it that this process is all but sure to run one: under xdist a worker runs the
    tests dealt to it, so a kind a test or two ask for may never come its way, and a
    stack started for nothing costs the machine a stack's start and memory."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    counts: dict[StackKind, int] = {}
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            kind = stack_kind(item)
            counts[kind] = counts.get(kind, 0) + 1
    return [kind for kind, n in counts.items() if n >= 2 * workers or workers == 1]


def _chaos_stack(request: pytest.FixtureRequest, stack: Stack, fixture: str) -> Stack:
    if not stack_kind(request.node).chaos:
        pytest.fail(
            f"the {fixture} fixture acts on a stack whose links go through Toxiproxy and the "
            "harness's relays: mark the test @pytest.mark.stack(chaos=True)",
            pytrace=False,
        )
    return stack


@pytest_asyncio.fixture(loop_scope="session")
async def driver(
    request: pytest.FixtureRequest, stack: Stack, history: History, pytestconfig: pytest.Config
) -> AsyncIterator[Driver]:
    """Starts Zigflow plans on ``stack`` and records them; ``driver.clock`` moves time.
    On a chaos stack the test errors if its traffic bypassed the proxies or the relays
    (``harness.judge.reach``): a fault that cannot reach the services proves nothing."""
    made = Driver(stack, history, timeout_s=pytestconfig.getoption("--call-timeout"))
    if not stack_kind(request.node).chaos:
        yield made
        return
    before = await reach.snapshot(stack)
    yield made
    reach.judge(history, before, await reach.snapshot(stack))


@pytest.fixture
def network(request: pytest.FixtureRequest, stack: Stack) -> Network:
    """Faults on the chaos stack's links: ``async with network.down(history, "stigma_grpc")``."""
    chaos = _chaos_stack(request, stack, "network")
    if chaos.network is None:
        pytest.fail("this stack's links go through no Toxiproxy (a target without one)")
    return chaos.network


@pytest.fixture
def tamper(request: pytest.FixtureRequest, stack: Stack) -> Iterator[TokenTamper]:
    """The chaos stack's StartAgent relay; ``tamper.set(transform)``, reset after each test."""
    relay = _chaos_stack(request, stack, "tamper").relay
    if relay is None:
        pytest.fail("this stack has no StartAgent relay (a deployed target's has none)")
    yield relay
    relay.set(None)


@pytest.fixture
def chaos_rng(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> random.Random:
    """A seeded RNG for fault schedules; the seed is printed with every failure and
    ``--chaos-seed N`` replays it (Toxiproxy's own -seed has no effect)."""
    seed = session_seed(pytestconfig)
    request.node.stash[SEED_KEY] = seed
    return random.Random(f"{seed}:{request.node.nodeid}")


def session_seed(config: pytest.Config) -> int:
    """One seed per run (``--chaos-seed`` or random); each test derives its own RNG from
    it and its node id, so replaying the seed replays every schedule of the run."""
    seed = config.stash.get(SEED_KEY, None)
    if seed is None:
        given = getattr(config, "workerinput", {}).get(WORKER_SEED)
        if given is None:
            given = config.getoption("--chaos-seed")
        seed = given if given is not None else random.SystemRandom().randrange(2**32)
        config.stash[SEED_KEY] = seed
    return int(seed)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """First, what this run certifies: the target, each service's command and the
    digest of the program it runs (``harness.servers.programs``), where the settings
    came from; then the seed that replays it."""
    profile = target_of(config)
    if profile is not None:
        return [
            f"handshake: deployed target {profile.name}: temporal {profile.temporal} "
            f"namespace {profile.namespace}, Zigflow at {profile.zigflow_level} level, "
            f"run id {config.getoption('--run-id')} (in every workflow id)",
            "handshake: services: as deployed (not started by the harness; no digest)",
            f"handshake: {settings.sources().describe()}",
            f"handshake: chaos seed {session_seed(config)} (replay: --chaos-seed N)",
        ]
    chosen = services(config)
    lines = [f"handshake: target {config.getoption('--temporal')}, Zigflow at "
             f"{chosen.zigflow_level} level"]  # fmt: skip
    for role, argv in (("zigflow", chosen.zigflow_cmd), ("stigma", chosen.stigma_cmd)):
        ident = programs.identify(shlex.join(argv), version=False)
        digest = f"sha256 {ident.sha256[:16]}" if ident.sha256 else f"no digest: {ident.note}"
        lines.append(f"handshake: {role} {shlex.join(argv)} ({ident.kind}, {digest})")
    return [
        *lines,
        # Where the settings came from (names only: some values are secrets).
        f"handshake: {settings.sources().describe()}",
        f"handshake: chaos seed {session_seed(config)} (replay: --chaos-seed N)",
    ]


@pytest.fixture
def history(request: pytest.FixtureRequest) -> History:
    h = History(request.node.nodeid)
    request.node.stash[HISTORY_KEY] = h
    return h


JUDGE_KEY = pytest.StashKey[after_scenario.Pending]()
AFTER_KEY = pytest.StashKey[str]()  # what the after-scenario checks found, body failed
CALL_REPORT_KEY = pytest.StashKey[pytest.TestReport]()
PHASES_KEY = pytest.StashKey[list[tuple[str, str]]]()  # each report's phases, for the record


@pytest.fixture(autouse=True)
def judged_after_every_scenario(request: pytest.FixtureRequest) -> None:
    """After every scenario's body, whatever it asserted: the checks of
    ``harness.judge.after_scenario`` (relays, token and secret scans, activity options),
    run by ``pytest_runtest_call`` so that a violated one is the test's failure."""
    if request.node.get_closest_marker("scenario") is None:
        return
    item = request.node
    request.node.stash[JUDGE_KEY] = after_scenario.Pending(
        request.getfixturevalue("history"), lambda: _stacks_of(item), time.time()
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    pending = item.stash.get(JUDGE_KEY, None)
    try:
        result = yield
    except BaseException:
        found = pending.beside_failure() if pending is not None else None
        if found is not None:
            item.stash[AFTER_KEY] = found
        raise
    if pending is not None:
        pending.judge()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Where the report's time went (harness.measure.durations): in the scenario's record,
    # and on the report for the run's --durations-json (kept out of JUnit XML otherwise).
    phases = durations.report_property(report.when, report.duration, _worker())
    item.stash.setdefault(PHASES_KEY, []).append(phases)
    if item.config.getoption("--durations-json", None):
        report.user_properties.append(phases)
    abort = _setup_abort(call) if report.when == "setup" else None
    if abort is not None:
        # The run ends on this report (pytest_runtest_logreport); an xdist worker stops
        # taking tests, whose setup would only fail the same way, until the controller
        # shuts it down (without xdist the exit stops the run; shouldstop would print
        # the line a second time).
        report.user_properties.append((SETUP_ABORT, json.dumps(abort)))
        report.longrepr = abort["line"]
        if hasattr(item.config, "workerinput"):
            item.session.shouldstop = abort["line"]
        return report
    h = item.stash.get(HISTORY_KEY, None)
    if report.when == "call" and h is not None:
        seed = item.stash.get(SEED_KEY, None)
        if seed is None and stack_kind(item).chaos and "stack" in _fixture_names(item):
            seed = session_seed(item.config)
        if seed is not None:
            h.measurements["chaos_seed"] = seed
    if report.failed and h is not None:
        path = records.write_history(_out(item), item.nodeid, h)
        report.sections.append(("handshake history", f"written to {path}"))
        after = item.stash.get(AFTER_KEY, None) if report.when == "call" else None
        report.sections += records.failure_sections(
            h, _stacks_of(item), violated_checkers(h), after
        )
    if report.when == "call":
        # Recorded at teardown, once the fixtures have judged too (fault reach).
        item.stash[CALL_REPORT_KEY] = report
    elif report.when == "setup" and report.outcome != "passed":
        _record_result(item, report, h)
    elif report.when == "teardown":
        call_report = item.stash.get(CALL_REPORT_KEY, None)
        if call_report is not None:
            if h is not None:
                written = records.write_history(_out(item), item.nodeid, h)
                report.user_properties.append(("history", str(written)))
            _record_result(item, call_report if report.passed else report, h, call_report)
    return report


# --- Setup failures: the run stops once, before any scenario --------------------------
#
# A session stack that cannot start (a missing binary, a service never SERVING, a
# refused Temporal address) fails the same way for every test that needs it: pytest
# would cache the fixture's error and report it once per test, each wrapped in
# pytest-asyncio's frames. The harness ends the run instead, with the cause in one line
# and the service's log tail, and the exit code of its class (harness.errors).

SETUP_ABORT = "handshake_setup_abort"  # a report's user property (crosses xdist)
# Our classes as pytest exit codes; `handshake gate` maps them back (errors.from_pytest).
# The environment's is pytest's INTERNAL_ERROR, 3 as ours: pytest has no code for setup.
_PYTEST_CODE = {
    ExitCode.USAGE: pytest.ExitCode.USAGE_ERROR,
    ExitCode.ENVIRONMENT: pytest.ExitCode.INTERNAL_ERROR,
}


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Marks a setup error of a session fixture (the stacks, their config): no test
    after it can run either. A function fixture's error stays that test's."""
    try:
        return (yield)
    except SETUP_ERRORS as err:
        if fixturedef.scope == "session":
            setattr(err, SETUP_ABORT, True)
        raise


def _setup_abort(call: pytest.CallInfo[None]) -> dict[str, Any] | None:
    """What ends the run, when ``call`` failed on a marked setup error."""
    err = call.excinfo.value if call.excinfo is not None else None
    if err is None or not getattr(err, SETUP_ABORT, False):
        return None
    first, _, detail = str(err).strip().partition("\n")
    return {
        "line": f"handshake: the stack could not start: {first}",
        "detail": detail,
        "code": int(_PYTEST_CODE.get(exit_code_of(err), pytest.ExitCode.INTERNAL_ERROR)),
    }


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the process that prints the run (the controller under xdist): a setup abort
    ends the session here, before the report is shown as a test's ERROR."""
    found = next((json.loads(str(v)) for k, v in report.user_properties if k == SETUP_ABORT), None)
    if found is None or _IS_WORKER:  # a worker: the controller reports it
        return
    if found["detail"]:
        # The service's log tail, then the cause as the last line on screen.
        print(f"\n{found['detail']}", flush=True)
    if _RESULTS is not None:
        # Certify tells a run that could not set up from one that crashed (pytest's
        # INTERNAL_ERROR too, 3 as ours) by this file, never by the code alone.
        records.write_setup_abort(_RESULTS, found["line"])
    pytest.exit(found["line"], returncode=found["code"])


def _fixture_names(item: pytest.Item) -> tuple[str, ...]:
    """Every fixture the test uses, directly or through another."""
    return tuple(getattr(item, "fixturenames", ()))


def _fixtures(item: pytest.Item) -> dict[str, Any]:
    """The test's fixture values (after its setup)."""
    return dict(getattr(item, "funcargs", {}))


def _out(item: pytest.Item) -> pathlib.Path:
    return pathlib.Path(item.config.getoption("--handshake-out"))


def _stacks_of(item: pytest.Item) -> list[Stack]:
    """The stacks this test ran on (its driver's and its stack), not the session's."""
    return after_scenario.stacks_in(_fixtures(item).values())


def kinds_differ(item: pytest.Item) -> list[dict[str, Any]]:
    """The scenario's declared server-kind differences (``server_kinds_differ`` marks,
    a parameter's own included), for the report's comparison of server kinds."""
    found = []
    for mark in item.iter_markers("server_kinds_differ"):
        aspects = [str(a) for a in mark.args]
        why = str(mark.kwargs.get("why", ""))
        if not aspects or not why or not set(aspects) <= set(get_args(ObservedAspect)):
            raise pytest.UsageError(
                f"{item.nodeid}: server_kinds_differ needs its aspects (of "
                f"{', '.join(get_args(ObservedAspect))}) and why=..."
            )
        found.append({"aspects": aspects, "why": why})
    return found


def _record_result(
    item: pytest.Item,
    report: pytest.TestReport,
    h: History | None,
    call_report: pytest.TestReport | None = None,
) -> None:
    """The scenario's result record, for certify (``--handshake-results``)."""
    results = item.config.getoption("--handshake-results")
    if not results or item.get_closest_marker("scenario") is None:
        return
    used = _fixtures(item).get("driver")
    record = records.scenario_record(
        item.nodeid,
        report.outcome,
        (call_report or report).duration,
        h,
        _stacks_of(item),
        server=used.stack.temporal.kind if isinstance(used, Driver) else None,
        longrepr=str(report.longrepr) if report.failed else "",
        kinds_differ=kinds_differ(item),
        phases_s=durations.merged(p for _, p in item.stash.get(PHASES_KEY, [])),
    )
    records.append_record(pathlib.Path(results), _worker(), record)


class LedgerKeeper:
    """Keeps the run's ``Ledger`` on the controller (the one process every worker's
    reports reach) and writes it into the ``--handshake-results`` directory at the end."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.ledger = Ledger()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.ledger.collect([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.ledger.collect(list(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.ledger.add(report.nodeid, report.when, report.outcome, report.longrepr)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.ledger.exitstatus = int(exitstatus)
        self.ledger.write(self.directory)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On a deployed target: every hook the run invoked (times, exit codes, output
    tails, secrets masked), for the report."""
    runner = session.config.stash.get(RUNNER_KEY, None)
    results = session.config.getoption("--handshake-results")
    if runner is None or not results:
        return
    records.write_hooks(pathlib.Path(results), [r.to_dict() for r in runner.log.runs])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    off = config.stash.get(OFF_TARGET_KEY, None)
    if not off:
        return
    terminalreporter.section(f"not certified on target {config.getoption('--target')}")
    for nodeid, why in sorted(off.items()):
        terminalreporter.write_line(f"{nodeid}: needs {', '.join(why['missing'])}")
