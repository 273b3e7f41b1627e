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
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any

from harness import cli, corruption, network, procstat, report, stats
from harness.bench import parse_levels
from harness.config import DEV, TIME_SKIPPING, ZIGFLOW_LEVELS
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


def _bench_given(path: pathlib.Path) -> dict[str, Any]:
    """Figures measured earlier (``--bench-json``), read before anything runs."""
    if not path.is_file():
        raise ConfigError(f"--bench-json {path}: no such file (run `make bench` first)")
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except ValueError as err:
        raise ConfigError(f"--bench-json {path}: not JSON ({err})") from err
    return doc


def _budget(concurrency: list[dict[str, Any]]) -> dict[str, Any] | None:
    row = report.budget_row(concurrency)
    if row is None:
        return None
    keys = ("level", "mode", "n", "p50", "p99", "baseline_p99_ms", "throughput_per_s", "errors")
    return {k: row.get(k) for k in keys} | {"within": report.within_budget(row, BUDGET_MS)}


def bench_target(targets: list[str]) -> str:
    """Where the budget is measured: a real clock. The first target that is not the
    time-skipping server (whose clock is virtual), else the embedded dev server."""
    return next((t for t in targets if t != TIME_SKIPPING), DEV)


def _bench_measured(
    out: pathlib.Path, args: argparse.Namespace, target: str
) -> dict[str, Any] | None:
    """Measure the budget in this run (a child process, like the scenario targets), so
    the verdict never rests on figures from another commit or another day."""
    cmd = [
        sys.executable,
        "-m",
        "harness.bench",
        "--temporal",
        target,
        "--levels",
        args.bench_levels,
        "--modes",
        "closed,open",
        "--out",
        str(out / "bench"),
        "--label",
        "make certify",
    ]
    if args.zigflow_cmd:
        cmd += ["--zigflow-cmd", args.zigflow_cmd]
    if args.stigma_cmd:
        cmd += ["--stigma-cmd", args.stigma_cmd]
    cmd += shlex.split(args.bench_args)
    print(f"certify: [budget] {' '.join(cmd)}", flush=True)
    code = subprocess.run(cmd, check=False).returncode
    path = out / "bench" / "bench.json"
    if code != 0 or not path.is_file():
        print(f"certify: [budget] bench exited {code}; see {out / 'bench' / 'logs'}", flush=True)
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    shutil.copyfile(path, out / "bench.json")
    return doc


def _fault_timeline(out: pathlib.Path, target: str) -> list[dict[str, Any]]:
    """Start/stop of every fault a scenario ran (network, process, cancel), from the
    recorded histories: seconds since the scenario began."""
    rows = []
    for path in sorted((out / target / "histories").glob("*.json")):
        try:
            h = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        open_at: dict[tuple[str, str], float] = {}
        spans = []
        for f in h.get("faults") or []:
            key = (str(f.get("name")), str(f.get("target")))
            if f.get("phase") == "start":
                open_at[key] = float(f["t"])
            elif key in open_at:
                start = open_at.pop(key)
                spans.append({"name": key[0], "target": key[1], "start_s": start, "stop_s": f["t"]})
            else:  # a stop without a start (e.g. releasing a held agent): an instant
                spans.append(
                    {"name": key[0], "target": key[1], "start_s": f["t"], "stop_s": f["t"]}
                )
        end = max((float(o.get("t", 0.0)) for o in h.get("ops") or []), default=0.0)
        spans += [
            {"name": k[0], "target": k[1], "start_s": t, "stop_s": max(t, end)}
            for k, t in open_at.items()
        ]
        if spans:
            rows.append({"scenario": h.get("name", path.stem), "target": target, "spans": spans})
    return rows


def run_target(target: str, out: pathlib.Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    results = out / "results" / target
    if results.exists():
        shutil.rmtree(results)
    # The shipped scenarios, wherever certify runs from (checkout or installed).
    cmd = [
        *cli.gate_command([]),
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
    cmd += ["--zigflow-level", args.zigflow_level]
    cmd += ["--fault-matrix", args.fault_matrix]
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
    parser.add_argument(
        "--fault-matrix",
        default=os.environ.get("HANDSHAKE_FAULT_MATRIX") or "toxics",
        help="cells of the toxic x link x direction matrix to run (env "
        "HANDSHAKE_FAULT_MATRIX; default toxics: every toxic on every link; full: both "
        "directions too; N: N cells drawn from the seed)",
    )
    parser.add_argument("--zigflow-cmd", default=os.environ.get("HANDSHAKE_ZIGFLOW_CMD"))
    parser.add_argument("--stigma-cmd", default=os.environ.get("HANDSHAKE_STIGMA_CMD"))
    parser.add_argument(
        "--zigflow-level",
        choices=ZIGFLOW_LEVELS,
        default=os.environ.get("HANDSHAKE_ZIGFLOW_LEVEL") or "workflow",
        help="workflow: your Zigflow workflow runs the plans; activity: the harness's "
        "workflow calls your agent activity (env HANDSHAKE_ZIGFLOW_LEVEL)",
    )
    parser.add_argument(
        "--bench-levels",
        default=os.environ.get("HANDSHAKE_CERTIFY_BENCH_LEVELS") or "1,10,100,1000",
        help="agents in flight the budget run measures, closed and open loop (must include "
        f"{report.BUDGET_LEVEL}, the level the budget applies to; env "
        "HANDSHAKE_CERTIFY_BENCH_LEVELS)",
    )
    parser.add_argument(
        "--bench-args",
        default=os.environ.get("HANDSHAKE_CERTIFY_BENCH_ARGS") or "",
        help='more options for the budget run, e.g. "--duration 10 --rate 5" '
        "(python -m harness.bench --help; env HANDSHAKE_CERTIFY_BENCH_ARGS)",
    )
    parser.add_argument(
        "--bench-json",
        default=os.environ.get("HANDSHAKE_BENCH_JSON"),
        help="judge the budget on figures measured earlier (e.g. a full `make bench`: "
        "reports/out/bench/bench.json) instead of measuring it in this run "
        "(env HANDSHAKE_BENCH_JSON)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets:
        raise ConfigError("--targets is empty: name at least one of time-skipping, dev, HOST:PORT")
    try:
        shlex.split(args.bench_args)
    except ValueError as err:
        raise ConfigError(
            f"--bench-args {args.bench_args!r}: cannot split into words: {err}"
        ) from err
    given = _bench_given(pathlib.Path(args.bench_json)) if args.bench_json else None
    if given is None and report.BUDGET_LEVEL not in parse_levels(
        args.bench_levels, "--bench-levels"
    ):
        raise ConfigError(
            f"--bench-levels {args.bench_levels!r}: give levels including "
            f"{report.BUDGET_LEVEL} (the budget applies with {report.BUDGET_LEVEL} agents in "
            "flight), e.g. 1,10,100,1000"
        )

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
    bench: dict[str, Any] | None
    if given is not None:
        shutil.copyfile(args.bench_json, out / "bench.json")
        bench, bench_source = given, args.bench_json
    else:
        target = bench_target(targets)
        bench, bench_source = _bench_measured(out, args, target), f"measured by this run ({target})"
    concurrency = bench.get("concurrency", []) if bench else []
    verdict, reasons = report.verdict(scenarios, overhead, BUDGET_MS, concurrency)
    doc = {
        "schema": report.SCHEMA,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "verdict": verdict,
        "verdict_reasons": reasons,
        "not_certified": report.not_certified(scenarios),
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
        "fault_coverage": network.fault_coverage(
            [f for s in scenarios for f in s.get("faults") or []]
        ),
        "corruption": corruption.summarise(scenarios),
        "token_hygiene": report.token_hygiene(scenarios),
        "overhead_ms": overhead,
        "overhead_by_target": by_target,
        "budget_ms": BUDGET_MS,
        "budget": _budget(concurrency),
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
            "zigflow_level": args.zigflow_level,
        },
        "wall_s": round(time.monotonic() - started, 1),
        "concurrency": concurrency,
        "bench": (
            {k: bench.get(k) for k in ("generated_at", "target", "server", "settings", "note")}
            | {"source": bench_source}
            if bench
            else None
        ),
        "fault_timeline": [t for target in targets for t in _fault_timeline(out, target)],
        "machine": procstat.machine(),
    }
    json_path, md_path = report.write(doc, out)
    print(f"certify: verdict {verdict.upper()}: " + "; ".join(reasons))
    print(f"certify: wrote {json_path}, {md_path} and {out / 'certification.html'}")
    print(f"certify: JUnit XML for CI: {', '.join(str(out / f'junit-{t}.xml') for t in targets)}")
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as err:
        print(f"certify: {err}", file=sys.stderr)
        sys.exit(2)
