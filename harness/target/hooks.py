"""A deployed service's hooks as faults that undo themselves, every invocation recorded.

    runner = HookRunner(profile, run_id="cert-42")
    async with service_killed(runner, "stigma"):
        ...                     # Stigma is down: its kill hook ran
    # its start (or restart) hook ran and its readiness held: also after an exception,
    # a cancellation or Ctrl-C (asyncio.run cancels the main task on SIGINT)

Every hook is bounded (``hook-timeout-s``; readiness ``ready-timeout-s``): a hook that
hangs is killed with its whole process group (each runs in its own session) and is an
error naming the service and the hook. A hook runs without a shell: its command line
is split with ``shlex`` after each ``{placeholder}`` is replaced by its value quoted,
so a value is one word wherever it stands. Invocations are recorded (command after
expansion, times, exit code, the output's tail) with every secret masked, for the
report; the same masking holds for every error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from harness import contract
from harness.errors import ComponentDied, HarnessError, NotReadyError, WaitTimeout
from harness.target.profile import Profile, ServiceHooks
from harness.waits import eventually

if TYPE_CHECKING:
    from harness.target.kill_seen import KillWatch
    from harness.tls import ServiceTLS

MASK = "***"
TAIL_CHARS = 2000
T = TypeVar("T")


class HookFailed(HarnessError):
    """A hook exited non-zero, timed out, or could not be started; the message names
    the service and the hook, never a secret."""


def expand(command: str, values: Mapping[str, str]) -> list[str]:
    """The argv of ``command`` with each ``{name}`` replaced by its value as one word."""
    quoted = {k: shlex.quote(v) for k, v in values.items()}
    return shlex.split(command.format_map(quoted))


def mask(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@dataclass
class HookRun:
    """One invocation, as the report shows it (secrets masked)."""

    service: str
    hook: str  # kill, start, restart, pause, resume, ready
    command: str
    started_at: str  # UTC, ISO 8601
    ended_at: str = ""
    duration_s: float = 0.0
    exit_code: int | None = None  # None: timed out, cancelled or never started
    outcome: str = "running"  # ok | failed | timed_out | cancelled | not_started
    output_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HookLog:
    runs: list[HookRun] = field(default_factory=list)

    def hooks(self) -> list[str]:
        """``stigma.kill`` ... in the order they ran."""
        return [f"{r.service}.{r.hook}" for r in self.runs]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class HookRunner:
    """Runs one profile's hooks for one run: placeholders, environment, secrets, log."""

    def __init__(
        self,
        profile: Profile,
        *,
        run_id: str,
        env: Mapping[str, str] | None = None,
        log: HookLog | None = None,
    ) -> None:
        self.profile = profile
        self.run_id = run_id
        # The hooks' own environment: kubectl needs KUBECONFIG, a cloud CLI its login.
        self.env = dict(os.environ if env is None else env)
        self.secrets = profile.secrets(self.env)
        self.log = log if log is not None else HookLog()

    def hooks(self, service: str) -> ServiceHooks:
        return self.profile.hooks(service)

    def argv(self, service: str, hook: str) -> list[str]:
        command = getattr(self.hooks(service), hook)
        if not command:
            raise HookFailed(f"{service} has no {hook} hook in target {self.profile.name!r}")
        return expand(command, self.profile.placeholders(self.run_id, service))

    def shown(self, argv: Sequence[str]) -> str:
        return mask(shlex.join(argv), self.secrets)

    async def run(self, service: str, hook: str, *, timeout_s: float | None = None) -> HookRun:
        """Run one hook to its end; HookFailed unless it exits 0 within its timeout."""
        argv = self.argv(service, hook)
        bound = timeout_s if timeout_s is not None else self.hooks(service).hook_timeout_s
        record = HookRun(service, hook, self.shown(argv), _now())
        self.log.runs.append(record)
        began = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                # Its own process group: a timeout ends the hook and whatever it started.
                start_new_session=True,
            )
        except OSError as err:
            self._close(record, began, "not_started", None, err.strerror or str(err))
            raise HookFailed(
                f"{service} {hook} hook could not start: {record.output_tail} ({record.command})"
            ) from None
        output = bytearray()
        reader = asyncio.create_task(_pump(proc, output))
        try:
            await asyncio.wait_for(proc.wait(), timeout=bound)
        except TimeoutError:
            await _end(proc, reader)
            self._close(record, began, "timed_out", None, output.decode(errors="replace"))
            raise HookFailed(
                f"{service} {hook} hook timed out after {bound:g}s: {record.command}"
                + (f"\n{record.output_tail}" if record.output_tail else "")
            ) from None
        except asyncio.CancelledError:
            await _end(proc, reader)
            self._close(record, began, "cancelled", None, output.decode(errors="replace"))
            raise
        await _drained(reader)
        text = output.decode(errors="replace")
        code = proc.returncode
        self._close(record, began, "ok" if code == 0 else "failed", code, text)
        if code != 0:
            raise HookFailed(
                f"{service} {hook} hook exited {code}: {record.command}"
                + (f"\n{record.output_tail}" if record.output_tail else "")
            )
        return record

    def _close(
        self, record: HookRun, began: float, outcome: str, code: int | None, output: str
    ) -> None:
        record.ended_at = _now()
        record.duration_s = round(time.monotonic() - began, 3)
        record.outcome = outcome
        record.exit_code = code
        record.output_tail = mask(output, self.secrets)[-TAIL_CHARS:].strip()

    async def ready_once(self, service: str) -> bool:
        """One readiness probe, bounded by the hook timeout."""
        hooks = self.hooks(service)
        if hooks.ready:
            try:
                await self.run(service, "ready")
            except HookFailed:
                if self.log.runs[-1].outcome == "not_started":
                    raise  # a missing program does not become ready by waiting
                return False
            return True
        if hooks.ready_grpc_health:
            return await self._health(service, hooks.ready_grpc_health, hooks.hook_timeout_s)
        raise HookFailed(f"{service} has no readiness check (ready or ready-grpc-health)")

    async def _health(self, service: str, address: str, timeout_s: float) -> bool:
        name = health_name(service)
        record = HookRun(service, "ready", f"grpc.health.v1 Check {address} {name!r}", _now())
        self.log.runs.append(record)
        began = time.monotonic()
        status = await health_status(address, name, timeout_s, self.profile.grpc_tls(service))
        serving = status == "SERVING"
        self._close(record, began, "ok" if serving else "failed", None, status)
        return serving

    async def wait_ready(self, service: str) -> None:
        """Until ``service`` is ready, within its ``ready-timeout-s``."""
        hooks = self.hooks(service)

        async def ready() -> bool | None:
            try:
                return True if await self.ready_once(service) else None
            except HookFailed as err:
                raise ComponentDied(str(err)) from None  # not started: waiting cannot help

        try:
            await eventually(
                ready,
                timeout_s=hooks.ready_timeout_s,
                interval_s=hooks.ready_interval_s,
                pending=lambda: f"{service} ready ({mask(hooks.readiness or '', self.secrets)})",
            )
        except ComponentDied as err:
            raise HookFailed(str(err)) from None
        except WaitTimeout as err:
            raise NotReadyError(f"target {self.profile.name!r}: {err}") from None

    async def bring_back(self, service: str) -> None:
        """Start (else restart) ``service``, then wait until it is ready."""
        hooks = self.hooks(service)
        await self.run(service, "start" if hooks.start else "restart")
        await self.wait_ready(service)


async def health_status(
    address: str, service_name: str, timeout_s: float, tls: ServiceTLS | None = None
) -> str:
    """What ``address``'s grpc.health.v1 says of ``service_name`` (``SERVING`` ...), or
    the error's code when it does not answer (``UNAVAILABLE: ...``)."""
    from harness.target.pause_seen import check

    answer = await check(address, service_name, timeout_s, tls)
    if isinstance(answer, str):
        return answer
    return f"{answer.code().name}: {answer.details()}"


async def finish(undo: Awaitable[T]) -> T:
    """Await an undo to its end even when the caller is cancelled meanwhile (a second
    Ctrl-C): the undo is bounded by its hooks' timeouts, and a half-done undo would
    leave the target broken. The cancellation is re-raised once it is done."""
    task = asyncio.ensure_future(undo)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    result = task.result()
    if cancelled:
        raise asyncio.CancelledError
    return result


KILL_MISSING = (
    "no kill hook with start or restart, readiness, and a grpc.health.v1 address to see "
    "the kill land (ready-grpc-health; for Stigma, stigma-address)"
)


def health_name(service: str) -> str:
    """The grpc.health.v1 service name the harness asks ``service`` about ("": the
    server as a whole, what a Zigflow's health answers for)."""
    return contract.STIGMA_SERVICE if service == "stigma" else ""


async def kill_watch(runner: HookRunner, service: str) -> KillWatch:
    """A Watch on ``service`` that its kill will end (``harness.target.kill_seen``),
    opened while it serves."""
    from harness.target.kill_seen import KillWatch

    address = runner.profile.health_address(service)
    if address is None or not runner.profile.can_kill(service):
        raise HookFailed(f"{service}: {KILL_MISSING}")
    timeout_s = runner.hooks(service).hook_timeout_s
    return await KillWatch.open(
        service, address, health_name(service), timeout_s, runner.profile.grpc_tls(service)
    )


@contextlib.asynccontextmanager
async def service_killed(
    runner: HookRunner, service: str, watch: KillWatch | None = None
) -> AsyncIterator[str]:
    """``service`` killed by its hook, the kill seen to land (``harness.target.
    kill_seen``: yields how); on leaving, however, started again and ready. ``watch``:
    one opened earlier, while it served (a frozen service answers no new Watch), else
    one is opened now; closed here either way."""
    if not runner.profile.can_kill(service):
        raise HookFailed(f"{service}: {KILL_MISSING}")
    hooks = runner.hooks(service)
    watch = watch or await kill_watch(runner, service)
    try:
        try:
            await runner.run(service, "kill")
            seen = await watch.landed(hooks.hook_timeout_s)
        finally:
            await watch.close()
        yield seen
    finally:
        await finish(runner.bring_back(service))


PAUSE_MISSING = (
    "no pause and resume hooks with a grpc.health.v1 address to see the pause land "
    "(ready-grpc-health; for Stigma, stigma-address)"
)


@contextlib.asynccontextmanager
async def service_paused(
    runner: HookRunner, service: str, *, thaw_seen: bool = True
) -> AsyncIterator[str]:
    """``service`` paused by its hook, the pause seen to land (its grpc.health.v1 no
    longer answers: ``harness.target.pause_seen``; yields how); on leaving, however,
    resumed and (``thaw_seen``) seen answering SERVING again. A game day passes False:
    whether the service comes back is what its recover window measures and reports."""
    from harness.target import pause_seen

    address = runner.profile.health_address(service)
    if address is None or not runner.profile.can_pause(service):
        raise HookFailed(f"{service}: {PAUSE_MISSING}")
    hooks = runner.hooks(service)
    name = health_name(service)
    tls = runner.profile.grpc_tls(service)
    await pause_seen.serving_before(service, address, name, hooks.hook_timeout_s, tls)
    try:
        await runner.run(service, "pause")
        yield await pause_seen.frozen(service, address, name, hooks.hook_timeout_s, tls)
    finally:

        async def resumed() -> None:
            await runner.run(service, "resume")
            if thaw_seen:
                await pause_seen.thawed(service, address, name, hooks.ready_timeout_s, tls)

        await finish(resumed())


async def service_restarted(runner: HookRunner, service: str) -> None:
    """``service`` restarted (its restart hook, else kill then start) and ready."""
    if runner.hooks(service).restart:
        await runner.run(service, "restart")
        await runner.wait_ready(service)
        return
    async with service_killed(runner, service):
        pass


async def _pump(proc: asyncio.subprocess.Process, into: bytearray) -> None:
    """Collect a hook's output as it comes (kept whole up to a bound: the tail is what
    the record keeps), so a timeout still shows what the hook had said."""
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(65536):
        into.extend(chunk)
        del into[: max(0, len(into) - 16 * TAIL_CHARS)]


async def _drained(reader: asyncio.Task[None]) -> None:
    # After the hook's exit its output ends at once, unless something it started in
    # the background still holds the pipe: that is not worth waiting for.
    try:
        await asyncio.wait_for(asyncio.shield(reader), timeout=1.0)
    except TimeoutError:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _end(proc: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
    """Kill a hook's process group (the session it was started in: only what the hook
    started), reap it, and stop reading its output."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    await _drained(reader)
