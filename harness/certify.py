"""``make certify``: run the scenario matrix and write the certification report.

    python -m harness.certify [--targets time-skipping,dev] [--out reports/out]
                              [--zigflow-cmd CMD] [--stigma-cmd CMD] [-- PYTEST_ARGS]

Each target runs ``pytest scenarios/`` in a child process (so one crashed
stack cannot take the report with it); results are gathered from the
per-test records the pytest plugin writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

from harness import report, stats
from harness.config import DEV, TIME_SKIPPING
from harness.errors import ConfigError
from harness.temporal import target_version

BUDGET_MS = 100.0


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return None
    sha = out.stdout.strip()
    if not sha:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    return sha + ("-dirty" if dirty else "")


def run_target(target: str, out: pathlib.Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    results = out / "results" / target
    if results.exists():
        shutil.rmtree(results)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "scenarios",
        "-p",
        "no:cacheprovider",
        "--temporal",
        target,
        "--handshake-out",
        str(out / target),
        "--handshake-results",
        str(results),
        "-n",
        args.workers,
        "--junitxml",
        str(out / f"junit-{target}.xml"),
    ]
    if args.zigflow_cmd:
        cmd += ["--zigflow-cmd", args.zigflow_cmd]
    if args.stigma_cmd:
        cmd += ["--stigma-cmd", args.stigma_cmd]
    cmd += args.pytest_args
    print(f"certify: [{target}] {' '.join(cmd)}", flush=True)
    code = subprocess.run(cmd, check=False).returncode
    records: list[dict[str, Any]] = []
    for path in sorted(results.glob("results-*.jsonl")) if results.exists() else []:
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if code not in (0, 1) and not records:
        records.append(
            {
                "id": f"scenarios (pytest exit {code})",
                "outcome": "failed",
                "duration_s": 0.0,
                "overhead_ms": [],
                "checks": [],
                "calls": 0,
                "longrepr": f"pytest exited with {code} before recording any scenario",
            }
        )
    for r in records:
        r["target"] = target
        r["id"] = f"{r['id']}[{target}]"
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.certify",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--targets",
        default=os.environ.get("HANDSHAKE_TARGETS", f"{TIME_SKIPPING},{DEV}"),
        help="comma-separated Temporal targets: time-skipping, dev, HOST:PORT "
        "(env HANDSHAKE_TARGETS; default: time-skipping,dev)",
    )
    parser.add_argument(
        "--out", default="reports/out", help="report root; the run goes to OUT/latest"
    )
    parser.add_argument(
        "--workers",
        default=os.environ.get("HANDSHAKE_WORKERS", "1"),
        help="pytest-xdist workers per target (default 1: parallel stacks on a "
        "small machine would inflate the latency figures)",
    )
    parser.add_argument("--zigflow-cmd", default=os.environ.get("HANDSHAKE_ZIGFLOW_CMD"))
    parser.add_argument("--stigma-cmd", default=os.environ.get("HANDSHAKE_STIGMA_CMD"))
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets:
        raise ConfigError("--targets is empty: name at least one of time-skipping, dev, HOST:PORT")

    started = time.monotonic()
    out = pathlib.Path(args.out) / "latest"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    scenarios: list[dict[str, Any]] = []
    for target in targets:
        scenarios += run_target(target, out, args)

    by_target = {
        t: stats.summary([v for s in scenarios if s["target"] == t for v in s["overhead_ms"]])
        for t in targets
    }
    reported = DEV if DEV in targets else targets[0]
    overhead = {**by_target[reported], "target": reported}
    verdict, reasons = report.verdict(scenarios, overhead, BUDGET_MS)
    doc = {
        "schema": report.SCHEMA,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "verdict": verdict,
        "verdict_reasons": reasons,
        "targets": targets,
        "scenarios": [
            {
                k: s.get(k)
                for k in (
                    "id",
                    "target",
                    "outcome",
                    "server",
                    "duration_s",
                    "checks",
                    "calls",
                    "measurements",
                )
            }
            | ({"longrepr": s["longrepr"]} if s.get("longrepr") else {})
            for s in scenarios
        ],
        "faults": [
            {k: f[k] for k in ("link", "toxic", "stream", "scenario")}
            | {"target": s["target"], "attributes": f.get("attributes", {})}
            for s in scenarios
            for f in s.get("faults") or []
        ],
        "overhead_ms": overhead,
        "overhead_by_target": by_target,
        "budget_ms": BUDGET_MS,
        "versions": {
            "python": sys.version.split()[0],
            "temporalio": _version("temporalio"),
            "grpcio": _version("grpcio"),
            "protobuf": _version("protobuf"),
            **{f"temporal[{t}]": target_version(t) for t in targets},
            "toxiproxy": next((s["toxiproxy"] for s in scenarios if s.get("toxiproxy")), None),
            "git_sha": _git_sha(),
            "zigflow_cmd": args.zigflow_cmd or "reference (python -m reference_services.zigflow)",
            "stigma_cmd": args.stigma_cmd or "reference (python -m reference_services.stigma)",
        },
        "wall_s": round(time.monotonic() - started, 1),
    }
    json_path, md_path = report.write(doc, out)
    print(f"certify: verdict {verdict.upper()}: " + "; ".join(reasons))
    print(f"certify: wrote {json_path} and {md_path}")
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as err:
        print(f"certify: {err}", file=sys.stderr)
        sys.exit(2)
