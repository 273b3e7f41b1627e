"""The stacks of a test session: one per kind a scenario asks for, started when first
asked for and kept until the session ends.

A scenario says what it needs of its stack (``StackKind``: a real clock, links through
Toxiproxy and the harness's relays); the pool starts each distinct stack once, because
a stack costs seconds to start and every test of a kind can share it. Kinds that come
out as the same stack share it: with ``--temporal dev`` a real-clock stack is the
session's default one; on a deployed target every kind is the deployment, its one set
of services.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from harness import spans
from harness.config import DEV, TIME_SKIPPING, StackConfig, blob_limit_config, same_stack
from harness.errors import ConfigError
from harness.stack.stack import Stack, start_stack


@dataclasses.dataclass(frozen=True)
class StackKind:
    """What a scenario needs of its stack (``@pytest.mark.stack(...)``).

    ``real_clock``: a real Temporal server (a dev server when the session's is the
    time-skipping one, whose virtual clock does not redeliver a workflow task parked on
    a SIGKILLed worker's sticky queue, so a kill there would test the test server).
    ``chaos``: every link through a Toxiproxy proxy, with the harness's relays in the
    path (they can lose ACKs, damage tokens, refuse completions); without it the links
    still carry the relays, which only watch.
    ``blob_limit_bytes``: the dev server refuses payloads over this many bytes (its
    ``limit.blobSize.error``; 0: the server's own 2 MiB), and the services are told so
    (``STIGMA_MAX_PAYLOAD_BYTES``), so a scenario meets the limit with small payloads.
    Implies a real clock (the time-skipping server has no limit). On a cluster the
    harness did not start the limit is the cluster's (``HANDSHAKE_PAYLOAD_LIMIT_BYTES``):
    the kind is then that stack, and a scenario sizes its payloads from
    ``stack.config.payload_limit_bytes``."""

    real_clock: bool = False
    chaos: bool = False
    blob_limit_bytes: int = 0

    @classmethod
    def of(cls, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None) -> StackKind:
        """The kind a marker's arguments ask for; a ConfigError naming what is wrong."""
        kwargs = dict(kwargs or {})
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(fields))
        if args or unknown:
            raise ConfigError(
                "stack marker: takes only "
                + ", ".join(f"{f}=True|False" for f in fields if f != "blob_limit_bytes")
                + ", blob_limit_bytes=N"
                + (f"; got {', '.join(unknown)}" if unknown else "; got positional arguments")
            )
        limit = kwargs.get("blob_limit_bytes", 0)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"stack marker: blob_limit_bytes={limit!r} must be bytes, 0 or more")
        wrong = sorted(
            k for k, v in kwargs.items() if k != "blob_limit_bytes" and not isinstance(v, bool)
        )
        if wrong:
            raise ConfigError(f"stack marker: {', '.join(wrong)} must be True or False")
        return cls(**kwargs)

    def config(self, base: StackConfig) -> StackConfig:
        """The session's stack config ``base`` made into this kind."""
        config = base
        if self.real_clock and base.temporal == TIME_SKIPPING:
            config = dataclasses.replace(config, temporal=DEV)
        if self.chaos:
            # The relays too, whatever ``base`` says: a chaos scenario may lose ACKs,
            # damage tokens or refuse completions, which only the relays can do.
            config = dataclasses.replace(config, chaos=True, relay=True)
        if self.blob_limit_bytes:
            if config.temporal == TIME_SKIPPING:
                config = dataclasses.replace(config, temporal=DEV)
            if not config.external:
                config = dataclasses.replace(
                    config,
                    payload_limit_bytes=self.blob_limit_bytes,
                    servers=dataclasses.replace(
                        config.servers,
                        dev_dynamic_config=config.servers.dev_dynamic_config
                        + blob_limit_config(self.blob_limit_bytes),
                    ),
                )
        return config

    @property
    def suffix(self) -> str:
        """The stack's run-id suffix: its queues and log directory say which kind it is."""
        parts = (("real", self.real_clock), ("chaos", self.chaos))
        limit = f"-blob{self.blob_limit_bytes}" if self.blob_limit_bytes else ""
        return "".join(f"-{name}" for name, on in parts if on) + limit


class StackPool:
    """Each distinct stack of a session, started on first use, stopped at the end (in
    reverse order). A stack that failed to start fails the same way for every later
    test of its kind, at once, as a failed session fixture does.

    ``prestart`` starts the stacks of kinds the session is going to use in the
    background, one after another, while tests run on the stacks already up: a stack's
    start is mostly its services' interpreters importing, and the tests mostly wait on
    real time, so the two overlap. A test whose kind is still starting waits for it (its
    "stack start"); one whose start failed fails as if it had started it itself."""

    def __init__(self, base: StackConfig, run_id: str, deployment: Stack | None = None):
        self.base = base
        self.run_id = run_id
        self.deployment = deployment
        self._started: list[Stack] = []
        self._failed: list[tuple[StackConfig, BaseException]] = []
        self._starting: list[tuple[StackConfig, asyncio.Future[Stack]]] = []
        self._queued: list[StackKind] = []
        self._prestarter: asyncio.Task[None] | None = None
        self._exit = contextlib.AsyncExitStack()

    async def get(self, kind: StackKind) -> Stack:
        if self.deployment is not None:
            return self.deployment
        config = kind.config(self.base)
        for running in self._started:
            if same_stack(running.config, config):
                return running
        for failed, err in self._failed:
            if same_stack(failed, config):
                raise err
        # The first test of its kind pays for the start (or what is left of one begun
        # in the background): its setup's "stack start".
        with spans.span(spans.STACK_START):
            for starting, future in self._starting:
                if same_stack(starting, config):
                    return await asyncio.shield(future)
            return await self._start(kind, config)

    async def _start(self, kind: StackKind, config: StackConfig) -> Stack:
        future: asyncio.Future[Stack] = asyncio.get_running_loop().create_future()
        self._starting.append((config, future))
        try:
            running = await self._exit.enter_async_context(
                start_stack(config, run_id=self.run_id + kind.suffix)
            )
        except Exception as err:
            self._failed.append((config, err))
            future.set_exception(err)
            future.exception()  # retrieved: a start nobody awaited is not an error to log
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._starting.remove((config, future))
        self._started.append(running)
        future.set_result(running)
        return running

    def prestart(self, kinds: Sequence[StackKind]) -> None:
        """Start these kinds' stacks in the background, in this order, one at a time,
        each unless it is running, starting or failed by the time its turn comes. Once
        a session: later calls do nothing."""
        if self.deployment is not None or self._prestarter is not None:
            return  # once a session
        self._queued.extend(kinds)
        self._prestarter = asyncio.ensure_future(self._prestart())

    async def _prestart(self) -> None:
        spans.background()  # this task's own context: no test's phases
        while self._queued:
            kind = self._queued.pop(0)
            config = kind.config(self.base)
            known = [c for c in self._started_configs() if same_stack(c, config)]
            if not known:
                # A failure is kept for the test that asks for this kind (``get``).
                with contextlib.suppress(Exception):
                    await self._start(kind, config)

    def _started_configs(self) -> list[StackConfig]:
        return [
            *(s.config for s in self._started),
            *(c for c, _ in self._failed),
            *(c for c, _ in self._starting),
        ]

    async def __aenter__(self) -> StackPool:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A start under way is let finish (cancelled half-way, it could leave a process
        # behind), then everything started is stopped.
        self._queued.clear()
        if self._prestarter is not None:
            await asyncio.gather(self._prestarter, return_exceptions=True)
        await self._exit.aclose()
