"""A session's stacks by kind: what a ``@pytest.mark.stack`` asks for, and each distinct
stack started once, kinds that come out the same sharing one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.config import DEV, TIME_SKIPPING, StackConfig, same_stack
from harness.errors import ConfigError, NotReadyError
from harness.stack import pool
from harness.stack.pool import StackKind, StackPool

pytestmark = pytest.mark.unit

BASE = StackConfig(relay=True)


@dataclasses.dataclass
class FakeStack:
    config: StackConfig
    run_id: str
    stopped: bool = False


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[FakeStack]:
    """Every stack the pool starts (a fake: no servers), in order."""
    found: list[FakeStack] = []

    @contextlib.asynccontextmanager
    async def fake_start(config: StackConfig, run_id: str) -> AsyncIterator[FakeStack]:
        if config.temporal == "refused:1":
            raise NotReadyError("temporal never came up")
        stack = FakeStack(config, run_id)
        found.append(stack)
        try:
            yield stack
        finally:
            stack.stopped = True

    monkeypatch.setattr(pool, "start_stack", fake_start)
    return found


def test_the_marker_asks_for_a_real_clock_and_chaos_and_nothing_else() -> None:
    assert StackKind.of() == StackKind()
    assert StackKind.of((), {"real_clock": True, "chaos": True}) == StackKind(True, True)
    with pytest.raises(ConfigError, match="got chaoss"):
        StackKind.of((), {"chaoss": True})
    with pytest.raises(ConfigError, match="positional"):
        StackKind.of((True,), {})
    with pytest.raises(ConfigError, match="chaos must be True or False"):
        StackKind.of((), {"chaos": "yes"})


def test_a_kind_is_the_session_config_made_real_or_chaotic() -> None:
    assert StackKind().config(BASE) == BASE
    assert StackKind(real_clock=True).config(BASE).temporal == DEV
    external = dataclasses.replace(BASE, temporal="temporal.internal:7233")
    assert StackKind(real_clock=True).config(external) == external  # already real
    chaos = StackKind(chaos=True).config(StackConfig())
    assert (chaos.chaos, chaos.relay, chaos.temporal) == (True, True, TIME_SKIPPING)


def test_a_blob_limit_is_a_dev_server_of_its_own_told_to_the_services() -> None:
    assert StackKind.of((), {"blob_limit_bytes": 100_000}) == StackKind(blob_limit_bytes=100_000)
    with pytest.raises(ConfigError, match="blob_limit_bytes"):
        StackKind.of((), {"blob_limit_bytes": True})
    lowered = StackKind(real_clock=True, blob_limit_bytes=100_000).config(BASE)
    assert (lowered.temporal, lowered.payload_limit_bytes) == (DEV, 100_000)
    assert lowered.servers.dev_dynamic_config == (
        "limit.blobSize.error=100000",
        "limit.blobSize.warn=50000",
    )
    assert not same_stack(lowered, StackKind(real_clock=True).config(BASE))
    assert StackKind(blob_limit_bytes=100_000).suffix == "-blob100000"
    # A cluster's limit is the cluster's: nothing to lower, the setting's value stays.
    external = dataclasses.replace(BASE, temporal="temporal.internal:7233")
    assert StackKind(blob_limit_bytes=100_000).config(external) == external


async def test_each_distinct_stack_starts_once_and_all_stop_at_the_end(
    started: list[Any],
) -> None:
    async with StackPool(BASE, "gw0-1") as stacks:
        chaos = await stacks.get(StackKind(chaos=True))
        assert await stacks.get(StackKind(chaos=True)) is chaos
        default = await stacks.get(StackKind())
        real = await stacks.get(StackKind(real_clock=True))
        assert len({id(chaos), id(default), id(real)}) == 3
        assert [s.run_id for s in started] == ["gw0-1-chaos", "gw0-1", "gw0-1-real"]
    assert all(s.stopped for s in started)


async def test_kinds_that_are_the_same_stack_share_it(started: list[Any]) -> None:
    async with StackPool(dataclasses.replace(BASE, temporal=DEV), "main-1") as stacks:
        assert await stacks.get(StackKind()) is await stacks.get(StackKind(real_clock=True))
    assert len(started) == 1


async def test_on_a_deployed_target_every_kind_is_the_deployment(started: list[Any]) -> None:
    deployment: Any = object()
    async with StackPool(BASE, "main-1", deployment) as stacks:
        assert await stacks.get(StackKind(real_clock=True, chaos=True)) is deployment
    assert started == []


async def test_a_stack_that_failed_to_start_fails_again_at_once(started: list[Any]) -> None:
    refused = dataclasses.replace(BASE, temporal="refused:1")
    async with StackPool(refused, "main-1") as stacks:
        with pytest.raises(NotReadyError) as first:
            await stacks.get(StackKind())
        with pytest.raises(NotReadyError) as again:
            await stacks.get(StackKind())
        assert again.value is first.value


async def test_prestarted_kinds_start_once_in_the_background_and_are_handed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[str] = []
    begun, go = asyncio.Event(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def held_start(config: StackConfig, run_id: str) -> AsyncIterator[FakeStack]:
        runs.append(run_id)
        begun.set()
        await go.wait()  # the start is under way until the test lets it finish
        yield FakeStack(config, run_id)

    monkeypatch.setattr(pool, "start_stack", held_start)
    async with StackPool(BASE, "gw0-1") as stacks:
        # the same kind twice starts once; a second call in a session is ignored
        stacks.prestart([StackKind(chaos=True), StackKind(chaos=True)])
        stacks.prestart([StackKind(real_clock=True)])
        await begun.wait()
        # a test of that kind, while its start is under way, waits for that start
        wanted = asyncio.ensure_future(stacks.get(StackKind(chaos=True)))
        await asyncio.sleep(0)  # lets it run up to its wait: a scheduling step
        go.set()
        chaos = await wanted
        assert chaos.run_id == "gw0-1-chaos"
        assert await stacks.get(StackKind(chaos=True)) is chaos
    assert runs == ["gw0-1-chaos"]


async def test_a_prestart_that_failed_fails_the_test_that_asks_for_its_kind(
    started: list[Any],
) -> None:
    refused = dataclasses.replace(BASE, temporal="refused:1")
    async with StackPool(refused, "main-1") as stacks:
        stacks.prestart([StackKind()])
        with pytest.raises(NotReadyError, match="never came up") as first:
            await stacks.get(StackKind())
        with pytest.raises(NotReadyError) as again:
            await stacks.get(StackKind())
        assert again.value is first.value
