"""What happened, recorded as a history (Jepsen style) that checkers read.

Operations: ``invoke`` then exactly one of ``ok`` / ``fail`` / ``unknown``
(unknown: the harness stopped waiting, the outcome is not known). Faults go on
a separate timeline on the same clock. After the run, each call is joined with
the Temporal histories of its Zigflow workflow and Stigma executions.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.observe.traces import StigmaTrace, ZigflowTrace

OpType = Literal["invoke", "ok", "fail", "unknown"]


@dataclass(frozen=True)
class Op:
    type: OpType
    call_id: str
    f: str  # what the operation is: "plan" (a Zigflow workflow), "probe", ...
    t: float  # seconds since the history began (monotonic)
    wall: float  # epoch seconds, to line up with server timestamps and logs
    value: Any = None


@dataclass(frozen=True)
class FaultEvent:
    t: float
    wall: float
    phase: Literal["start", "stop"]
    name: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Call:
    """One logical call (a Zigflow workflow run) and everything known about it."""

    call_id: str
    f: str
    plan: dict[str, Any]
    zigflow: ZigflowTrace | None = None
    stigma: dict[str, StigmaTrace] = field(default_factory=dict)  # by activity id
    # Every run of each Stigma execution id, oldest first (``stigma`` is the newest):
    # a key started again as a new run is a second agent the newest run does not show.
    stigma_runs: dict[str, list[StigmaTrace]] = field(default_factory=dict)
    # The harness's own record of each agent attempt it ran (harness/stack/agent.py), by
    # activity id of the Zigflow state
    agents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Temporal's own JSON of each workflow history, by workflow id (evidence as recorded)
    raw_histories: dict[str, dict[str, Any]] = field(default_factory=dict)


class History:
    def __init__(self, name: str) -> None:
        self.name = name
        self._t0 = time.monotonic()
        self.ops: list[Op] = []
        self.faults: list[FaultEvent] = []
        self.calls: dict[str, Call] = {}
        self.checks: list[dict[str, Any]] = []  # verdicts, see harness.judge.expect
        # figures a scenario measured for the report (e.g. virtual time skipped)
        self.measurements: dict[str, Any] = {}

    def now(self) -> tuple[float, float]:
        return time.monotonic() - self._t0, time.time()

    def _add(self, type_: OpType, call_id: str, f: str, value: Any) -> Op:
        t, wall = self.now()
        op = Op(type_, call_id, f, t, wall, value)
        self.ops.append(op)
        return op

    def invoke(self, call_id: str, f: str, plan: dict[str, Any]) -> Op:
        self.calls[call_id] = Call(call_id, f, plan)
        return self._add("invoke", call_id, f, plan)

    def complete(self, call_id: str, type_: OpType, value: Any) -> Op:
        return self._add(type_, call_id, self.calls[call_id].f, value)

    def fault(self, phase: Literal["start", "stop"], name: str, target: str, **detail: Any) -> None:
        t, wall = self.now()
        self.faults.append(FaultEvent(t, wall, phase, name, target, detail))

    def outcome(self, call_id: str) -> Op | None:
        for op in reversed(self.ops):
            if op.call_id == call_id and op.type != "invoke":
                return op
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ops": [asdict(op) for op in self.ops],
            "faults": [asdict(f) for f in self.faults],
            "checks": self.checks,
            "measurements": self.measurements,
            "calls": {
                cid: {
                    "f": c.f,
                    "plan": c.plan,
                    "zigflow": asdict(c.zigflow) if c.zigflow else None,
                    "stigma": {k: asdict(v) for k, v in c.stigma.items()},
                    "stigma_runs": {
                        k: [asdict(run) for run in runs] for k, runs in c.stigma_runs.items()
                    },
                    "agents": c.agents,
                    "temporal_histories": c.raw_histories,
                }
                for cid, c in self.calls.items()
            },
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, default=str)
