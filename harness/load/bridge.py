"""The asyncio side of a load run, in its own process: ``python -m harness.load.bridge``.

Why a process: Locust monkey-patches the standard library with gevent at import
time, and temporalio (asyncio plus a Rust core calling back from its own threads)
does not work under that patching. A native thread inside the Locust process would
still share the patched ``socket``/``selectors``/``threading`` modules, so the
temporalio client lives here, in a process that never imports gevent, and Locust
talks to it over pipes: one JSON line per request on stdin, one per answer on stdout.

Without a target address it brings up a local stack of its own, of the services in
HANDSHAKE_ZIGFLOW_CMD / HANDSHAKE_STIGMA_CMD (set by run.py or the locustfile; unset:
the reference); a bad value exits 2 with a message naming the variable.

Protocol:
  stdin   {"id": 1, "plan": {...}, "expect": <agent output>}   one handshake to run
          {"id": 2, "command": "stages"}   LOAD_STAGES=after: the load is over, read
                                           the stages of what has answered
  stdout  {"event": "ready", "target": "...", "pids": {...}}   once connected
          {"id": 1, "ok": true, "e2e_ms": .., "ack_ms": .., "overhead_ms": .., "error": ""}
          (a handshake given up on after LOAD_CALL_TIMEOUT_S also says "resolved": false:
          its workflow had not closed, the answer is the load's, not the service's)
          {"id": 2, "stages": [{"id": 1, "ack_ms": .., "overhead_ms": ..}, ...]}
EOF on stdin: finish what is in flight, then exit. Every answer is also appended to
``LOAD_SAMPLES`` (JSON lines) when set: the raw figures for exact percentiles, since
Locust rounds response times above 100 ms. Beside it (``started_path``), each handshake
is appended as it starts ({"workflow_id", "started_at"}, before its workflow is asked
for): with the answers, what is still in flight, which a game day watches to end a
recover window once the fault's backlog has drained.

Stages (server timestamps from both workflows' histories, as harness/judge/checkers.py):
  end_to_end  client: start_workflow -> result (what a caller of Zigflow sees)
  ack         Zigflow's activity started -> Stigma's execution started (StartAgent
              reached Stigma, which started the agent durably before its ACK)
  overhead    Zigflow's activity duration minus the agent's own work (first attempts)

When the histories are read (LOAD_STAGES): ``inline``, as each handshake answers (its
answer carries ack_ms / overhead_ms, which a plain ``locust -f`` reports and judges), or
``after`` (what ``make load`` sets): a handshake is then two RPCs (start, one long poll
for its result), and on the ``stages`` command (Locust's test stop; else at EOF), once
every handshake in flight has answered, the bridge reads both histories of each
successful one, answers their stages (Locust's own report gets them) and appends
``{"stages_of": workflow_id, "ack_ms": .., "overhead_ms": ..}`` to the samples
(figures.read_samples merges them), then one ``{"event": "stages_read", ..}`` with
this process's CPU before and after those reads: they happen outside the load window
and are reported on their own (figures.cpu_per_handshake). Reading two histories and
decoding them costs more CPU than the handshake's own two calls; during the load it
competed with the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from harness import contract, setting_names
from harness.config import StackConfig, local_servers
from harness.errors import ConfigError
from harness.load import services
from harness.load.target import LoadTarget, from_env
from harness.observe import traces
from harness.stack import plan_workflow
from harness.stack.stack import start_stack

CALL_TIMEOUT_ENV = "LOAD_CALL_TIMEOUT_S"
# A run's own id in every workflow id it starts (``load-{run_id}-{uuid}``), so that a
# game day (harness/load/gameday.py) finds and judges exactly its handshakes.
RUN_ID_ENV = "LOAD_RUN_ID"
# The files of a run's output directory: answers, and handshakes started (started_path).
SAMPLES_GLOB = "samples-*.jsonl"
STARTED_GLOB = "started-*.jsonl"
AGENT_STATE = "agent"
AGENT_ACTIVITY_ID = f"0-{AGENT_STATE}"  # Zigflow contract: state i runs as "{i}-{name}"
STAGES_ENV = "LOAD_STAGES"
STAGES_AFTER, STAGES_INLINE = setting_names.STAGE_READS
STAGES_READ = "stages_read"  # the event of the record that closes the reads after the load
# Histories read at once after the load: enough to keep the server busy, few enough
# that one bridge's reads do not queue behind each other's RPC deadlines.
STAGE_READS_AT_ONCE = 16


@dataclass
class Connection:
    client: Client
    stigma_client: Client
    zigflow_task_queue: str
    describe: str
    pids: dict[str, int | None]
    plan_task_queue: str = ""  # activity level: the harness's plan workflow runs there
    run_id: str = ""  # in every workflow id (LOAD_RUN_ID)
    call_timeout_s: float = 60.0  # a handshake's wait for its result (LOAD_CALL_TIMEOUT_S)
    stages_after: bool = False  # LOAD_STAGES=after: histories read after the load

    def start_args(self, plan: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
        """Workflow type, input and task queue for one plan, at either level."""
        if self.plan_task_queue:
            agent = contract.NAMES.zigflow_agent_activity
            return (
                plan_workflow.WORKFLOW,
                plan_workflow.plan_input(plan, self.zigflow_task_queue, agent),
                self.plan_task_queue,
            )
        return contract.NAMES.zigflow_workflow, plan, self.zigflow_task_queue


@contextlib.asynccontextmanager
async def connected(
    target: LoadTarget,
    config: StackConfig,
    *,
    run_id: str = "",
    call_timeout_s: float = 60.0,
    stages_after: bool = False,
) -> AsyncIterator[Connection]:
    """The target's clients; with no address, a local stack of ``config`` (torn down after)."""
    if target.local:
        async with start_stack(config, run_id=f"load-{os.getpid()}") as stack:
            pids = {"zigflow": stack.zigflow.pid, "stigma": stack.stigma.pid}
            if stack.temporal.process is not None:
                pids["temporal"] = stack.temporal.process.pid
            plan_queue = stack.plan_task_queue if config.zigflow_level == "activity" else ""
            yield Connection(
                stack.client,
                stack.client,
                stack.zigflow_task_queue,
                target.describe(),
                pids,
                plan_queue,
                run_id,
                call_timeout_s,
                stages_after,
            )
        return
    client = await target.connect()
    stigma_ns = target.stigma_namespace or target.namespace
    stigma = client if stigma_ns == target.namespace else await target.connect(stigma_ns)
    yield Connection(
        client,
        stigma,
        target.zigflow_task_queue,
        target.describe(),
        {},
        target.plan_task_queue,
        run_id,
        call_timeout_s,
        stages_after,
    )


def workflow_id(run_id: str = "") -> str:
    """``load-{uuid}``, or ``load-{run_id}-{uuid}`` when the run has an id."""
    return f"load-{run_id}-{uuid.uuid4().hex}" if run_id else f"load-{uuid.uuid4().hex}"


def started_path(samples: pathlib.Path) -> pathlib.Path:
    """Where a bridge whose answers go to ``samples`` records the handshakes it starts
    (``samples-X.jsonl`` -> ``started-X.jsonl``, beside it)."""
    return samples.with_name("started-" + samples.name.removeprefix("samples-"))


OnStart = Callable[[dict[str, Any]], None]


async def handshake(
    conn: Connection, request: dict[str, Any], on_start: OnStart | None = None
) -> dict[str, Any]:
    """One handshake, answered however it ends; ``on_start`` gets its workflow id and
    start time before the workflow is asked for."""
    answer = await _handshake(conn, request, on_start)
    # When the handshake resolved, either way (a failure has no e2e_ms): a game day's
    # time to recover is when the backlog of a fault window has drained.
    answer["ended_at"] = time.time()
    return answer


async def _handshake(
    conn: Connection, request: dict[str, Any], on_start: OnStart | None
) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": request.get("id"), "ok": False, "error": ""}
    answer["started_at"] = time.time()  # epoch s: run.py derives the sustained rate
    answer["workflow_id"] = wf_id = workflow_id(conn.run_id)
    if on_start is not None:
        on_start({"workflow_id": wf_id, "started_at": answer["started_at"]})
    t0 = time.monotonic()
    try:
        workflow, arg, queue = conn.start_args(request["plan"])
        handle = await conn.client.start_workflow(workflow, arg, id=wf_id, task_queue=queue)
        result = await asyncio.wait_for(handle.result(), conn.call_timeout_s)
    except WorkflowFailureError as err:
        answer["error"] = f"workflow failed: {err.cause}"
        return answer
    except TimeoutError:
        answer["error"] = f"no result within {conn.call_timeout_s:.0f}s"
        answer["resolved"] = False  # still running, or lost: not an end of the handshake
        return answer
    except RPCError as err:
        answer["error"] = f"{err.status.name}: {err.message}"
        return answer
    answer["e2e_ms"] = (time.monotonic() - t0) * 1000.0
    wrong = _wrong_result(result, request.get("expect"))
    if wrong:
        answer["error"] = wrong
        return answer
    answer["ok"] = True
    answer["run_id"] = run_id = handle.result_run_id or handle.run_id
    if not conn.stages_after:
        answer.update(await stages_of(conn, handle.id, run_id))
    return answer


async def stages_of(conn: Connection, workflow_id: str, run_id: str | None) -> dict[str, Any]:
    """ack_ms / overhead_ms of one handshake (what its histories show), or stage_error."""
    try:
        return await _stages(conn, workflow_id, run_id)
    except RPCError as err:  # figures are best effort; the handshake itself succeeded
        return {"stage_error": f"{err.status.name}: {err.message}"}


async def read_stages_after(
    conn: Connection, answers: list[dict[str, Any]], samples: TextIO | None
) -> list[dict[str, Any]]:
    """The stages of every successful handshake in ``answers`` (returned with the id of
    its request, and appended to ``samples`` as ``stages_of`` records), then the
    ``stages_read`` record with this process's CPU seconds (all its threads) before and
    after the reads."""
    began_at, began_cpu = time.time(), time.process_time()
    gate = asyncio.Semaphore(STAGE_READS_AT_ONCE)

    async def one(answer: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            found = await stages_of(conn, answer["workflow_id"], answer.get("run_id"))
        if samples is not None:
            _append(samples, {"stages_of": answer["workflow_id"], **found})
        return {"id": answer.get("id"), **found}

    ok = [a for a in answers if a.get("ok")]
    if not ok:
        return []
    stages = await asyncio.gather(*(one(a) for a in ok))
    if samples is not None:
        _append(
            samples,
            {
                "event": STAGES_READ,
                "pid": os.getpid(),
                "handshakes": len(ok),
                "began_at": began_at,
                "began_cpu_s": began_cpu,
                "ended_at": time.time(),
                "ended_cpu_s": time.process_time(),
            },
        )
    return list(stages)


def _wrong_result(result: Any, expect: Any) -> str:
    """Zigflow must resume with exactly the agent's output (crossed wires would show)."""
    try:
        state = result["states"][0]
        output = state["result"]["output"]["value"]
    except (KeyError, IndexError, TypeError):
        return f"unexpected result shape: {str(result)[:200]}"
    if state.get("status") != "ok":
        return f"state {state.get('status')}: {state.get('error_type')}"
    if output != expect:
        return f"resumed with {output!r}, expected {expect!r}"
    return ""


async def _stages(conn: Connection, workflow_id: str, run_id: str | None) -> dict[str, float]:
    converter = conn.client.data_converter
    zig_handle = conn.client.get_workflow_handle(workflow_id, run_id=run_id)
    zig = traces.read(await zig_handle.fetch_history(), converter, traces.WorkflowTrace)
    span = zig.activity(AGENT_ACTIVITY_ID)
    stigma_id = contract.stigma_workflow_id(f"{workflow_id}/{zig.run_id}/{AGENT_ACTIVITY_ID}")
    stigma_handle = conn.stigma_client.get_workflow_handle(stigma_id)
    stigma = traces.read(await stigma_handle.fetch_history(), converter, traces.StigmaTrace)
    out: dict[str, float] = {}
    if span is None:
        return out
    if span.started_at is not None and span.attempts == 1:
        out["ack_ms"] = (stigma.started_at - span.started_at) * 1000.0
    work = stigma.agent_work_s
    if span.status == "completed" and span.attempts == 1 and span.duration_s and work:
        out["overhead_ms"] = (span.duration_s - work) * 1000.0
    return out


def _emit(out: TextIO, samples: TextIO | None, message: dict[str, Any]) -> None:
    line = json.dumps(message) + "\n"  # encoded once for both (the generator's CPU)
    out.write(line)
    out.flush()
    if samples is not None and "id" in message:
        _write_line(samples, line)


def _append(file: TextIO, record: dict[str, Any]) -> None:
    _write_line(file, json.dumps(record) + "\n")


def _write_line(file: TextIO, line: str) -> None:
    """One whole JSON line, flushed: a reader of the growing file sees it at once."""
    file.write(line)
    file.flush()


def local_stack_config(env: dict[str, str], log_dir: pathlib.Path) -> StackConfig:
    """Raises ConfigError naming the variable when a command line does not parse."""
    return services.from_env(env).stack_config(log_dir, local_servers(env))


async def serve(
    target: LoadTarget,
    config: StackConfig,
    samples: TextIO | None,
    *,
    run_id: str = "",
    call_timeout_s: float = 60.0,
    started: TextIO | None = None,
    stages_after: bool = False,
) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with connected(
        target,
        config,
        run_id=run_id,
        call_timeout_s=call_timeout_s,
        stages_after=stages_after,
    ) as conn:
        _emit(sys.stdout, None, {"event": "ready", "target": conn.describe, "pids": conn.pids})
        in_flight: set[asyncio.Task[None]] = set()
        unread: list[dict[str, Any]] = []  # answered, stages still to read (after)

        def on_start(record: dict[str, Any]) -> None:
            if started is not None:
                _append(started, record)

        async def one(request: dict[str, Any]) -> None:
            answer = await handshake(conn, request, on_start)
            _emit(sys.stdout, samples, answer)
            if stages_after:
                unread.append(answer)

        async def stages(request: dict[str, Any]) -> None:
            # The load is over: the handshakes still in flight answer first, so that
            # the reads start after the load window's last answer.
            await asyncio.gather(*(t for t in set(in_flight) if t is not asyncio.current_task()))
            batch = unread[:]
            unread.clear()
            found = await read_stages_after(conn, batch, samples)
            _emit(sys.stdout, None, {"id": request.get("id"), "stages": found})

        while line := await reader.readline():
            request = json.loads(line)
            is_stages = request.get("command") == "stages"
            task = asyncio.create_task(stages(request) if is_stages else one(request))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
        if unread:  # no stages command came (e.g. Locust stopped without a test stop)
            await read_stages_after(conn, unread, samples)


def main() -> int:
    # A child of the Locust process: its settings come as values in its environment
    # (the locustfile's _bridge_env), read here and passed down.
    env = dict(os.environ)
    log_dir = pathlib.Path(env.get("LOAD_LOG_DIR") or "reports/out/load/logs")
    try:
        config = local_stack_config(env, log_dir)
        target = from_env(env)
    except ConfigError as err:
        # stderr is the bridge's log, which the Locust side names when we exit.
        print(f"bridge: {err}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as files:
        path = env.get("LOAD_SAMPLES", "")
        samples = files.enter_context(open(path, "a")) if path else None
        started = files.enter_context(open(started_path(pathlib.Path(path)), "a")) if path else None
        asyncio.run(
            serve(
                target,
                config,
                samples,
                run_id=env.get(RUN_ID_ENV, ""),
                call_timeout_s=float(env.get(CALL_TIMEOUT_ENV) or 60),
                started=started,
                stages_after=env.get(STAGES_ENV) == STAGES_AFTER,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
