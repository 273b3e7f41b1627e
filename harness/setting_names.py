"""Every setting the harness reads, declared once: its config-file key, environment
variable, type, whether it is a secret, and one line of help.

The config file (``harness.settings``) is checked against this registry, so a
misspelled key is an error naming the nearest valid one instead of a silent fallback
to the reference services. ``tests/unit/test_settings.py`` scans the source and fails
when code reads a ``HANDSHAKE_*`` or ``LOAD_*`` name declared nowhere here.

``add_options`` declares a setting's command-line option from here (its name, help,
type, the variables that set it, its default per command and its deprecated
spellings), so an option shared by several commands is written once; the entry points
still declare the rest of their options themselves.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness import tls

PREFIX = "HANDSHAKE_"
# LOAD_STAGES: when the bridges read the stage timings (harness/load/bridge.py).
STAGE_READS = ("after", "inline")

# What a config-file value may be. "list" is a TOML array (or one comma-separated
# string, the environment's form); "int|str" is a count or a word (--fault-matrix).
Kind = Literal["str", "int", "float", "bool", "list", "int|str"]

KIND_TEXT: dict[Kind, str] = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list of strings or integers, or one comma-separated string",
    "int|str": "an integer or a string",
}


@dataclass(frozen=True)
class Setting:
    env: str  # the environment variable
    kind: Kind
    help: str
    option: str | None = None  # the command-line option that takes it, where one does
    secret: bool = False  # never printed: not in errors, headers or reports
    # False: only the process environment sets it (the config file would be accepted
    # and then ignored: exactly the silent fallback this registry exists to stop).
    in_file: bool = True
    # The names Temporal's CLI and SDKs read for the same thing (temporalio.envconfig):
    # used when the HANDSHAKE_* name is not set (harness.settings.environ).
    temporal_envs: tuple[str, ...] = ()
    # A deprecated spelling: the setting (its variable) it stands for in ``command``,
    # where it still wins over that setting's own name, with a one-line note.
    alias_of: str | None = None
    command: str | None = None
    # The option's default per command ("*": any other), where the registry declares
    # the option (add_options).
    defaults: Mapping[str, str] = field(default_factory=dict, hash=False)
    metavar: str | None = None  # the option's value in --help
    choices: tuple[str, ...] = ()  # the option's only values, where it has a few
    # The option may be given again (action="append"), each time one or more values;
    # the environment's value is the first item, a comma-separated string.
    repeatable: bool = False

    @property
    def name(self) -> str:
        """The config-file key: ``HANDSHAKE_ZIGFLOW_CMD`` -> ``zigflow-cmd``
        (``LOAD_USERS`` -> ``load-users``, which no file may set)."""
        bare = self.env.removeprefix(PREFIX)
        return bare.lower().replace("_", "-")


def _tls_settings() -> tuple[Setting, ...]:
    # harness.tls declares its six settings with their options and help; not copied.
    return tuple(
        Setting(
            s.env,
            "bool" if s.flag else "str",
            s.meaning,
            option=s.option,
            secret=s.secret,
            temporal_envs=s.temporal_envs,
        )
        for s in tls.SETTINGS
    )


SETTINGS: tuple[Setting, ...] = (
    # The target and the services under test (gate, certify, bench, load, up).
    Setting(
        "HANDSHAKE_TEMPORAL",
        "list",
        "Temporal target: time-skipping, dev, or HOST:PORT of a cluster (certify: a "
        "comma-separated list; bench and load: one; load: dev is the local stack)",
        option="--temporal",
        temporal_envs=("TEMPORAL_ADDRESS",),
        defaults={"gate": "time-skipping", "certify": "time-skipping,dev", "bench": "dev"},
    ),
    Setting(
        "HANDSHAKE_NAMESPACE",
        "str",
        "Temporal namespace",
        option="--namespace",
        temporal_envs=("TEMPORAL_NAMESPACE",),
        defaults={"*": "default"},
    ),
    *_tls_settings(),
    Setting(
        "HANDSHAKE_ZIGFLOW_CMD",
        "str",
        "command line of the Zigflow worker under test, placeholders such as "
        "{temporal_address} allowed; default: the Python reference",
        option="--zigflow-cmd",
    ),
    Setting(
        "HANDSHAKE_STIGMA_CMD",
        "str",
        "command line of the Stigma service under test (placeholders allowed); "
        "default: the Python reference",
        option="--stigma-cmd",
    ),
    Setting(
        "HANDSHAKE_PAIRING",
        "str",
        "reference services to run together, ZIGFLOW-STIGMA (e.g. go-java), instead of "
        "--zigflow-cmd / --stigma-cmd. The reference Go Zigflow is only an agent activity, "
        "so its pairings run at activity level; that is the reference's shape, not a rule "
        "for Go: your own Go Zigflow with a workflow runs at workflow level",
        option="--pairing",
    ),
    Setting(
        "HANDSHAKE_ZIGFLOW_LEVEL",
        "str",
        "what of your Zigflow the harness drives: workflow (default, or the pairing's "
        "level): start your Zigflow workflow with a plan; activity: the harness's own "
        "workflow calls your agent activity, so Zigflow needs nothing else",
        option="--zigflow-level",
    ),
    Setting(
        "HANDSHAKE_READY_TIMEOUT_S",
        "float",
        "seconds to wait for a server or service to become ready, or a cluster to accept "
        "clients (a loopback address that refuses connections fails at once)",
        option="--ready-timeout",
    ),
    # The gate (pytest plugin).
    Setting(
        "HANDSHAKE_CALL_TIMEOUT_S",
        "float",
        "seconds the driver waits for one call's outcome before recording it as unknown, "
        "and for its Stigma executions to close before reading their record",
        option="--call-timeout",
        defaults={"gate": "60"},
    ),
    Setting(
        "HANDSHAKE_CHAOS_SEED",
        "int",
        "seed of the fault schedules; printed with every failure",
        option="--chaos-seed",
    ),
    Setting(
        "HANDSHAKE_FAULT_MATRIX",
        "int|str",
        "cells of the toxic x link x direction matrix to run: N drawn from the chaos seed "
        "(the gate's default: 3), toxics (every toxic on every link: certify's default) or "
        "full (both directions too)",
        option="--fault-matrix",
        defaults={"gate": "3", "certify": "toxics"},
        metavar="N|toxics|full",
    ),
    Setting(
        "HANDSHAKE_OUT",
        "str",
        "where the gate writes logs, histories and results",
        option="--handshake-out",
        defaults={"gate": "reports/out"},
    ),
    Setting(
        "HANDSHAKE_CONTRACT_NAMES",
        "list",
        "rename a contract name your services use, e.g. "
        "zigflow_agent_activity=ExecuteAgent (docs/reference/contract.md)",
        option="--contract-name",
        metavar="KEY=VALUE",
        repeatable=True,
    ),
    Setting(
        "HANDSHAKE_REPEAT",
        "int",
        "run each selected scenario N times on the same stacks, to hunt flakiness (never a "
        "rerun of what failed: each run counts; certify's report gives each flake rate)",
        option="--repeat",
        defaults={"*": "1"},
    ),
    Setting(
        "HANDSHAKE_DURATIONS_JSON",
        "str",
        "write where the run's time went, per test and phase (stack start, waits on real "
        "time, judging, teardown), to this JSON; make bench-page renders it",
        option="--durations-json",
        metavar="PATH",
    ),
    Setting(
        "HANDSHAKE_RESULTS",
        "str",
        "directory for per-test result records (set by certify for its gate runs)",
        option="--handshake-results",
    ),
    Setting(
        "HANDSHAKE_TARGET",
        "str",
        "a deployed target: certify the services the profile [targets.NAME] of the config "
        "file describes instead of services the harness starts "
        "(docs/how-to/certify-staging.md); scenarios it cannot serve are listed as not "
        "certified on it, never run",
        option="--target",
        metavar="NAME",
    ),
    Setting(
        "HANDSHAKE_RUN_ID",
        "str",
        "the run's id, in every workflow id and hook placeholder on a deployed target "
        "(default: new)",
        option="--run-id",
    ),
    # Certify.
    Setting(
        "HANDSHAKE_TARGETS",
        "list",
        "deprecated: certify's temporal (time-skipping, dev, HOST:PORT)",
        option="--targets",
        alias_of="HANDSHAKE_TEMPORAL",
        command="certify",
    ),
    Setting(
        "HANDSHAKE_WORKERS",
        "int",
        "pytest-xdist workers per certify target (default 2: the scenarios mostly wait on "
        "servers and timers; the judged latency is the budget run's, measured after every "
        "gate has ended, so parallel stacks only inflate the scenarios' informative figures)",
        option="--workers",
        defaults={"certify": "2"},
    ),
    Setting(
        "HANDSHAKE_CERTIFY_PARALLEL_GATES",
        "int",
        "how many gates (child pytest runs, each with --workers stacks) certify runs at "
        "once (default 2: the gates judge no latency and mostly wait on real time); each "
        "writes its output to gate-LABEL.log in the run's directory. The budget runs still "
        "start only after every gate has ended, one at a time, alone on the machine. 1: one "
        "gate after another",
        option="--parallel-gates",
        defaults={"certify": "2"},
    ),
    Setting(
        "HANDSHAKE_PAIRINGS",
        "list",
        "comma-separated reference pairings to certify, the first with the whole matrix; "
        "default: every one whose programs are built, python-python first (under CI=true "
        "all four must be)",
        option="--pairings",
    ),
    Setting(
        "HANDSHAKE_CERTIFY_PAIRING_BENCH_LEVELS",
        "list",
        "agents in flight of the other pairings' budget runs, open loop",
        option="--pairing-bench-levels",
        defaults={"certify": "10,100"},
    ),
    Setting(
        "HANDSHAKE_CERTIFY_BENCH_LEVELS",
        "list",
        "agents in flight certify's budget run measures, closed and open loop",
        option="--bench-levels",
        defaults={"certify": "1,10,100,1000"},
    ),
    Setting(
        "HANDSHAKE_CERTIFY_BENCH_ARGS",
        "str",
        "more options for certify's budget run, e.g. '--duration 10 --rate 5' "
        "(python -m harness.measure.bench --help)",
        option="--bench-args",
        defaults={"certify": ""},
    ),
    Setting(
        "HANDSHAKE_BENCH_JSON",
        "str",
        "judge the budget on figures measured earlier (e.g. a full `make bench`: "
        "reports/out/bench/bench.json) instead of measuring it in this run",
        option="--bench-json",
    ),
    # Bench.
    Setting(
        "HANDSHAKE_BENCH_TEMPORAL",
        "str",
        "deprecated: the bench's temporal (default dev)",
        alias_of="HANDSHAKE_TEMPORAL",
        command="bench",
    ),
    # The servers the harness starts and the Hypothesis profile: read by the entry
    # points (harness.config.local_servers, the pytest plugin) and handed down.
    Setting(
        "HANDSHAKE_HYPOTHESIS_PROFILE",
        "str",
        "Hypothesis profile of the property-based specs: gate or nightly",
    ),
    Setting(
        "HANDSHAKE_TOXIPROXY_URL",
        "str",
        "an external Toxiproxy server instead of starting one",
    ),
    Setting(
        "HANDSHAKE_DEV_STOCK",
        "bool",
        "1: the embedded dev server as it ships, without the harness's settings",
    ),
    Setting(
        "HANDSHAKE_DEV_DYNAMIC_CONFIG",
        "list",
        "more dynamic-config settings of the embedded dev server, key=value",
    ),
    Setting(
        "HANDSHAKE_PAYLOAD_LIMIT_BYTES",
        "int",
        "the payload limit of the cluster under test (its limit.blobSize.error), in bytes; "
        "default Temporal's 2097152. The blob-limit scenarios size their payloads from it "
        "and the services started by the harness are told it (STIGMA_MAX_PAYLOAD_BYTES)",
    ),
    Setting(
        "HANDSHAKE_DEV_EPHEMERAL",
        "bool",
        "1: the embedded dev server keeps its database in memory",
    ),
    # Load runs (harness/load/): `handshake load` resolves these through every layer
    # (a file key is the name in lower case: load-users) and passes them to its Locust
    # processes in their environment; "set by the runner" ones are that passing only.
    Setting("LOAD_USERS", "int", "simulated users", option="--users", defaults={"load": "5"}),
    Setting(
        "LOAD_SPAWN_RATE",
        "float",
        "users started per second",
        option="--spawn-rate",
        defaults={"load": "5"},
    ),
    Setting(
        "LOAD_DURATION",
        "str",
        "run time, e.g. 30s, 10m, 1h (Locust's syntax)",
        option="--duration",
        defaults={"load": "60s"},
    ),
    Setting(
        "LOAD_SHAPE",
        "str",
        "load shape: step, spike or soak; empty: constant users",
        option="--shape",
        defaults={"load": ""},
        choices=("", "step", "spike", "soak"),
    ),
    Setting(
        "LOAD_WORKERS",
        "int",
        "distributed mode: a Locust master and this many local workers",
        option="--workers",
        defaults={"load": "0"},
    ),
    Setting(
        "LOAD_RATE_PER_S",
        "float",
        "steady handshakes/s for the whole run, spread over --users; 0: each user waits "
        "LOAD_THINK_S between handshakes",
        option="--rate",
        defaults={"load": "0"},
    ),
    Setting(
        "LOAD_RUN_ID",
        "str",
        "put this id in every workflow id: load-RUN_ID-UUID",
        option="--run-id",
        defaults={"load": ""},
    ),
    Setting(
        "LOAD_OUT",
        "str",
        "where the load run writes",
        option="--out",
        defaults={"load": "reports/out/load"},
    ),
    # Thresholds: the runner's and, under a plain `locust -f`, Locust's own.
    Setting(
        "LOAD_OVERHEAD_BUDGET_MS",
        "float",
        "fail (exit 1) when the handshake overhead p99 is above this (the plan's budget)",
        option="--overhead-budget-ms",
        defaults={"*": "100"},
    ),
    Setting(
        "LOAD_MAX_ERROR_RATIO",
        "float",
        "fail (exit 1) when more than this fraction of handshakes failed",
        option="--max-error-ratio",
        defaults={"*": "0.01"},
    ),
    Setting(
        "LOAD_ZIGFLOW_TASK_QUEUE",
        "str",
        "task queue of the Zigflow workers under load",
        option="--zigflow-task-queue",
        defaults={"load": "zigflow"},
    ),
    Setting(
        "LOAD_STIGMA_NAMESPACE",
        "str",
        "namespace of Stigma's executions, read for stage timings; default: --namespace",
        option="--stigma-namespace",
        defaults={"load": ""},
    ),
    Setting(
        "LOAD_PLAN_TASK_QUEUE",
        "str",
        "activity level: task queue of the harness's plan workflow, served by the process "
        "that runs the local stack (`python -m harness.load.run` sets it)",
        option="--plan-task-queue",
        defaults={"load": ""},
    ),
    Setting(
        "LOAD_STAGES",
        "str",
        "when a bridge reads each handshake's two histories for its ack and overhead: "
        "`after` the load (the runner judges the samples; the load window's CPU is the "
        "generator's own) or `inline`, as each handshake answers (Locust's own report "
        "then shows ack and overhead; a plain `locust -f` always reads them inline)",
        option="--stages",
        defaults={"load": "after"},
        choices=STAGE_READS,
    ),
    Setting("LOAD_THINK_S", "float", "seconds a user waits between handshakes"),
    Setting("LOAD_STEPS", "int", "steps of the step shape"),
    Setting(
        "LOAD_CALL_TIMEOUT_S",
        "float",
        "seconds a bridge waits for one handshake",
    ),
    Setting("LOAD_AGENT_WORK_S", "float", "set by the runner: each agent's work", in_file=False),
    Setting(
        "LOAD_HEARTBEAT_TIMEOUT_S",
        "float",
        "set by the runner: each agent activity's heartbeat timeout (0: none)",
        in_file=False,
    ),
    Setting("LOAD_LOG_DIR", "str", "set by the runner: the bridges' log directory", in_file=False),
    Setting("LOAD_SAMPLES", "str", "set by the runner: the raw-sample file", in_file=False),
    Setting("LOAD_JUDGED_BY", "str", "set by the runner: who judges the thresholds", in_file=False),
)

BY_ENV = {s.env: s for s in SETTINGS}
# Knobs of the project's own test suite (tests/), read nowhere in the harness: accepted
# in the environment, never a harness setting.
TEST_ONLY = frozenset({"HANDSHAKE_SLOW_ACK_RUNS", "HANDSHAKE_TLS_TEST_BIN"})
BY_NAME = {s.name: s for s in SETTINGS}
FILE_NAMES = tuple(s.name for s in SETTINGS if s.in_file)
# The Temporal CLI's names the harness reads, in the order they are tried.
CLI_NAMES = tuple((name, s) for s in SETTINGS for name in s.temporal_envs)
# Temporal CLI names the harness has no setting for: a profile file, inline key
# material, turning host verification off. Named in the run's sources as not read, so
# a user who relies on one sees that it did not carry over.
CLI_NAMES_UNREAD = (
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
)


def lookup(key: str) -> Setting | None:
    """The setting a config-file key names, in either form (``zigflow-cmd``,
    ``zigflow_cmd``); None for an unknown key."""
    return BY_NAME.get(key.lower().replace("_", "-"))


def suggest(key: str) -> str | None:
    """The file key nearest to an unknown ``key``: the one whose option it spells
    (``handshake-out`` -> ``out``), else the closest by spelling."""
    dashed = key.lower().replace("_", "-")
    by_option = [s.name for s in SETTINGS if s.in_file and s.option == f"--{dashed}"]
    if by_option:
        return by_option[0]
    close = difflib.get_close_matches(dashed, FILE_NAMES, n=1)
    return close[0] if close else None


def suggest_env(name: str) -> str | None:
    """The declared variable nearest to an unknown ``HANDSHAKE_*`` name."""
    close = difflib.get_close_matches(name, [s.env for s in SETTINGS], n=1)
    return close[0] if close else None


class Deprecated(argparse.Action):
    """An old spelling of an option (``--targets`` for ``--temporal``): takes the value
    into the new option's ``dest``, says on stderr which to use, and records the
    spelling used (``<dest>_option``) for messages that name it."""

    def __init__(self, *args: Any, use: str, **kwargs: Any) -> None:
        self.use = use
        # Shown, so that a script or page using the old spelling still finds it.
        kwargs.setdefault("help", f"deprecated: use {use}")
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog}: {option_string} is deprecated: use {self.use}", file=sys.stderr)
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_option", option_string)


_TYPES: dict[Kind, Callable[[str], Any]] = {"int": int, "float": float}


def add_options(
    add: Callable[..., Any],
    env: Mapping[str, str],
    command: str,
    *names: str,
    notes: Mapping[str, str] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    from_env: bool = True,
) -> None:
    """Declare the options of the settings ``names`` (their variables) for ``command``
    on an argparse parser or group (``add_argument``) or a pytest group (``addoption``):
    the registry's option, help and type, the default from ``env`` (the resolved
    settings, ``harness.settings.environ()``; the option wins) or else the command's
    default, and the command's deprecated spellings of it. ``notes``: more help, by
    variable, that only the command knows (values it takes from its own modules);
    ``choices``: the only values, by variable, where the command's modules define them.
    ``from_env=False``: the default is None or the command's, never the environment's
    (a command that must tell a given option from the environment, or that resolves
    the environment itself later)."""
    for name in names:
        s = BY_ENV[name]
        if s.option is None:
            raise ValueError(f"{name} has no option")
        dest = s.option[2:].replace("-", "_")
        given = env.get(s.env) if from_env else None
        default = given or s.defaults.get(command, s.defaults.get("*"))
        note = (notes or {}).get(name)
        envs = " or ".join((s.env, *s.temporal_envs))
        kwargs: dict[str, Any] = {
            "dest": dest,
            "default": default,
            "help": f"{s.help}{f'; {note}' if note else ''} "
            + (f"(repeatable; env {envs}, comma-separated)" if s.repeatable else f"(env {envs})"),
        }
        if s.kind in _TYPES:
            kwargs["type"] = _TYPES[s.kind]
            # Converted here: a string default is converted by argparse only when it
            # is used, and the entry points read some defaults before parsing.
            kwargs["default"] = None if default is None else _TYPES[s.kind](default)
        if s.metavar:
            kwargs["metavar"] = s.metavar
        if s.choices:
            kwargs["choices"] = s.choices
        if name in (choices or {}):
            kwargs["choices"] = list((choices or {})[name])
        if s.repeatable:
            kwargs["action"] = "append"
            kwargs["default"] = [default or ""]
        add(s.option, **kwargs)
        for old in SETTINGS:
            if old.alias_of == s.env and old.command == command and old.option:
                add(old.option, dest=dest, action=Deprecated, use=s.option)


def command_parser(
    command: str, prog: str, description: str | None, env: Mapping[str, str]
) -> argparse.ArgumentParser:
    """The parser of a command that runs against a Temporal target (certify, bench): its
    description as written (a module docstring's layout), and the target and namespace
    every such command takes, declared by the registry with ``command``'s defaults."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_options(parser.add_argument, env, command, "HANDSHAKE_TEMPORAL", "HANDSHAKE_NAMESPACE")
    return parser
