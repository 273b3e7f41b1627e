"""`handshake up`: a local stack to explore, whose printed handshake command works as
printed, and which Ctrl-C takes down."""

from __future__ import annotations

import pathlib
import selectors
import shlex
import signal
import subprocess
import sys
import time

from harness.procs import sigint_restored

ROOT = pathlib.Path(__file__).resolve().parent.parent
READY_BOUND_S = 120.0  # bounds on a hung stack, not measurements
STOP_BOUND_S = 60.0


def _lines_until(proc: subprocess.Popen[str], marker: str, bound_s: float) -> list[str]:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + bound_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=deadline - time.monotonic()):
            break
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(
        f"no {marker!r} from handshake up within {bound_s:.0f} s:\n{''.join(lines)}"
    )


def test_up_serves_a_handshake_as_printed_and_ctrl_c_stops_it(tmp_path: pathlib.Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "up", "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_restored,
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
