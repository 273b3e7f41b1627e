"""``make certify``: run the scenario matrix and write the certification report.

    python -m harness.certify [--temporal time-skipping,dev] [--out reports/out]
                              [--pairings python-python,go-python,...]
                              [--zigflow-cmd CMD] [--stigma-cmd CMD] [-- PYTEST_ARGS]

Each target runs ``pytest scenarios/`` in a child process (so one crashed
stack cannot take the report with it); results are gathered from the
per-test records the pytest plugin writes.

Pairings (harness.config.PAIRINGS): the first runs the whole matrix (every target)
and the budget run at every --bench-levels; each other one runs the gate on the
time-skipping server and its own budget run (--pairing-bench-levels, open loop), so
that certifying four pairings takes minutes more, not four times as long. Custom
--zigflow-cmd / --stigma-cmd are one pairing, "custom". Every gate runs first,
--parallel-gates at once (each with --workers stacks side by side: the gates judge no
latency; each gate's output goes to OUT/latest/gate-LABEL.log), then every budget run,
back to back, alone on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.metadata
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from harness import certify_target, child_runs, cli, contract, setting_names, settings, tls
from harness.config import (
    DEFAULT_PAIRING,
    DEV,
    PAIRINGS,
    TIME_SKIPPING,
    add_service_options,
    pairing,
    resolve_services,
)
from harness.errors import (
    ConfigError,
    ExitCode,
    HarnessError,
    exit_process,
    from_pytest,
    run_main,
)
from harness.judge import corruption
from harness.links import network
from harness.measure.bench import parse_levels
from harness.report import records, report
from harness.report import verdict as judged
from harness.report.model import (
    SCHEMA_VERSION,
    BenchSource,
    CertificationReport,
    ChildRun,
    Corruption,
    Fault,
    FaultCoverage,
    FaultTimeline,
    Machine,
    Manifest,
    PairingSkipped,
    Program,
)
from harness.report.verdict import PairingInput, RawInputs
from harness.servers import procstat, programs
from harness.servers.temporal import target_version

BUDGET_MS = report.BUDGET_MS
# Options whose values never reach the report (the manifest shows them as ***).
SECRET_OPTIONS = frozenset(s.dest for s in tls.SETTINGS if s.secret)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return None
    sha = out.stdout.strip()
    if not sha:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    return sha + ("-dirty" if dirty else "")


def _bench_given(path: pathlib.Path) -> dict[str, Any]:
    """Figures measured earlier (``--bench-json``), read before anything runs."""
    if not path.is_file():
        raise ConfigError(f"--bench-json {path}: no such file (run `make bench` first)")
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except ValueError as err:
        raise ConfigError(f"--bench-json {path}: not JSON ({err})") from err
    return doc


@dataclass(frozen=True)
class Run:
    """One pairing to certify: a preset (``--pairing NAME`` for the children) or the
    custom command lines."""

    name: str
    zigflow: str  # language, or "custom"
    stigma: str
    zigflow_cmd: str  # as the report shows it
    stigma_cmd: str
    zigflow_level: str
    args: tuple[str, ...]  # what selects these services in a child pytest / bench
    zigflow_program: str = ""  # the command line that really runs (for the manifest)
    stigma_program: str = ""

    def label(self, target: str, primary: bool) -> str:
        """The suffix of a scenario id: the target, or (other pairings) pairing:target."""
        return target if primary else f"{self.name}:{target}"


def select_runs(
    names: str | None,
    zigflow_cmd: str | None,
    stigma_cmd: str | None,
    zigflow_level: str | None,
    env: dict[str, str] | None = None,
) -> tuple[list[Run], list[dict[str, str]]]:
    """The pairings to certify, and the presets left out (name, why).

    Custom command lines are one run, "custom". Named pairings must all be built.
    By default every preset whose programs are built, python-python first; one not built
    is left out with the make target that builds it, except under CI=true (an error:
    setup is expected to build them all there)."""
    env = dict(os.environ) if env is None else env
    if zigflow_cmd or stigma_cmd:
        if names:
            raise ConfigError(
                "--pairings names reference services: give it or --zigflow-cmd / "
                "--stigma-cmd (HANDSHAKE_PAIRINGS / HANDSHAKE_*_CMD), not both"
            )
        chosen = resolve_services(None, zigflow_cmd, stigma_cmd, zigflow_level)
        args: list[str] = ["--zigflow-level", chosen.zigflow_level]
        args += ["--zigflow-cmd", zigflow_cmd] if zigflow_cmd else []
        args += ["--stigma-cmd", stigma_cmd] if stigma_cmd else []
        run = Run(
            "custom",
            "custom",
            "custom",
            zigflow_cmd or "reference (python -m reference_services.zigflow)",
            stigma_cmd or "reference (python -m reference_services.stigma)",
            chosen.zigflow_level,
            tuple(args),
            zigflow_cmd or shlex.join(chosen.zigflow_cmd),
            stigma_cmd or shlex.join(chosen.stigma_cmd),
        )
        return [run], []
    skipped: list[dict[str, str]] = []
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        if not wanted:
            raise ConfigError(f"--pairings is empty: name some of {', '.join(PAIRINGS)}")
        presets = [pairing(n, "--pairings") for n in wanted]
    else:
        order = [DEFAULT_PAIRING, *(n for n in PAIRINGS if n != DEFAULT_PAIRING)]
        presets = [PAIRINGS[n] for n in order if not PAIRINGS[n].missing()]
        skipped = [
            {"name": n, "why": "; ".join(PAIRINGS[n].missing())}
            for n in order
            if PAIRINGS[n].missing()
        ]
        if skipped and env.get("CI") == "true":
            raise ConfigError(
                "pairings not built (CI=true: setup is expected to build them all): "
                + "; ".join(f"{p['name']}: {p['why']}" for p in skipped)
            )
        if not presets:
            raise ConfigError("no pairing is built: " + "; ".join(p["why"] for p in skipped))
    runs = []
    for p in presets:
        level = resolve_services(p.name, None, None, zigflow_level).zigflow_level
        runs.append(
            Run(
                p.name,
                p.zigflow.language,
                p.stigma.language,
                shlex.join(p.zigflow.command),
                shlex.join(p.stigma.command),
                level,
                ("--pairing", p.name, "--zigflow-level", level),
                shlex.join(p.zigflow.command),
                shlex.join(p.stigma.command),
            )
        )
    return runs, skipped


def bench_target(targets: list[str]) -> str:
    """Where the budget is measured: a real clock. The first target that is not the
    time-skipping server (whose clock is virtual), else the embedded dev server."""
    return next((t for t in targets if t != TIME_SKIPPING), DEV)


def _bench_measured(
    out: pathlib.Path,
    args: argparse.Namespace,
    target: str,
    run: Run,
    levels: str,
    modes: str = "closed,open",
) -> dict[str, Any] | None:
    """Measure the budget in this run (a child process, like the scenario targets), so
    the verdict never rests on figures from another commit or another day. Writes
    OUT/bench/bench.json (and a copy in OUT)."""
    cmd = [
        sys.executable,
        "-m",
        "harness.measure.bench",
        "--temporal",
        target,
        "--levels",
        levels,
        "--modes",
        modes,
        "--out",
        str(out / "bench"),
        "--label",
        f"make certify ({run.name})",
        *run.args,
    ]
    cmd += shlex.split(args.bench_args)
    print(f"certify: [budget {run.name}] {shlex.join(cmd)}", flush=True)
    code = child_runs.run_to_end(cmd, env=_child_env(target, args))
    if code in (ExitCode.INTERRUPTED, -2):  # bench's own code for Ctrl-C, or killed by it
        raise KeyboardInterrupt
    path = out / "bench" / "bench.json"
    if code != 0 or not path.is_file():
        print(f"certify: [budget] bench exited {code}; see {out / 'bench' / 'logs'}", flush=True)
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    shutil.copyfile(path, out / "bench.json")
    return doc


def _child_env(target: str, args: argparse.Namespace) -> dict[str, str]:
    """The children get the services from their command line alone, the namespace the
    report records, and the TLS settings (by environment: secrets stay off command
    lines) for a cluster target only: the embedded servers speak plain text."""
    drop = ("HANDSHAKE_PAIRING", "HANDSHAKE_ZIGFLOW_CMD", "HANDSHAKE_STIGMA_CMD")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    namespace = getattr(args, "namespace", None)
    if namespace:
        env["HANDSHAKE_NAMESPACE"] = namespace
    connection = tls.from_options(args)
    embedded = target in (TIME_SKIPPING, DEV)
    # Empty values also override a config file's (settings.environ: process wins).
    env.update(tls.Connection().to_env() if embedded else connection.to_env())
    return env


def _fault_timeline(out: pathlib.Path, target: str) -> list[dict[str, Any]]:
    """Start/stop of every fault a scenario ran (network, process, cancel), from the
    recorded histories: seconds since the scenario began."""
    rows = []
    for path in sorted((out / target / "histories").glob("*.json")):
        try:
            h = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        open_at: dict[tuple[str, str], float] = {}
        spans = []
        for f in h.get("faults") or []:
            key = (str(f.get("name")), str(f.get("target")))
            if f.get("phase") == "start":
                open_at[key] = float(f["t"])
            elif key in open_at:
                start = open_at.pop(key)
                spans.append({"name": key[0], "target": key[1], "start_s": start, "stop_s": f["t"]})
            else:  # a stop without a start (e.g. releasing a held agent): an instant
                spans.append(
                    {"name": key[0], "target": key[1], "start_s": f["t"], "stop_s": f["t"]}
                )
        end = max((float(o.get("t", 0.0)) for o in h.get("ops") or []), default=0.0)
        spans += [
            {"name": k[0], "target": k[1], "start_s": t, "stop_s": max(t, end)}
            for k, t in open_at.items()
        ]
        if spans:
            rows.append({"scenario": h.get("name", path.stem), "target": target, "spans": spans})
    return rows


def stop_unless_ran(label: str, code: int, results: pathlib.Path) -> None:
    """A gate that could not run (its stacks never came up, a bad option, Ctrl-C) ends
    certify with the same class at once: the other targets would fail the same way, and
    a report of a run that never ran scenarios would read as a verdict on the services.
    The gate printed the cause in one line above."""
    mapped = from_pytest(code)
    if mapped == ExitCode.INTERRUPTED:
        raise KeyboardInterrupt
    if mapped == ExitCode.USAGE:
        raise ConfigError(f"the gate on {label} stopped on a usage error (above); no report")
    if mapped == ExitCode.ENVIRONMENT and records.setup_aborted(results):
        raise HarnessError(f"the gate on {label} could not set up (above); no report")
    # Any other 3 is pytest's INTERNAL_ERROR (a crash): the run's records say what is
    # missing and the verdict fails on them.


@dataclass(frozen=True)
class Gate:
    """The gate on one target for one pairing: the child pytest certify runs (its
    command line, environment and output file) and where it writes its raw records (the
    verdict is made from them: ``harness.report.verdict``). The first pairing's files are
    where they always were (OUT/<target>, junit-<target>.xml); another's under
    OUT/pairings/<name>/."""

    target: str
    run: Run
    primary: bool
    files: certify_target.GateFiles
    command: list[str]
    env: dict[str, str]

    @property
    def label(self) -> str:
        return self.files.label

    @property
    def log(self) -> pathlib.Path:
        """Its output, beside its JUnit file: OUT/gate-<label>.log."""
        return self.files.out / f"gate-{self.label.replace(':', '-')}.log"

    def child(self) -> child_runs.Child:
        return child_runs.Child(self.label, self.command, self.log, self.env)

    def ran(self, code: int | None) -> ChildRun:
        return self.files.child(self.target, self.run.name, self.primary, self.command, code)


def gate(
    target: str, out: pathlib.Path, args: argparse.Namespace, run: Run, primary: bool = True
) -> Gate:
    label = run.label(target, primary)
    where = out if primary else out / "pairings" / run.name
    files = certify_target.GateFiles(out, label)
    if files.results.exists():
        shutil.rmtree(files.results)
    # The shipped scenarios, wherever certify runs from (checkout or installed).
    cmd = [
        *cli.gate_command([]),
        "--temporal",
        target,
        "-n",
        str(args.workers),
        # The JUnit suite is named by pairing and target: the label.
        *files.options(where / target, label),
        *run.args,
    ]
    if primary:  # every toxic on every link; the other pairings run the gate's slice
        cmd += ["--fault-matrix", args.fault_matrix]
    if args.repeat > 1:
        cmd += ["--repeat", str(args.repeat)]
    cmd += args.pytest_args
    return Gate(target, run, primary, files, cmd, _child_env(target, args))


# The lines of a failed gate's output shown on the console (all of it is in its log).
TAIL_LINES = 40


def run_gates(gates: list[Gate], parallel: int) -> list[tuple[ChildRun, float]]:
    """Every gate, up to ``parallel`` at once (each its own child pytest, so one crashed
    stack cannot take the others or the report with it): how each ended and its wall
    time, in the order given. One line per start and end on the console; each child's
    output goes to its log, whose tail is shown when the child failed. A gate that could
    not run stops certify (``stop_unless_ran``) once the others have been stopped."""
    by_label = {g.label: g for g in gates}

    def started(child: child_runs.Child) -> None:
        print(
            f"certify: [{child.label}] started: {shlex.join(child.argv)}; output in {child.log}",
            flush=True,
        )

    def ended(done: child_runs.Ended) -> None:
        child = done.child
        how = "stopped" if done.stopped else "ended"
        print(
            f"certify: [{child.label}] {how}: exit {done.code} after {done.seconds:.1f} s; "
            f"output in {child.log}",
            flush=True,
        )
        if done.code != 0 and not done.stopped:
            print(_tail(child.log, TAIL_LINES), flush=True)

    def check(done: child_runs.Ended) -> None:
        stop_unless_ran(done.child.label, done.code, by_label[done.child.label].files.results)

    ends = child_runs.run_side_by_side(
        [g.child() for g in gates], parallel, on_start=started, on_end=ended, check=check
    )
    return [(g.ran(e.code), e.seconds) for g, e in zip(gates, ends, strict=True)]


def _tail(log: pathlib.Path, lines: int) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError as err:
        return f"    | (no output: {err})"
    shown = text[-lines:]
    head = [f"    | ... ({len(text) - lines} lines above, in the log)"] if len(text) > lines else []
    return "\n".join([*head, *(f"    | {line}" for line in shown)])


def _meta(run: Run, *, targets: list[str], scope: str, primary: bool, bench_source: str,
          wall_s: float) -> dict[str, Any]:  # fmt: skip
    return {
        "name": run.name,
        "zigflow": run.zigflow,
        "stigma": run.stigma,
        "zigflow_cmd": run.zigflow_cmd,
        "stigma_cmd": run.stigma_cmd,
        "zigflow_level": run.zigflow_level,
        "primary": primary,
        "targets": targets,
        "scope": scope,
        "bench_source": bench_source,
        "wall_s": round(wall_s, 1),
    }


def manifest(
    runs: list[Run], targets: list[str], args: argparse.Namespace, seeds: list[int]
) -> Manifest:
    """Exactly what this run certifies: each service's program and digest, the servers,
    the harness, the contract, the settings (secrets masked)."""
    programs_of = {
        run.name: [
            Program(role=role, **dataclasses.asdict(programs.identify(command)))
            for role, command in (("zigflow", run.zigflow_program), ("stigma", run.stigma_program))
        ]
        for run in runs
    }
    options = {
        k: ("***" if k in SECRET_OPTIONS and v else str(v))
        for k, v in sorted(vars(args).items())
        if v not in (None, "", [], ())
    }
    config_file, environment = _sources()
    return Manifest(
        programs=programs_of,
        harness_version=_version("handshake-harness"),
        harness_commit=_git_sha(),
        contract_digest=contract.digest(),
        temporal={t: target_version(t) for t in targets},
        config_file=str(config_file) if config_file else None,
        environment=environment,
        options=options,
        seeds=seeds,
    )


def _sources() -> tuple[pathlib.Path | None, list[str]]:
    """The config file read (or None) and the variables that set something: the
    HANDSHAKE_* names, then the Temporal CLI's (TEMPORAL_ADDRESS ...) used under them.
    Names only, some hold secrets."""
    found = settings.sources()
    return found.config, [*found.environment, *found.temporal_cli]


def announce(runs: list[Run], targets: list[str]) -> None:
    """First, before anything runs: what this run certifies, and from which settings."""
    print(f"certify: targets {', '.join(targets)}", flush=True)
    for run in runs:
        for role, command in (("zigflow", run.zigflow_program), ("stigma", run.stigma_program)):
            ident = programs.identify(command, version=False)
            digest = ident.sha256[:16] if ident.sha256 else f"no digest ({ident.note})"
            print(f"certify: [{run.name}] {role}: {command}  ->  {ident.kind} {digest}", flush=True)
    # Where the settings came from, as the gate's header says it (names only).
    print(f"certify: {settings.sources().describe()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    # Options, then HANDSHAKE_* variables, then TEMPORAL_* ones, then [tool.handshake] /
    # handshake.toml (harness.settings; HANDSHAKE_TARGETS / targets are certify's old
    # spelling of HANDSHAKE_TEMPORAL / temporal).
    ENV = settings.environ(command="certify")
    # The targets (and the old --targets) and the namespace, as every command declares
    # them: from the registry. The namespace is that of the gate and budget runs,
    # recorded in the report.
    parser = setting_names.command_parser("certify", "python -m harness.certify", __doc__, ENV)
    parser.add_argument(
        "--out", default="reports/out", help="report root; the run goes to OUT/latest"
    )
    setting_names.add_options(
        parser.add_argument, ENV, "certify", "HANDSHAKE_WORKERS", "HANDSHAKE_CERTIFY_PARALLEL_GATES"
    )
    setting_names.add_options(parser.add_argument, ENV, "certify", "HANDSHAKE_FAULT_MATRIX")
    setting_names.add_options(
        parser.add_argument,
        ENV,
        "certify",
        "HANDSHAKE_PAIRINGS",
        "HANDSHAKE_CERTIFY_PAIRING_BENCH_LEVELS",
        notes={
            "HANDSHAKE_PAIRINGS": f"the pairings: {', '.join(PAIRINGS)}",
            "HANDSHAKE_CERTIFY_PAIRING_BENCH_LEVELS": f"must include {report.BUDGET_LEVEL}",
        },
    )
    add_service_options(parser.add_argument, ENV, pairing=False)
    setting_names.add_options(
        parser.add_argument,
        ENV,
        "certify",
        "HANDSHAKE_CERTIFY_BENCH_LEVELS",
        "HANDSHAKE_CERTIFY_BENCH_ARGS",
        "HANDSHAKE_BENCH_JSON",
        notes={
            "HANDSHAKE_CERTIFY_BENCH_LEVELS": f"must include {report.BUDGET_LEVEL}, the level "
            "the budget applies to"
        },
    )
    # TLS towards the HOST:PORT targets (harness/tls.py); the children get it by
    # environment, so no secret is ever on a printed command line.
    tls.add_options(parser.add_argument, ENV)
    setting_names.add_options(parser.add_argument, ENV, "certify", "HANDSHAKE_REPEAT")
    certify_target.add_arguments(parser, ENV)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.target:
        return certify_target.run(args)
    if args.dry_run or args.no_game_day:
        raise ConfigError("--dry-run and --no-game-day go with --target NAME (a deployed target)")
    connection = tls.from_options(args)
    connection.validate()
    targets = [t.strip() for t in args.temporal.split(",") if t.strip()]
    if not targets:
        spelled = getattr(args, "temporal_option", "--temporal")
        raise ConfigError(f"{spelled} is empty: name at least one of time-skipping, dev, HOST:PORT")
    try:
        shlex.split(args.bench_args)
    except ValueError as err:
        raise ConfigError(
            f"--bench-args {args.bench_args!r}: cannot split into words: {err}"
        ) from err
    given = _bench_given(pathlib.Path(args.bench_json)) if args.bench_json else None
    for option, levels in (
        ("--bench-levels", None if given else args.bench_levels),
        ("--pairing-bench-levels", args.pairing_bench_levels),
    ):
        if levels is not None and report.BUDGET_LEVEL not in parse_levels(levels, option):
            raise ConfigError(
                f"{option} {levels!r}: give levels including "
                f"{report.BUDGET_LEVEL} (the budget applies with {report.BUDGET_LEVEL} agents "
                "in flight), e.g. 1,10,100,1000"
            )
    runs, pairings_skipped = select_runs(
        args.pairings, args.zigflow_cmd, args.stigma_cmd, args.zigflow_level
    )
    for p in pairings_skipped:
        print(f"certify: pairing {p['name']} not certified: {p['why']}", flush=True)
    first, others = runs[0], runs[1:]

    if args.repeat < 1:
        raise ConfigError(f"--repeat {args.repeat}: give 1 or more runs per scenario")
    if args.parallel_gates < 1:
        raise ConfigError(
            f"--parallel-gates {args.parallel_gates}: give 1 or more gates at once "
            "(1: one after another)"
        )
    announce(runs, targets)

    started = time.monotonic()
    out = pathlib.Path(args.out) / "latest"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # Every gate first, then every budget run back to back: the budget is judged on a
    # quiet machine, so no bench shares it with a gate's stacks (and the gates, which
    # judge no latency, run --parallel-gates at once, each with --workers stacks side by
    # side). run_gates returns only once every gate child has ended.
    # The first pairing: the whole matrix. The others: the gate on the time-skipping
    # server (its kill scenarios on a dev server, as always), not the matrix again.
    gates = [
        gate(target, out, args, run, primary=run is first)
        for run in runs
        for target in (targets if run is first else [TIME_SKIPPING])
    ]
    ran = run_gates(gates, args.parallel_gates)
    children = [child for child, _ in ran]
    # Each pairing's seconds: its gates' (each child's own wall time, so gates side by
    # side are not counted twice) and its budget run.
    spent = dict.fromkeys((run.name for run in runs), 0.0)
    for g, (_, seconds) in zip(gates, ran, strict=True):
        spent[g.run.name] += seconds
    bench: dict[str, Any] | None
    begun = time.monotonic()
    if given is not None:
        shutil.copyfile(args.bench_json, out / "bench.json")
        bench, bench_source = given, args.bench_json
    else:
        target = bench_target(targets)
        bench = _bench_measured(out, args, target, first, args.bench_levels)
        bench_source = f"measured by this run ({target})"
    spent[first.name] += time.monotonic() - begun
    concurrency = report.rows_of(bench.get("concurrency", []) if bench else [])
    pairing_inputs = [
        PairingInput(
            meta=_meta(
                first,
                targets=targets,
                scope=f"matrix on {', '.join(targets)}",
                primary=True,
                bench_source=bench_source,
                wall_s=spent[first.name],
            ),
            labels=[first.label(t, True) for t in targets],
            concurrency=concurrency,
        )
    ]
    for run in others:
        begun = time.monotonic()
        target = bench_target(targets)
        figures = _bench_measured(
            out / "pairings" / run.name, args, target, run, args.pairing_bench_levels, "open"
        )
        pairing_inputs.append(
            PairingInput(
                meta=_meta(
                    run,
                    targets=[TIME_SKIPPING],
                    scope=f"gate on {TIME_SKIPPING} + budget run",
                    primary=False,
                    bench_source=f"measured by this run ({target})",
                    wall_s=spent[run.name] + time.monotonic() - begun,
                ),
                labels=[run.label(TIME_SKIPPING, False)],
                concurrency=report.rows_of(figures.get("concurrency", []) if figures else []),
            )
        )
    # The raw records first; the verdict is made from them, as `handshake report
    # --check` makes it again.
    RawInputs(
        targets=targets,
        budget_ms=BUDGET_MS,
        runs=children,
        pairings=pairing_inputs,
        pairings_skipped=[PairingSkipped.model_validate(p) for p in pairings_skipped],
        repeat=args.repeat,
    ).write(out)
    j = judged.recompute(out)
    primary = [r for r in j.records if r.pairing == first.name]
    seeds = sorted({s.measurements.chaos_seed for s in j.records if s.measurements.chaos_seed})
    doc = CertificationReport(
        schema_version=SCHEMA_VERSION,
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        verdict="pass" if j.verdict == "pass" else "fail",
        verdict_reasons=j.reasons,
        not_certified=report.not_certified(j.results),
        targets=targets,
        connection=report.connection_used(connection, args.namespace, targets),
        scenarios=j.results,
        faults=[Fault(**f.model_dump(), target=s.target) for s in j.records for f in s.faults],
        fault_coverage=[
            FaultCoverage.model_validate(c)
            for c in network.fault_coverage([f.model_dump() for s in primary for f in s.faults])
        ],
        corruption=[
            Corruption.model_validate(c)
            for c in corruption.summarise([s.model_dump(by_alias=True) for s in primary])
        ],
        # Every pairing's services must keep tokens out of their logs.
        token_hygiene=report.token_hygiene(j.results),
        overhead_ms=j.overhead,
        overhead_by_target=j.by_target,
        budget_ms=BUDGET_MS,
        budget=report.budget_summary(concurrency, BUDGET_MS),
        pairings=j.pairings,
        pairings_skipped=[PairingSkipped.model_validate(p) for p in pairings_skipped],
        versions={
            "python": sys.version.split()[0],
            "temporalio": _version("temporalio"),
            "grpcio": _version("grpcio"),
            "protobuf": _version("protobuf"),
            **{f"temporal[{t}]": target_version(t) for t in targets},
            "toxiproxy": next((s.toxiproxy for s in j.records if s.toxiproxy), None),
            "git_sha": _git_sha(),
            "zigflow_cmd": first.zigflow_cmd,
            "stigma_cmd": first.stigma_cmd,
            "zigflow_level": first.zigflow_level,
            "pairing": first.name,
        },
        wall_s=round(time.monotonic() - started, 1),
        concurrency=concurrency,
        bench=(
            BenchSource.model_validate(
                {k: bench.get(k) for k in ("generated_at", "target", "server", "settings", "note")}
                | {"source": bench_source}
            )
            if bench
            else None
        ),
        fault_timeline=[
            FaultTimeline.model_validate(t)
            for target in targets
            for t in _fault_timeline(out, target)
        ],
        machine=Machine.model_validate(procstat.machine()),
        behaviours=j.behaviours,
        runs=j.runs,
        manifest=manifest(runs, targets, args, seeds),
        repeat=args.repeat,
        flakes=j.flakes,
        server_kinds=j.server_kinds,
    )
    verdict = doc.verdict
    reasons = doc.verdict_reasons
    json_path, md_path = report.write(doc, out)
    print(f"certify: verdict {verdict.upper()}: " + "; ".join(reasons))
    print(f"certify: wrote {json_path}, {md_path} and {out / 'certification.html'}")
    print(
        f"certify: JUnit XML for CI: {', '.join(str(j) for j in sorted(out.glob('junit-*.xml')))}"
    )
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    exit_process(run_main("certify", main))
