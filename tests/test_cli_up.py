"""`handshake up`: a local stack to explore, whose printed handshake command works as
printed, and which Ctrl-C takes down."""

from __future__ import annotations

import pathlib
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time

from harness.servers.procs import sigint_restored

ROOT = pathlib.Path(__file__).resolve().parent.parent
READY_BOUND_S = 120.0  # bounds on a hung stack, not measurements
STOP_BOUND_S = 60.0


def _lines_until(proc: subprocess.Popen[str], marker: str, bound_s: float) -> list[str]:
    """Lines of ``proc``'s output up to the one with ``marker`` (a reader thread: a
    select() on the pipe would miss lines already in the text wrapper's buffer)."""
    assert proc.stdout is not None
    out = proc.stdout
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in out:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + bound_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if marker in line:
            return seen
    text = "".join(seen)
    raise AssertionError(f"no {marker!r} from handshake up within {bound_s:.0f} s:\n{text}")


def test_up_serves_a_handshake_as_printed_and_ctrl_c_stops_it(tmp_path: pathlib.Path) -> None:
    proc = subprocess.Popen(
        sigint_restored([sys.executable, "-m", "harness.cli", "up", "--out", str(tmp_path)]),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _lines_until(proc, "Ctrl-C stops everything", READY_BOUND_S)
        printed = next(line for line in lines if "a handshake:" in line)
        argv = shlex.split(printed.split("a handshake:", 1)[1])
        argv[0] = str(pathlib.Path(sys.executable).parent / "temporal")
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "COMPLETED" in run.stdout, run.stdout
        assert '"value":"hi"' in run.stdout, run.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=STOP_BOUND_S)
    assert code == 0
