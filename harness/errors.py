"""One error root for everything the harness raises on purpose, and the exit code
each class of error ends a command with (the one table: docs/reference/cli.md,
"Exit codes")."""

from __future__ import annotations

import atexit
import enum
import os
import sys
from collections.abc import Callable
from typing import NoReturn


class ExitCode(enum.IntEnum):
    """How every ``handshake`` command ends. A CI job tells a real certification
    failure (1) from a mistake in how it was called (2) and from a machine or cluster
    that was not fit to run it (3): only 1 says anything about the services."""

    OK = 0  # certified / the command did what it was asked
    NOT_CERTIFIED = 1  # a scenario or check failed, the verdict is fail
    USAGE = 2  # a bad option value, config file, profile or TLS setting
    ENVIRONMENT = 3  # a missing binary, an unreachable cluster, a service never ready
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)


class HarnessError(Exception):
    """Root of the harness's own errors. Unless a subclass says otherwise, one that
    ends a command is the environment's fault (exit 3): the harness could not set up
    what it needed, which says nothing about the services under test."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT


class ConfigError(HarnessError):
    """A setting is missing or wrong; the message says what to fix."""

    exit_code = ExitCode.USAGE


class NotReadyError(HarnessError):
    """A component did not become ready in time; the message names it and shows its log."""


class ComponentDied(NotReadyError):
    """A component exited while being waited for: waiting longer cannot help, so a
    wait re-raises this at once instead of polling until its timeout."""


class Unreachable(ComponentDied):
    """Nothing listens at a loopback address the harness dials ("connection
    refused"): on this machine nothing is starting there that the harness did not
    start itself, so waiting cannot help either."""


class WaitTimeout(HarnessError):
    """A condition did not hold in time; the message names what is still pending."""


class ProcessError(HarnessError):
    """A managed process exited or misbehaved (e.g. its binary does not exist)."""


class FaultNotReached(HarnessError):
    """A scenario's faults could not have reached the service under test (e.g. it was
    configured with a direct address and never went through the proxy or relay): the
    scenario proved nothing, so it errors instead of passing."""


# The classes whose failure while a stack is set up means no scenario can run on this
# machine as configured: the gate stops once, before any scenario, instead of erroring
# every test that needed the stack (harness/pytest_plugin.py).
SETUP_ERRORS: tuple[type[HarnessError], ...] = (NotReadyError, ProcessError, ConfigError)


def exit_code_of(err: BaseException) -> ExitCode:
    """The exit code a command ends with when ``err`` ends it."""
    if isinstance(err, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(err, HarnessError):
        return err.exit_code
    return ExitCode.ENVIRONMENT


def run_main(prog: str, main: Callable[[], int]) -> int:
    """``main``'s exit code; when a harness error or Ctrl-C ends it, one line on stderr
    naming ``prog`` (a service's log tail may follow it) and the class's exit code (the
    table above): the same for every command, never a traceback."""
    try:
        return main()
    except (HarnessError, KeyboardInterrupt) as err:
        why = "interrupted" if isinstance(err, KeyboardInterrupt) else str(err)
        print(f"{prog}: {why}", file=sys.stderr)
        return int(exit_code_of(err))


def exit_process(code: int) -> NoReturn:
    """A command's process ends with ``code``. Interrupted, it ends once its cleanup
    has run (the command's own finally blocks, then the atexit handlers), skipping the
    interpreter's finalization: the Temporal SDK's runtime can still have calls in flight
    whose threads wait to call back into Python, and dropping it at finalization hung the
    process after it had said "interrupted" (or its threads panicked, printing Rust
    backtraces)."""
    if code != ExitCode.INTERRUPTED:
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# pytest's own exit codes (pytest.ExitCode) as the gate reports them.
_FROM_PYTEST = {
    0: ExitCode.OK,  # OK
    1: ExitCode.NOT_CERTIFIED,  # TESTS_FAILED
    2: ExitCode.INTERRUPTED,  # INTERRUPTED
    3: ExitCode.ENVIRONMENT,  # INTERNAL_ERROR, and the harness's setup abort (pytest.exit)
    4: ExitCode.USAGE,  # USAGE_ERROR
    # NO_TESTS_COLLECTED: a selection that runs nothing certifies nothing.
    5: ExitCode.NOT_CERTIFIED,
}


def from_pytest(code: int) -> ExitCode:
    """A pytest exit code in the harness's classes (any other: the environment's, e.g.
    a pytest killed by a signal)."""
    return _FROM_PYTEST.get(code, ExitCode.INTERRUPTED if code == -2 else ExitCode.ENVIRONMENT)
