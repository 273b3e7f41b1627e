"""``python -m reference_services.deploy --state DIR COMMAND ...``

Exit codes: 0 done (``ready``: SERVING), 1 failed (the reason on stderr), 2 wrong
usage (one line on stderr: a hook's output tail in a report stays readable).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from harness import config
from reference_services.deploy import supervisor
from reference_services.deploy.procs import DeployError
from reference_services.deploy.supervisor import State, UpOptions, UsageError

PROG = "python -m reference_services.deploy"
NAMES = supervisor.ORDER


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints its whole usage block first: one line is what a caller (a
        # hook's output in a report, a CI log) can show.
        raise UsageError(f"{self.prog}: {message} (see --help)")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    top.add_argument("--state", required=True, type=pathlib.Path, help="the state directory")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="deploy Temporal, Toxiproxy, Stigma and Zigflow")
    up.add_argument("--pairing", choices=list(config.PAIRINGS), default=config.DEFAULT_PAIRING)
    up.add_argument("--stigma-cmd", help="Stigma's command line instead of the pairing's")
    up.add_argument("--zigflow-cmd", help="Zigflow's command line instead of the pairing's")
    up.add_argument(
        "--zigflow-level",
        choices=config.ZIGFLOW_LEVELS,
        help="default: the pairing's (activity for a Go Zigflow), workflow for --zigflow-cmd",
    )
    up.add_argument("--namespace", default=supervisor.DEFAULT_NAMESPACE)
    up.add_argument("--ready-timeout", type=float, default=supervisor.READY_TIMEOUT_S, metavar="S")
    up.add_argument("--ui-port", type=int, default=0, help="Temporal's web UI (0: none)")
    commands.add_parser("down", help="stop every process started (by its pid file)")
    commands.add_parser("status", help="JSON: each process, its pid, running, paused")
    for name, text in (
        ("kill", "SIGKILL the service's process group, until it is gone"),
        ("start", "start it again as deployed, unless it runs"),
        ("restart", "kill, then start"),
        ("pause", "SIGSTOP its process group"),
        ("resume", "SIGCONT its process group"),
        ("ready", "exit 0 iff one probe (2 s) answers SERVING"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("service", choices=NAMES)
    return top


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    # `up` tears down what it started on any exception: a SIGTERM (a CI timeout)
    # becomes one, as Ctrl-C already is.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    state = State(args.state)
    command: str = args.command

    def say(line: str) -> None:
        print(line, flush=True)

    if command == "up":
        signal.signal(signal.SIGTERM, _interrupted)
        options = UpOptions(
            pairing=args.pairing,
            zigflow_cmd=args.zigflow_cmd,
            stigma_cmd=args.stigma_cmd,
            zigflow_level=args.zigflow_level,
            namespace=args.namespace,
            ready_timeout_s=args.ready_timeout,
            ui_port=args.ui_port,
        )
        supervisor.up(state, options, say)
        say(f"profile: {state.profile_path} (target {supervisor.PROFILE_NAME})")
    elif command == "down":
        supervisor.down(state, say)
    elif command == "status":
        say(json.dumps(supervisor.status(state), indent=2))
    elif command == "kill":
        say(supervisor.kill(state, args.service))
    elif command == "start":
        say(supervisor.start(state, args.service))
    elif command == "restart":
        supervisor.kill(state, args.service)
        say(supervisor.start(state, args.service).replace("started", "restarted", 1))
    elif command in ("pause", "resume"):
        say(supervisor.pause(state, args.service, resume=command == "resume"))
    elif command == "ready":
        answer = supervisor.ready(state, args.service)
        say(f"{args.service}: {answer}")
        return 0 if answer == "SERVING" else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(parser().parse_args(argv))
    except UsageError as err:
        print(str(err).splitlines()[0], file=sys.stderr)
        return 2
    except DeployError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
