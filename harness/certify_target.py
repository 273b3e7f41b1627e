"""``handshake certify --target NAME``: certify services already deployed.

    handshake certify --target staging [--dry-run] [--run-id ID] [--no-game-day]

The profile ``[targets.NAME]`` (``harness.target.profile``) says where the services
run and how to fault them. In order:

1. ``--dry-run``: the plan (``harness.target.plan``), and nothing else: no hook
   invoked, no connection made, no toxic added.
2. Preflight (``harness.faults.deployment.preflight``): Temporal answers for the
   allowed namespace, every hook's program exists and each service is ready, the
   external Toxiproxy answers and its proxies are clean. A failure stops the run
   before the first fault (exit 3).
3. The scenarios, as a child pytest with ``--target NAME``, one at a time: those the
   target cannot serve are listed as not certified there, never run.
4. The game day (unless ``--no-game-day``): steady load while one fault at a time
   runs, figures per window; its baseline window is the budget figure.
5. Always, also after Ctrl-C or a crash of the child: the cleanup (every toxic
   removed, every proxy enabled, each service brought back by its hooks) and the
   run's workflows still open listed and terminated (their ids carry the run id).
6. The report, made from the raw records as every certification's is
   (``harness.report.verdict``): exit 0 certified, 1 not certified, 3 the target was
   not fit, 130 interrupted (after the cleanup).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from harness import cli, contract, setting_names, settings
from harness.errors import ExitCode, HarnessError
from harness.faults import deployment
from harness.links import network
from harness.load import gameday
from harness.report import report
from harness.report import verdict as judged
from harness.report.model import (
    SCHEMA_VERSION,
    CertificationReport,
    ChildRun,
    Deployment,
    Fault,
    FaultCoverage,
    HookInvocation,
    Machine,
    Manifest,
)
from harness.report.terms import MIN_BUDGET_SAMPLES
from harness.report.verdict import DeploymentInput, RawInputs
from harness.servers import procstat
from harness.target import plan
from harness.target.hooks import HookRunner
from harness.target.profile import Profile

TARGET_UNFIT = int(ExitCode.ENVIRONMENT)  # the table: harness/errors.py
INTERRUPTED = int(ExitCode.INTERRUPTED)
HOOKS_FILE = "hooks.json"  # written by the pytest plugin into the results directory
OPEN_WORKFLOWS_LIMIT = 1000


@dataclass(frozen=True)
class GateFiles:
    """Where one gate child of certify writes under the run's root ``out``: its raw
    records (a directory) and its JUnit file, named by the run's ``label``; and how
    the report lists that child. A pairing's and a deployed target's gate alike."""

    out: pathlib.Path
    label: str

    @property
    def results(self) -> pathlib.Path:
        return self.out / "results" / self.label.replace(":", "/")

    @property
    def junit(self) -> pathlib.Path:
        return self.out / f"junit-{self.label.replace(':', '-')}.xml"

    def options(self, handshake_out: pathlib.Path, suite: str) -> list[str]:
        """The gate's options that write them (logs under ``handshake_out``); a CI view
        lists each run apart: the JUnit suite is named ``suite``."""
        return [
            "--handshake-out",
            str(handshake_out),
            "--handshake-results",
            str(self.results),
            "--junitxml",
            str(self.junit),
            "-o",
            f"junit_suite_name=handshake[{suite}]",
        ]

    def child(
        self, target: str, pairing: str, primary: bool, command: list[str], code: int | None
    ) -> ChildRun:
        """The child as the report lists it, its files relative to ``out``."""
        return ChildRun(
            label=self.label,
            target=target,
            pairing=pairing,
            primary=primary,
            command=command,
            exit_code=code,
            results=str(self.results.relative_to(self.out)),
            junit=str(self.junit.relative_to(self.out)),
        )


def add_arguments(parser: argparse.ArgumentParser, env: dict[str, str]) -> None:
    group = parser.add_argument_group("a deployed target (docs/how-to/certify-staging.md)")
    # Shared with the gate: declared once, by the registry.
    setting_names.add_options(
        group.add_argument, env, "certify", "HANDSHAKE_TARGET", "HANDSHAKE_RUN_ID"
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="with --target: print the plan (faults, hooks, workflows) and touch nothing",
    )
    group.add_argument(
        "--no-game-day",
        action="store_true",
        help="with --target: skip the load-with-faults run (the budget is then not "
        "measured on the target, and the verdict says so)",
    )
    group.add_argument(
        "--game-day-rate",
        type=float,
        default=gameday.RATE_PER_S,
        help=f"handshakes/s of the game day's steady load (default {gameday.RATE_PER_S:g})",
    )
    group.add_argument(
        "--game-day-users",
        type=int,
        default=gameday.USERS,
        help=f"Locust users sharing the rate (default {gameday.USERS}: each waits for its "
        "handshake, so "
        "enough of them keep the rate up while a fault slows handshakes down)",
    )
    group.add_argument(
        "--game-day-baseline-s",
        type=float,
        default=gameday.BASELINE_S,
        help="seconds of load before the first fault: the budget figure, judged only on "
        f"{MIN_BUDGET_SAMPLES} handshakes or more (default {gameday.BASELINE_S:g}: "
        f"{gameday.BASELINE_S * gameday.RATE_PER_S:g} at the default rate)",
    )
    group.add_argument(
        "--game-day-window-s",
        type=float,
        default=gameday.WINDOW_S,
        help=f"seconds each fault stays on (default {gameday.WINDOW_S:g})",
    )
    group.add_argument(
        "--game-day-recover-s",
        type=float,
        default=gameday.RECOVER_S,
        help="at most this many seconds after each fault for its backlog to drain and "
        "steady state to show again; not recovered by then: the window says why "
        f"(default {gameday.RECOVER_S:g})",
    )
    group.add_argument(
        "--game-day-steady-s",
        type=float,
        default=gameday.STEADY_S,
        help="after a fault's backlog drained: seconds of handshakes all succeeding that "
        f"end its recover window early (default {gameday.STEADY_S:g})",
    )


def new_run_id() -> str:
    return f"cert-{dt.datetime.now(dt.UTC):%Y%m%d%H%M}-{uuid.uuid4().hex[:6]}"


def _child(cmd: list[str]) -> tuple[int | None, bool]:
    """Run the child pytest to its end: a Ctrl-C reaches it (the terminal's, or one
    sent to this process only, forwarded), and it undoes its faults itself; this
    process waits for it instead of killing it mid-fault, as ``subprocess.run`` would.
    (exit code, interrupted)."""
    interrupted = False
    proc = subprocess.Popen(cmd)

    def forward(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, forward)
    try:
        return proc.wait(), interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


async def _open_workflows(profile: Profile, run_id: str) -> list[str]:
    """The run's workflows still running (their ids carry the run id), terminated: a
    certification leaves nothing of its own behind on the target."""
    from temporalio.client import Client

    client = await Client.connect(
        profile.temporal, namespace=profile.namespace, **profile.connection().client_kwargs()
    )
    found: list[str] = []
    async for wf in client.list_workflows(
        'ExecutionStatus = "Running"', limit=OPEN_WORKFLOWS_LIMIT
    ):
        if run_id in wf.id:
            found.append(wf.id)
            await client.get_workflow_handle(wf.id, run_id=wf.run_id).terminate(
                reason=f"certification run {run_id} ended"
            )
    return found


async def _after(profile: Profile, runner: HookRunner) -> tuple[list[str], list[str]]:
    """The cleanup and the open workflows: each step's findings, never an exception
    (it runs after whatever happened)."""
    lines = [c.line() for c in await deployment.cleanup(profile, runner)]
    try:
        left = await _open_workflows(profile, runner.run_id)
    except Exception as err:  # reported, not raised: the cleanup must finish
        lines.append(f"FAIL  open workflows of run {runner.run_id}: {err}")
        left = []
    return lines, left


def _hooks(results: pathlib.Path, runner: HookRunner) -> list[HookInvocation]:
    """Every hook invoked: the scenarios' (the child's record), then certify's own."""
    path = results / HOOKS_FILE
    runs: list[dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else []
    runs += [r.to_dict() for r in runner.log.runs]
    return [HookInvocation.model_validate(r) for r in runs]


def run(args: argparse.Namespace) -> int:
    from harness.target import profile as profiles

    target = profiles.load(args.target)  # ConfigError: the command's usage error
    run_id = args.run_id or new_run_id()
    if args.dry_run:
        print(plan.render(target, run_id=run_id))
        print("certify: dry run: no hook invoked, no toxic added, no workflow started")
        return 0
    print(
        f"certify: deployed target {target.name}: temporal {target.temporal} namespace "
        f"{target.namespace}; run id {run_id} (in every workflow id)",
        flush=True,
    )
    runner = HookRunner(target, run_id=run_id)
    checks = asyncio.run(deployment.preflight(target, runner))
    for check in checks:
        print(f"certify: preflight {check.line()}", flush=True)
    if not all(c.ok for c in checks):
        failed = [c.what for c in checks if not c.ok]
        print(f"certify: target {target.name} is not fit, nothing run: {', '.join(failed)}")
        return TARGET_UNFIT

    started = time.monotonic()
    out = pathlib.Path(args.out) / "latest"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    label = target.name
    files = GateFiles(out, label)
    results = files.results
    cmd = [
        *cli.gate_command([]),
        "-n",
        "0",
        "--target",
        target.name,
        "--run-id",
        run_id,
        *files.options(out / label, f"deployed:{label}"),
        "--fault-matrix",
        args.fault_matrix,
        *(["--repeat", str(args.repeat)] if args.repeat > 1 else []),
        *args.pytest_args,
    ]
    print(f"certify: [{label}] {' '.join(cmd)}", flush=True)
    code: int | None = None
    interrupted = False
    no_game_day = ""
    game_day_path: pathlib.Path | None = None
    try:
        code, interrupted = _child(cmd)
        if args.no_game_day:
            no_game_day = "skipped (--no-game-day)"
        elif interrupted:
            no_game_day = "the run was interrupted before it"
        else:
            print("certify: game day: steady load while one fault at a time runs", flush=True)
            contract.configure(target.contract_overrides())
            day = asyncio.run(
                gameday.run_game_day(
                    target,
                    runner,
                    run_id=run_id,
                    out=out / label,
                    users=args.game_day_users,
                    rate_per_s=args.game_day_rate,
                    baseline_s=args.game_day_baseline_s,
                    window_s=args.game_day_window_s,
                    recover_s=args.game_day_recover_s,
                    steady_s=args.game_day_steady_s,
                )
            )
            game_day_path = out / label / judged.GAME_DAY_FILE
            print(f"certify: game day: {len(day.windows)} window(s), {game_day_path}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        no_game_day = "the run was interrupted"
    except HarnessError as err:  # the game day could not run: named, never a silent pass
        no_game_day = f"it failed: {err}"
        print(f"certify: game day failed: {err}", flush=True)
    finally:
        print("certify: cleanup: toxics removed, services back, open workflows closed", flush=True)
        cleanup, left = asyncio.run(_after(target, runner))
        for line in cleanup:
            print(f"certify: cleanup {line}", flush=True)
        if left:
            print(f"certify: closed {len(left)} open workflow(s) of run {run_id}", flush=True)
    child = files.child(label, target.name, True, cmd, code)
    inputs = RawInputs(
        targets=[label],
        budget_ms=report.BUDGET_MS,
        runs=[child],
        pairings=[],
        deployment=DeploymentInput(
            target=target.name,
            zigflow_level=target.zigflow_level,
            game_day=str(game_day_path.relative_to(out)) if game_day_path else None,
            no_game_day=no_game_day,
        ),
    )
    inputs.write(out)
    j = judged.recompute(out)
    sources = settings.sources()  # names only: some values are secrets
    doc = CertificationReport(
        schema_version=SCHEMA_VERSION,
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        verdict="pass" if j.verdict == "pass" and not interrupted else "fail",
        verdict_reasons=(["interrupted (Ctrl-C): not certified"] if interrupted else [])
        + j.reasons,
        not_certified=report.not_certified(j.results),
        targets=[label],
        scenarios=j.results,
        faults=[Fault(**f.model_dump(), target=s.target) for s in j.records for f in s.faults],
        fault_coverage=[
            FaultCoverage.model_validate(c)
            for c in network.fault_coverage([f.model_dump() for s in j.records for f in s.faults])
        ],
        token_hygiene=report.token_hygiene(j.results),
        overhead_ms=j.overhead,
        overhead_by_target=j.by_target,
        budget_ms=report.BUDGET_MS,
        versions={
            "python": sys.version.split()[0],
            "toxiproxy": next((s.toxiproxy for s in j.records if s.toxiproxy), None),
            "zigflow_level": target.zigflow_level,
        },
        wall_s=round(time.monotonic() - started, 1),
        machine=Machine.model_validate(procstat.machine()),
        behaviours=j.behaviours,
        runs=j.runs,
        manifest=Manifest(
            programs={},
            harness_version=None,
            harness_commit=None,
            contract_digest=contract.digest(),
            temporal={label: f"{target.temporal} (deployed)"},
            config_file=None,
            environment=[*sources.environment, *sources.temporal_cli],
            options={"target": target.name, "run_id": run_id},
            seeds=sorted(
                {s.measurements.chaos_seed for s in j.records if s.measurements.chaos_seed}
            ),
        ),
        deployment=Deployment(
            target=target.name,
            run_id=run_id,
            temporal=target.temporal,
            namespace=target.namespace,
            zigflow_level=target.zigflow_level,
            toxiproxy=target.toxiproxy.admin_url if target.toxiproxy else None,
            proxies=dict(target.toxiproxy.proxies) if target.toxiproxy else {},
            preflight=[c.line() for c in checks],
            hooks=_hooks(results, runner),
            off_target=list(judged.off_target(results).values()),
            cleanup=cleanup,
            open_workflows=left,
            interrupted=interrupted,
            game_day=judged.game_day_judgement(out, inputs.deployment)[0]
            if inputs.deployment
            else None,
        ),
    )
    json_path, md_path = report.write(doc, out)
    print(f"certify: verdict {doc.verdict.upper()}: " + "; ".join(doc.verdict_reasons))
    print(f"certify: wrote {json_path}, {md_path} and {out / 'certification.html'}")
    if interrupted:
        return INTERRUPTED
    return 0 if doc.verdict == "pass" else 1
