"""Open certification.html in headless Chromium with the network off and fail on
any console error or failed load (`make check-report`; needs Debian's `chromium`).

    python scripts/check_report.py [reports/out/latest/certification.html]
        [--chromium chromium] [--screenshot PATH]

Not part of the test suite: it needs a browser. The unit test
tests/unit/test_report_html.py checks the same page statically (no external
reference, every section, the SVGs).

Network off: every request goes to a proxy
that this script runs on a loopback port and that answers nothing: each
connection it sees is a request the page (or the browser) tried to make, and
counts as a failure. Console messages of any level count too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--log-level=0",  # console messages are logged at INFO
]
# What Chromium writes to stderr for page problems (console errors, failed loads).
PROBLEMS = re.compile(r"CONSOLE[(:]|Uncaught|Failed to load resource|Refused to", re.IGNORECASE)
# Chromium's own background calls that its flags do not switch off (clock check,
# component updater, account check): they reach only the trap and are listed, but a
# report cannot cause them. Any other host is the page's doing and fails the check.
BROWSER_HOSTS = (
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "redirector.gvt1.com",
)
SECTIONS = ("verdict", "scenarios", "latency", "faults", "environment")
TIMEOUT_S = 60


class TrapProxy:
    """A loopback "proxy" that records what was asked of it and answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    first = conn.recv(512).split(b"\r\n", 1)[0]
                    self.requests.append(first.decode(errors="replace") or "(connection)")

    def __enter__(self) -> TrapProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own process group and end that group, ours, on timeout."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\ncheck_report: chromium did not finish within {TIMEOUT_S} s"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # helpers it left behind, in our group only
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("html", nargs="?", default="reports/out/latest/certification.html")
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM") or "chromium")
    p.add_argument("--screenshot", default=None, help="also write a PNG of the page here")
    args = p.parse_args()
    page = pathlib.Path(args.html).resolve()
    if not page.is_file():
        print(f"check_report: {page} not found: run `make certify` first", file=sys.stderr)
        return 2
    binary = shutil.which(args.chromium)
    if binary is None:
        print(
            f"check_report: {args.chromium!r} not found: apt-get install -y chromium",
            file=sys.stderr,
        )
        return 2
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="check-report-") as profile,
        TrapProxy() as trap,
    ):
        base = [
            binary,
            *FLAGS,
            f"--proxy-server=127.0.0.1:{trap.port}",
            f"--user-data-dir={profile}",
        ]
        dom = run([*base, "--dump-dom", page.as_uri()])
        problems += [line for line in dom.stderr.splitlines() if PROBLEMS.search(line)]
        if dom.returncode != 0:
            problems.append(f"chromium exited with {dom.returncode}")
        missing = [s for s in SECTIONS if f'id="{s}"' not in dom.stdout]
        if missing:
            problems.append(f"rendered page lacks section(s): {', '.join(missing)}")
        if args.screenshot:
            shot = pathlib.Path(args.screenshot).resolve()
            res = run([*base, f"--screenshot={shot}", "--window-size=1280,5000", page.as_uri()])
            problems += [line for line in res.stderr.splitlines() if PROBLEMS.search(line)]
        own = [r for r in trap.requests if any(h in r.split("?")[0] for h in BROWSER_HOSTS)]
        problems += [f"network request attempted: {r}" for r in trap.requests if r not in own]
    svgs = dom.stdout.count("<svg")
    if problems:
        print(f"check_report: {page}: {len(problems)} problem(s)")
        for line in problems[:20]:
            print(f"  {line}")
        return 1
    print(
        f"check_report: {page}: rendered offline, {svgs} SVG plot(s), no console errors, "
        f"no request from the page ({len(own)} background call(s) of Chromium's own blocked)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
