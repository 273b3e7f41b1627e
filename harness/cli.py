"""``handshake``: one command line for the gate, certification, benchmarks and load.

    handshake gate [pytest options]     the shipped scenarios against the configured
                                        services and cluster, from any directory
    handshake certify [options]         the scenario matrix + latency budget -> report
    handshake bench [options]           handshake vs direct latency per concurrency level
    handshake load [options]            a Locust load run with thresholds
    handshake report JSON [--out DIR]   re-render .md and .html from certification.json
    handshake report --check DIR        recompute the verdict from the raw records; exit 1
                                        when the stored report disagrees
    handshake doctor                    what is installed, what is missing, how to install it
    handshake target check|plan|cleanup NAME
                                        a deployed target (a profile of the config file):
                                        preflight, dry run, undo what a killed run left
    handshake up [options]              a local stack with the Temporal UI, to explore, until
                                        Ctrl-C

Every subcommand takes ``--help``. The gate's options are pytest's plus the
harness's (``--zigflow-cmd``, ``--stigma-cmd``, ``--temporal``, ``--zigflow-level``,
...; each also an environment variable, see ``handshake gate --help``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import pathlib
import subprocess
import sys
from collections.abc import Callable, Sequence

from harness.child_runs import run_to_end
from harness.errors import ExitCode, HarnessError, exit_process, from_pytest, run_main

# The gate's pytest settings, so it runs the same from any directory (without the
# project's pyproject.toml).
PYTEST_SETTINGS = (
    "asyncio_mode=auto",
    "asyncio_default_fixture_loop_scope=session",
    "asyncio_default_test_loop_scope=session",
)


def scenarios_dir() -> pathlib.Path:
    """The shipped scenarios (a package: in the checkout or in site-packages)."""
    spec = importlib.util.find_spec("scenarios")
    if spec is None or spec.origin is None:
        raise HarnessError(
            "the shipped scenarios are not importable: reinstall handshake-harness "
            "(pip install handshake-harness, or `make setup` in a checkout)"
        )
    return pathlib.Path(spec.origin).parent


def gate_command(pytest_args: Sequence[str]) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", str(scenarios_dir())]
    for setting in PYTEST_SETTINGS:
        cmd += ["-o", setting]
    # The harness's plugin comes from its pytest11 entry point when installed.
    return [*cmd, "-p", "no:cacheprovider", *pytest_args]


def _gate(argv: list[str]) -> int:
    from harness import settings

    # The pytest child reads the same config file (same working directory) and would
    # stop on it too, but with pytest's usage-error code 4; checked here, a bad file is
    # this command's usage error (exit 2) like every other handshake command's.
    settings.environ()
    if argv[:1] in (["-h"], ["--help"]):
        return _gate_help()
    return int(from_pytest(run_to_end(gate_command(argv))))


# The harness's option group in `pytest --help` (harness.pytest_plugin's getgroup).
GATE_OPTIONS_HEADER = "token handshake harness"


def _gate_help() -> int:
    """The harness's own options, cut from pytest's help of the gate's run."""
    help_run = subprocess.run(
        [*gate_command(["--help"])], capture_output=True, text=True, check=False
    )
    start = help_run.stdout.find(GATE_OPTIONS_HEADER)
    if help_run.returncode != 0 or start < 0:
        # Without its options the help would read as if the gate had none.
        lines = (help_run.stderr.strip() or help_run.stdout.strip() or "no output").splitlines()
        errors = [line for line in lines if "Error" in line]
        cause = (errors or lines)[-1][:200]
        print(
            f"handshake gate: pytest could not load the harness's options ({cause}): "
            "run `handshake doctor`",
            file=sys.stderr,
        )
        return 3
    header, *rest = help_run.stdout[start:].splitlines()
    # The group's options are indented; the next unindented line starts another group
    # (or pytest's ini settings).
    options = []
    for line in rest:
        if line and not line[0].isspace():
            break
        options.append(line)
    print(
        "usage: handshake gate [pytest options]\n\n"
        "Runs the shipped scenarios (pytest) against the configured services: every\n"
        "pytest option (-k, -n, -x, --junitxml, ...) and the harness's own:\n"
    )
    print("\n".join([header, *options]).rstrip())
    return 0


def _report(argv: list[str]) -> int:
    from harness.report import report
    from harness.report import verdict as judged
    from harness.report.model import CertificationReport

    parser = argparse.ArgumentParser(
        prog="handshake report",
        description="re-render certification.md and .html from JSON; or, with --check, "
        "recompute the verdict from the run's raw records and compare it with the stored one",
    )
    parser.add_argument(
        "json", type=pathlib.Path, nargs="?", help="a certification.json (to re-render)"
    )
    parser.add_argument("--out", type=pathlib.Path, help="where to write (default: beside it)")
    parser.add_argument(
        "--check",
        type=pathlib.Path,
        metavar="DIR",
        help="a report directory (e.g. reports/out/latest): exit 0 when its verdict, "
        "reasons, counts and behaviours follow from its raw records, 1 when they do not",
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        where = args.check
        if not (where / "certification.json").is_file() or not (where / judged.INPUTS).is_file():
            parser.error(
                f"{where}: no certification.json with its raw records ({judged.INPUTS}) "
                "here: give the directory certify wrote (reports/out/latest)"
            )
        try:
            diffs = judged.check(where)
        except (OSError, ValueError) as err:
            parser.error(f"{where}: unreadable raw records ({err})")
        for line in diffs:
            print(f"handshake report: {line}")
        verdict = json.loads((where / "certification.json").read_text()).get("verdict")
        if diffs:
            print(f"handshake report: {where}: the stored report does NOT follow from its records")
            return 1
        print(f"handshake report: {where}: verdict {verdict} recomputed from the raw records")
        return 0
    if args.json is None:
        parser.error("give a certification.json to re-render, or --check DIR")
    try:
        # ValidationError is a ValueError: a report of another schema_version, or a
        # field of the wrong type, is named here rather than half-rendered.
        doc = CertificationReport.from_json(args.json.read_text())
    except (OSError, ValueError) as err:
        parser.error(f"{args.json}: not a readable certification.json ({err})")
    out = args.out or args.json.parent
    out.mkdir(parents=True, exist_ok=True)
    for path in report.write(doc, out):
        print(f"handshake report: wrote {path}")
    return 0


def _up(argv: list[str]) -> int:
    import asyncio
    import dataclasses
    import signal

    from harness import setting_names, settings
    from harness.config import DEV, REFERENCE_STIGMA, REFERENCE_ZIGFLOW, from_env, parse_command
    from harness.drive.plan import call_agent, plan, succeeds
    from harness.servers.ports import free_port
    from harness.stack.stack import start_stack

    parser = argparse.ArgumentParser(
        prog="handshake up",
        description="a local stack (dev server with its web UI, Zigflow, Stigma, the "
        "harness's agent) that stays up until Ctrl-C, printing its addresses",
    )
    # The services as the registry declares them. No defaults from the settings here:
    # from_env reads the variables below (naming them in its errors); an option
    # overrides.
    setting_names.add_options(
        parser.add_argument, {}, "up", "HANDSHAKE_ZIGFLOW_CMD", "HANDSHAKE_STIGMA_CMD"
    )
    parser.add_argument("--ui-port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("reports/out/up"),
        help="where the stack's logs go (OUT/logs)",
    )
    args = parser.parse_args(argv)
    config = dataclasses.replace(
        from_env(settings.environ()),
        temporal=DEV,
        log_dir=args.out / "logs",
        ui_port=args.ui_port or free_port(),
    )
    if args.zigflow_cmd:
        config.zigflow_cmd = parse_command(args.zigflow_cmd, REFERENCE_ZIGFLOW, "--zigflow-cmd")
    if args.stigma_cmd:
        config.stigma_cmd = parse_command(args.stigma_cmd, REFERENCE_STIGMA, "--stigma-cmd")

    async def up() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with start_stack(config, run_id="up") as stack:
            example = json.dumps(plan(call_agent("hello", succeeds("hi"))))
            links = stack.topology.describe().replace("\n", "\n" + " " * 16)
            print(
                f"handshake up: Temporal {stack.temporal.address} "
                f"(namespace {stack.temporal.namespace})\n"
                f"  web UI        http://127.0.0.1:{config.ui_port}\n"
                f"  Stigma gRPC   {stack.stigma_target}\n"
                f"  Zigflow queue {stack.plan_task_queue} (workflow {stack.plan_workflow})\n"
                f"  metrics       {', '.join(f'{k} {v}' for k, v in stack.metrics.items())}\n"
                f"  logs          {stack.log_dir}\n"
                f"  links         {links}\n"
                "  a handshake:  temporal workflow execute "
                f"--address {stack.temporal.address} --task-queue {stack.plan_task_queue} "
                f"--type {stack.plan_workflow} --input '{example}'\n"
                "Ctrl-C stops everything.",
                flush=True,
            )
            await stop.wait()

    asyncio.run(up())
    return 0


# `handshake target` ends with 3 when the target itself is not fit (a preflight check
# or a cleanup step failed): the environment's class, as every command's.
TARGET_UNFIT = ExitCode.ENVIRONMENT


def _target(argv: list[str]) -> int:
    import asyncio
    import uuid

    from harness.faults import deployment
    from harness.target import plan, profile
    from harness.target.hooks import HookRunner

    parser = argparse.ArgumentParser(
        prog="handshake target",
        description="a deployed target: a [tool.handshake.targets.NAME] profile "
        "(docs/how-to/certify-staging.md). Exit 0 ok, 2 usage or profile error, 3 the "
        "target failed a check",
    )
    parser.add_argument(
        "action",
        choices=("check", "plan", "cleanup"),
        help="check: preflight (Temporal, hooks' readiness, Toxiproxy); plan: the dry run, "
        "touching nothing; cleanup: remove toxics, bring services back",
    )
    parser.add_argument("name", help="the profile's name")
    parser.add_argument("--run-id", help="the run id placeholders expand to (default: new)")
    args = parser.parse_args(argv)
    target = profile.load(args.name)  # ConfigError: exit 2 (main)
    run_id = args.run_id or f"{args.action}-{uuid.uuid4().hex[:8]}"
    if args.action == "plan":
        print(plan.render(target, run_id=run_id))
        return 0
    runner = HookRunner(target, run_id=run_id)
    act = deployment.preflight if args.action == "check" else deployment.cleanup
    checks = asyncio.run(act(target, runner))
    for check in checks:
        print(f"handshake target {args.action}: {check.line()}")
    failed = [c for c in checks if not c.ok]
    verdict = f"{len(failed)} of {len(checks)} failed" if failed else "all ok"
    print(f"handshake target {args.action} {target.name}: {verdict}")
    return int(TARGET_UNFIT) if failed else 0


def _delegate(module: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        main: Callable[[list[str]], int] = importlib.import_module(module).main
        return main(argv)

    return run


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "gate": (_gate, "the shipped scenarios against the configured services (pytest)"),
    "certify": (_delegate("harness.certify"), "scenario matrix + latency budget -> report"),
    "bench": (
        _delegate("harness.measure.bench"),
        "handshake vs direct latency per concurrency level",
    ),
    "load": (_delegate("harness.load.run"), "a Locust load run with thresholds"),
    "report": (_report, "re-render certification .md/.html from certification.json"),
    "doctor": (
        _delegate("harness.doctor"),
        "every piece each command needs: found or how to get it",
    ),
    "up": (_up, "a local stack with the Temporal UI, to explore, until Ctrl-C"),
    "target": (_target, "a deployed target: check (preflight), plan (dry run), cleanup"),
}


def _harness_version() -> str:
    """The installed distribution's version (a checkout without an install: unknown)."""
    try:
        return importlib.metadata.version("handshake-harness")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: run `make setup` or pip install)"


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {about}" for name, (_, about) in COMMANDS.items()]
    return (
        "usage: handshake COMMAND [options]\n\ncommands:\n"
        + "\n".join(lines)
        + ("\n\n`handshake COMMAND --help` for a command's options.")
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--version"]:
        print(f"handshake {_harness_version()}")
        return 0
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"handshake: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from harness import doctor

    # A package or the generated code the command imports, missing: one line naming
    # the fix (exit 3), not a traceback (or, for the gate, pytest's "unrecognized
    # arguments" when its plugin stayed unloaded).
    asks_help = rest[:1] in (["-h"], ["--help"]) and name != "gate"  # the gate's is pytest's
    missing = None if asks_help else doctor.command_missing(name, rest)
    if missing:
        print(f"handshake {name}: {missing}", file=sys.stderr)
        return doctor.MISSING_EXIT
    return run_main(f"handshake {name}", lambda: COMMANDS[name][0](rest))


def entry() -> None:
    """The ``handshake`` program (pyproject.toml's script)."""
    exit_process(main())


if __name__ == "__main__":
    entry()
