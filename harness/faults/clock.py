"""Virtual time that moves past pending async activities.

The time-skipping test server keeps one counted "time-skipping lock" per
outstanding activity and only skips when the count is zero. An activity that
went "result pending" holds its lock until it is completed, failed, cancelled
or timed out, so while an agent runs neither automatic skipping nor
``env.sleep()`` moves time (../shared/handshake-facts.md).

``TimeSkippingClock.advance(d)`` therefore:

1. waits until the watched workflows are quiescent (no workflow task in
   flight) and counts their outstanding activities, k;
2. releases k locks on their behalf, then calls UnlockTimeSkippingWithSleep(d'),
   which unlocks the stack's own base lock and schedules an alarm at now+d'
   that takes a lock again: with the count at zero the server jumps to the
   earliest due timer, fires everything due in order, and stops at the alarm;
3. takes the k locks back, so the count is balanced again.

A lock released on an activity's behalf must not be released a second time by
that activity resolving during the hop (the server would raise "Unbalanced
lock and unlock calls"). So each hop stops ``margin`` short of the earliest
deadline of any outstanding activity (StartToClose or heartbeat timeout, read
from the server), and that activity is left to time out at wall speed before
the next hop. A 24 h timeout costs about ``margin`` of wall time. The margin only has
to cover the wall time between reading the server's clock and the server taking the
hop (releasing k locks and the sleep call: at most 15 ms measured on a loaded 2-core
machine), or the harness's heartbeat RPC after a hop: 250 ms leaves ample room, where
1 s cost the gate about 13 s of waiting over its timeouts.

An activity with a heartbeat timeout that the harness itself keeps alive (its own
agent, ``harness/stack/agent.py``) is different: it never resolves by itself, and a hop
past its heartbeat deadline would time it out in virtual time, as if the agent had
died. So a hop stops ``margin`` short of such a deadline too, the harness heartbeats
that agent by token, and the next hop starts from the new deadline: time passes in
steps of the agent's heartbeat timeout (Stigma's choice), each a few RPCs.

The watched workflows are every workflow the scenarios on one stack started, while it
runs, not only the current scenario's: the stack (and its server) is shared by the
scenarios a worker runs in turn, and an earlier one's execution still open (a Stigma
execution retrying, or waiting for a retry's token) holds locks of its own, which a
hop that released only the current scenario's would leave held: the server then
never skips. A hop the server does not take within ``settle_timeout_s`` fails with
``ClockError`` saying so.

``WallClock`` (dev server, external cluster) cannot skip; scenarios that need
long waits use short configured timeouts there instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import google.protobuf.empty_pb2
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.api.testservice.v1.request_response_pb2 import SleepRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from harness.errors import HarnessError
from harness.waits import eventually


class ClockError(HarnessError):
    """The clock cannot do what was asked (e.g. skip time on a real server)."""


@dataclass
class Hop:
    skipped_s: float
    outstanding: int


@dataclass
class AdvanceReport:
    requested_s: float
    virtual_s: float = 0.0
    wall_s: float = 0.0
    hops: list[Hop] = field(default_factory=list)


class Clock(Protocol):
    can_skip: bool

    def watch(self, workflow_ids: Iterable[str]) -> None: ...

    async def now(self) -> datetime: ...

    async def advance(self, duration: timedelta) -> AdvanceReport: ...


class WallClock:
    """Real time: advance() just lets it pass, and refuses long waits."""

    can_skip = False

    def __init__(self, max_wait: timedelta = timedelta(seconds=30)) -> None:
        self._max_wait = max_wait

    def watch(self, workflow_ids: Iterable[str]) -> None:
        del workflow_ids

    async def now(self) -> datetime:
        return datetime.now(UTC)

    async def advance(self, duration: timedelta) -> AdvanceReport:
        if duration > self._max_wait:
            raise ClockError(
                f"cannot wait {duration} on a server without time skipping (limit "
                f"{self._max_wait}): configure a short timeout for this scenario instead"
            )
        start = asyncio.get_running_loop().time()
        await asyncio.sleep(duration.total_seconds())  # the point is to let real time pass
        wall = asyncio.get_running_loop().time() - start
        return AdvanceReport(duration.total_seconds(), wall, wall)


@dataclass
class _Outstanding:
    workflow_id: str
    activity_id: str
    deadline: datetime | None  # the earliest of every deadline
    heartbeat_deadline: datetime | None = None
    hard_deadline: datetime | None = None  # every deadline except the heartbeat's
    # Which attempt: a timed-out attempt that is retried stays outstanding under the same
    # activity id, as the next attempt (in backoff, then started).
    attempt: int = 0


class Beater(Protocol):
    """Whoever can heartbeat some outstanding activities on demand (the harness's agents)."""

    def beatable(self) -> set[tuple[str, str]]:
        """(workflow id, activity id) of the activities it keeps alive."""
        ...

    async def beat(self, running: set[tuple[str, str]]) -> None: ...


# How far short of an activity's deadline a hop stops (see the module docstring).
MARGIN = timedelta(milliseconds=250)
# A hop that stops short of an activity's deadline is followed by a wall-speed wait for
# it to resolve: the margin, then the server's timeout and the probe that sees it. Our
# own agents whose heartbeat deadline falls that close after it are heartbeaten first.
BEAT_AHEAD = timedelta(seconds=2)


class TimeSkippingClock:
    can_skip = True

    def __init__(
        self,
        client: Client,
        *,
        margin: timedelta = MARGIN,
        settle_timeout_s: float = 30.0,
        beater: Beater | None = None,
        watched: dict[str, None] | None = None,
    ) -> None:
        self._client = client
        self._beater = beater
        self._margin = margin
        self._settle_timeout_s = settle_timeout_s
        # Shared by every clock on one stack (the module docstring says why).
        self._watched: dict[str, None] = {} if watched is None else watched
        self._timeouts: dict[tuple[str, str], tuple[timedelta | None, timedelta | None]] = {}

    def watch(self, workflow_ids: Iterable[str]) -> None:
        for wf in workflow_ids:
            self._watched[wf] = None

    async def now(self) -> datetime:
        resp = await self._client.test_service.get_current_time(google.protobuf.empty_pb2.Empty())
        return resp.time.ToDatetime().replace(tzinfo=UTC)

    async def advance(self, duration: timedelta) -> AdvanceReport:
        loop = asyncio.get_running_loop()
        started_wall = loop.time()
        start = await self.now()
        target = start + duration
        report = AdvanceReport(duration.total_seconds())
        while True:
            outstanding = await self._quiescent_outstanding()
            now = await self.now()
            remaining = target - now
            if remaining <= timedelta(milliseconds=50):
                break
            alive = self._beater.beatable() if self._beater else set()
            kept = [o for o in outstanding if (o.workflow_id, o.activity_id) in alive]
            beats = [o.heartbeat_deadline for o in kept if o.heartbeat_deadline is not None]
            deadlines = [
                o.hard_deadline if (o.workflow_id, o.activity_id) in alive else o.deadline
                for o in outstanding
            ]
            nearest = min((d for d in deadlines if d is not None), default=None)
            beat = min(beats, default=None)
            if (
                beat is not None
                and beat - self._margin < target
                and (nearest is None or beat < nearest + BEAT_AHEAD)
            ):
                # One of our own agents would look dead past this: hop to just short of
                # its heartbeat deadline (or of the nearest one, if that comes first),
                # heartbeat it, go on from the new deadline. An agent whose deadline falls
                # in the wall-speed wait for the nearest activity to resolve is beaten
                # before that wait, not after it.
                hop = min(beat, nearest or beat) - self._margin - now
                if hop > timedelta(milliseconds=50):
                    await self._hop(hop, len(outstanding), report)
                assert self._beater is not None
                await self._beater.beat({(o.workflow_id, o.activity_id) for o in kept})
                continue
            if nearest is not None and nearest - self._margin < target:
                hop = nearest - self._margin - now
                if hop > timedelta(milliseconds=50):
                    await self._hop(hop, len(outstanding), report)
                # Let that activity resolve on its own, at wall speed, holding its lock.
                due = {
                    (o.workflow_id, o.activity_id, o.attempt)
                    for o in outstanding
                    if o.deadline == nearest
                }
                await self._resolved(due)
            else:
                await self._hop(remaining, len(outstanding), report)
        report.virtual_s = (await self.now() - start).total_seconds()
        report.wall_s = loop.time() - started_wall
        return report

    async def _hop(self, duration: timedelta, outstanding: int, report: AdvanceReport) -> None:
        service = self._client.test_service
        released = 0
        try:
            for _ in range(outstanding):
                await service.unlock_time_skipping(UnlockTimeSkippingRequest())
                released += 1
            request = SleepRequest()
            request.duration.FromTimedelta(duration)
            try:
                await asyncio.wait_for(
                    service.unlock_time_skipping_with_sleep(request), self._settle_timeout_s
                )
            except TimeoutError:
                raise ClockError(
                    f"the time-skipping server did not skip {duration} within "
                    f"{self._settle_timeout_s:g} s: a lock is held beyond the {outstanding} "
                    "released for the watched workflows' outstanding activities (by a "
                    "workflow no scenario on this stack started?)"
                ) from None
        finally:
            for _ in range(released):
                await service.lock_time_skipping(LockTimeSkippingRequest())
        report.hops.append(Hop(duration.total_seconds(), outstanding))

    async def _resolved(self, due: set[tuple[str, str, int]]) -> None:
        """Until each of these attempts is resolved (its activity closed, or retried as
        a later attempt)."""

        async def probe() -> bool | None:
            current = {(o.workflow_id, o.activity_id, o.attempt) for o in await self._outstanding()}
            return True if not (due & current) else None

        await eventually(
            probe,
            timeout_s=self._settle_timeout_s + self._margin.total_seconds(),
            pending=lambda: f"activities past their deadline still outstanding: {sorted(due)}",
        )

    async def _quiescent_outstanding(self) -> list[_Outstanding]:
        """Outstanding activities once no watched workflow has a workflow task in flight
        (a workflow task holds a lock too, and is about to change the count)."""
        result: list[_Outstanding] = []

        async def probe() -> bool | None:
            nonlocal result
            busy, result = await self._scan()
            return None if busy else True

        await eventually(
            probe,
            timeout_s=self._settle_timeout_s,
            pending=lambda: "watched workflows to finish their in-flight workflow tasks",
            interval_s=0.05,
        )
        return result

    async def _outstanding(self) -> list[_Outstanding]:
        return (await self._scan())[1]

    async def _scan(self) -> tuple[list[str], list[_Outstanding]]:
        busy: list[str] = []
        found: list[_Outstanding] = []
        for wf in list(self._watched):
            try:
                desc = await self._client.get_workflow_handle(wf).describe()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue  # not started yet, or never: holds no lock
                raise
            if desc.status is None or desc.status.name != "RUNNING":
                self._watched.pop(wf, None)
                continue
            raw = desc.raw_description
            if raw.HasField("pending_workflow_task") or await self._task_in_flight(wf):
                busy.append(wf)
            for pa in raw.pending_activities:
                found.append(await self._deadlines(wf, pa))
        return busy, found

    async def _task_in_flight(self, workflow_id: str) -> bool:
        """The history ends in a workflow task not yet completed. The time-skipping server
        does not report it as pending_workflow_task, and a workflow whose first task is
        still in flight (a cold JVM takes a few hundred ms after its ACK) is about to
        schedule activities that each take a lock: a hop counted before it would release
        too few locks, and the server could never skip."""
        last = None
        async for ev in self._client.get_workflow_handle(workflow_id).fetch_history_events():
            last = ev.event_type
        return last in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        )

    async def _deadlines(self, workflow_id: str, pa: Any) -> _Outstanding:
        found = _Outstanding(workflow_id, pa.activity_id, None, attempt=int(pa.attempt))
        if pa.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            return found  # not started: its StartToClose has not begun
        start_to_close, heartbeat = await self._activity_timeouts(workflow_id, pa.activity_id)
        started = pa.last_started_time.ToDatetime().replace(tzinfo=UTC)
        hard = []
        if start_to_close:
            hard.append(started + start_to_close)
        if pa.HasField("expiration_time"):
            hard.append(pa.expiration_time.ToDatetime().replace(tzinfo=UTC))
        if heartbeat:
            beat = (
                pa.last_heartbeat_time.ToDatetime().replace(tzinfo=UTC)
                if pa.HasField("last_heartbeat_time")
                else started
            )
            found.heartbeat_deadline = max(beat, started) + heartbeat
        found.hard_deadline = min(hard, default=None)
        found.deadline = min(
            (d for d in (found.hard_deadline, found.heartbeat_deadline) if d is not None),
            default=None,
        )
        return found

    async def _activity_timeouts(
        self, workflow_id: str, activity_id: str
    ) -> tuple[timedelta | None, timedelta | None]:
        key = (workflow_id, activity_id)
        if key not in self._timeouts:
            history = await self._client.get_workflow_handle(workflow_id).fetch_history()
            for ev in history.events:
                if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                    a = ev.activity_task_scheduled_event_attributes
                    self._timeouts[(workflow_id, a.activity_id)] = (
                        a.start_to_close_timeout.ToTimedelta()
                        if a.HasField("start_to_close_timeout")
                        else None,
                        a.heartbeat_timeout.ToTimedelta()
                        if a.HasField("heartbeat_timeout")
                        else None,
                    )
        return self._timeouts.get(key, (None, None))
