"""The load path cannot rot: two seconds of Locust, headless, against a local stack.

Locust is never imported here (it monkey-patches with gevent): ``make load``'s own
entry point runs as a subprocess, exactly as an operator runs it. The overhead
budget is not judged (no timed assertion in the gate): only that real handshakes
succeeded and every stage reached Locust's statistics and our figures. The services
are the gate's own (--zigflow-cmd / --stigma-cmd): a team's service is what must
survive load, not the reference.

A scenario like the others (its result record goes to certify), on a stack of its own:
it uses the ``history`` fixture only to record its checks. The services' metrics are
optional evidence: when they export none, the agreement of their counters with the
handshakes is recorded "not checked" (the report lists it under not certified) and
the rest still has to pass; when they do, a disagreement fails it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys

import pytest

from harness.config import StackConfig
from harness.judge.expect import holds, recorded
from harness.load.target import ENV
from harness.observe.history import History
from harness.servers.procs import sigint_restored

pytestmark = pytest.mark.scenario

RUN_BOUND_S = 180  # a bound on a hung run, not a measurement


@pytest.mark.slow(7)  # its own stack, Locust and its bridge starting, then 2 s of load
def test_locust_run_makes_successful_handshakes(
    tmp_path: pathlib.Path, handshake_config: StackConfig, history: History
) -> None:
    out = tmp_path / "load"
    env = {k: v for k, v in os.environ.items() if k not in ENV.values()}  # local stack
    env["HANDSHAKE_ZIGFLOW_LEVEL"] = handshake_config.zigflow_level
    # Two users, each a handshake a second (LOAD_THINK_S), for 2 s: a few handshakes,
    # every one judged, where one is enough for each assertion below. The services are
    # sampled every 0.5 s, so the CPU figures still have readings inside that window.
    argv = [sys.executable, "-m", "harness.load.run", "--users", "2", "--spawn-rate", "2",
            "--duration", "2s", "--memory-interval", "0.5",
            "--overhead-budget-ms", "1e9", "--max-error-ratio", "0",
            "--out", str(out),
            "--zigflow-cmd", shlex.join(handshake_config.zigflow_cmd),
            "--stigma-cmd", shlex.join(handshake_config.stigma_cmd)]  # fmt: skip
    proc = subprocess.Popen(sigint_restored(argv),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=RUN_BOUND_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # run.py tears its stack and Locust down on SIGINT
        output, _ = proc.communicate(timeout=60)
        pytest.fail(f"load run still going after {RUN_BOUND_S}s:\n{output[-3000:]}")
    # 1: a threshold breached (figures written, judged below); 2: the run itself broke.
    assert proc.returncode in (0, 1), output[-3000:]
    figures = json.loads((out / "figures.json").read_text())
    # The services' counters moved by exactly the successful handshakes, or "not
    # checked" with the reason when they export no metrics: recorded either way, and a
    # disagreement fails here by the checker's name rather than as an exit code.
    holds(history, recorded(figures["metrics_agree"]))
    assert proc.returncode == 0, output[-3000:]
    assert figures["succeeded"] >= 1, figures
    assert figures["failed"] == 0, figures["errors"]
    for stage in ("e2e_ms", "ack_ms", "overhead_ms"):
        assert figures["latency_ms"][stage]["n"] >= 1, (stage, figures["latency_ms"])
    # The load generator's CPU per handshake, split from the services' (figures only).
    cpu = figures["cpu_per_handshake"]
    assert {"runner", "locust", "bridge", "zigflow", "stigma"} <= set(cpu["processes"]), cpu
    assert cpu["harness_ms"] is not None, cpu
    assert cpu["handshakes"] == figures["handshakes"], cpu
    assert figures["warm_up"]["succeeded"] == figures["warm_up"]["handshakes"], figures
    stats = (out / "locust_stats.csv").read_text()
    for name in ("end_to_end", "ack", "overhead"):
        assert f"handshake,{name}," in stats, stats
    assert (out / "locust.html").is_file()
