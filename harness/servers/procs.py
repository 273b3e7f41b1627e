"""Service processes the harness starts: spawned, watched, logged, always reaped.

Every process gets its own session (process group) so that its children go
with it; the harness ends only processes it started, by their ids.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pathlib
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from harness.errors import ProcessError

_LIVE: dict[int, str] = {}  # pid -> name of every group we started and have not reaped

# atexit cannot run when the harness itself is SIGKILLed (a CI timeout, a bounded child
# run): on Linux each child also gets the parent-death signal, set by this launcher,
# which then execs the real command (same pid, group and command line). If the
# harness died before prctl ran, the launcher exits instead of starting an orphan.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(70)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


# Runs ``argv[1:]`` with SIGINT back at its default (exec keeps an ignored signal
# ignored, a handled one is reset).
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def sigint_restored(argv: Sequence[str]) -> list[str]:
    """``argv`` for a child the harness may interrupt with SIGINT (so that it tears its
    stacks down, which SIGKILL would not): a shell without job control starts its
    background jobs with SIGINT ignored, that survives exec, and Python then never
    turns SIGINT into KeyboardInterrupt; the child would shrug the interrupt off.
    (Not a ``preexec_fn``: Python code between fork and exec in a process with gRPC's
    threads can abort the child.)"""
    return [sys.executable, "-c", _SIGINT_DEFAULT, *argv]


def _launch_argv(argv: Sequence[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]


@atexit.register
def _reap_on_exit() -> None:
    """Last line of defence against orphans (interrupted runs): our groups only."""
    for pid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def require_executable(
    name: str, argv: Sequence[str], env: Mapping[str, str], cwd: pathlib.Path | None = None
) -> None:
    """ProcessError naming ``name`` unless ``argv[0]`` is an executable (a path, or a
    command on env's PATH): the cause in one line, before anything is started for it."""
    exe = argv[0]
    if os.sep in exe and cwd is not None and not os.path.isabs(exe):
        exe = str(cwd / exe)
    if shutil.which(exe, path=env.get("PATH")) is None:
        raise ProcessError(f"cannot start {name}: {argv[0]!r} not found")


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: pathlib.Path
    cwd: pathlib.Path | None = None
    incarnation: int = 0
    _proc: asyncio.subprocess.Process | None = field(default=None, repr=False)
    log_paths: list[pathlib.Path] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> pathlib.Path:
        return self.log_paths[-1]

    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        if self.running():
            raise ProcessError(f"{self.name} is already running (pid {self.pid})")
        self.incarnation += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{self.name}.{self.incarnation}.log"
        self.log_paths.append(path)
        require_executable(self.name, self.argv, self.env, self.cwd)
        with path.open("wb") as log:
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *_launch_argv(self.argv),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as err:
                raise ProcessError(f"cannot start {self.name} ({self.argv[0]!r}): {err}") from err
        _LIVE[self._proc.pid] = self.name

    def send(self, sig: signal.Signals) -> None:
        """Signal the process's whole group (the group we created for it)."""
        if self._proc is None or self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    async def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.returncode is None:
            self.send(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), grace_s)
            except TimeoutError:
                self.send(signal.SIGKILL)
                await self._proc.wait()
        # Reap stragglers of the group (e.g. a wrapper's child) we started.
        self.send(signal.SIGKILL)
        _LIVE.pop(self._proc.pid, None)
        return self._proc.returncode

    async def kill(self, sig: signal.Signals = signal.SIGKILL) -> int | None:
        if self._proc is None:
            return None
        self.send(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            await self._proc.wait()
            self.send(signal.SIGKILL)
            _LIVE.pop(self._proc.pid, None)
        return self._proc.returncode

    async def exited(self) -> int | None:
        """Until the process has exited (at once if it never started); its exit code."""
        if self._proc is None:
            return None
        return await self._proc.wait()

    def exit_code(self) -> int | None:
        return self._proc.returncode if self._proc else None

    def tail(self, lines: int = 40) -> str:
        if not self.log_paths or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@contextlib.asynccontextmanager
async def running(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log_dir: pathlib.Path,
    *,
    grace_s: float = 10.0,
) -> AsyncIterator[ManagedProcess]:
    """Start a process and always stop it, whatever happens inside the block."""
    proc = ManagedProcess(name, list(argv), dict(env), log_dir)
    await proc.start()
    try:
        yield proc
    finally:
        await asyncio.shield(proc.stop(grace_s))
