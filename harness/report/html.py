"""certification.html: the report a release manager reads in a browser.

Self-contained on purpose: inline CSS and inline SVG made from the run's data,
no script, no font, no image or style sheet from anywhere (it must render the
same offline and behind a proxy; `make check-report` opens it in headless
Chromium with the network off). Sections, in reading order: verdict, scenario
matrix (with seeds and a command to reproduce each failure), latency (budget,
concurrency levels, CDFs, stage breakdown, handshake vs direct), fault
timeline, environment.
"""

from __future__ import annotations

import html
import platform
import shlex
from typing import Any

from harness.links.network import coverage_cell
from harness.report import svg

# Stages drawn in the breakdown: the overhead's own parts, in path order.
OVERHEAD_STAGES = (
    "zigflow_dispatch",
    "start_agent_rpc",
    "stigma_workflow_start",
    "agent_dispatch",
    "agent_end_to_completion_call",
    "completion_call",
)
SECTIONS = ("verdict", "scenarios", "latency", "faults", "environment")

CSS = """
body{font-family:sans-serif;margin:2em auto;max-width:70em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:1.6em;font-weight:bold;padding:.5em 1em;border-radius:6px}
.pass{background:#e3f6e3;color:#145214}.fail{background:#fbe4e4;color:#7a1010}
.passed{color:#145214}.failed{color:#7a1010;font-weight:bold}.skipped{color:#8a6d00}
.notcert{background:#fff4d6;color:#6b4f00;border:2px solid #e0b000;padding:.5em 1em;
border-radius:6px;margin:.5em 0}.notcert b{font-size:1.3em}.not_checked{color:#8a6d00}
code{background:#f6f6f6;padding:0 .2em;font-size:.9em;word-break:break-all}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
"""


def _e(value: Any) -> str:
    return html.escape("-" if value is None else str(value), quote=True)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = (
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out += ["<tr>", *cells, "</tr>"]
    out.append("</table>")
    return "".join(out)


def _suffix(scenario: dict[str, Any]) -> str:
    """How certify labelled the row: ``[target]``, or ``[pairing:target]`` for a pairing
    other than the first."""
    sid, target = str(scenario["id"]), str(scenario["target"])
    pairing = scenario.get("pairing")
    if pairing and sid.endswith(f"[{pairing}:{target}]"):
        return f"[{pairing}:{target}]"
    return f"[{target}]"


def node_id(scenario: dict[str, Any]) -> str:
    """The pytest node id of a matrix row (its id without the ``[target]`` suffix)."""
    sid, suffix = str(scenario["id"]), _suffix(scenario)
    return sid[: -len(suffix)] if sid.endswith(suffix) else sid


def reproduce(scenario: dict[str, Any], versions: dict[str, Any] | None = None) -> str:
    """The command that runs one matrix row again: same target, seed, services and level
    (a preset pairing's row: ``--pairing``, which names both services and the level).
    ``-n 0`` (not ``-p no:xdist``, which the project's ``-n auto`` default collides with)."""
    v = versions or {}
    parts = [".venv/bin/python", "-m", "pytest", "-n", "0", node_id(scenario)]
    parts += ["--temporal", str(scenario["target"])]
    seed = (scenario.get("measurements") or {}).get("chaos_seed")
    if seed is not None:
        parts += ["--chaos-seed", str(seed)]
    pairing = scenario.get("pairing")
    if pairing and pairing != "custom":
        return shlex.join([*parts, "--pairing", str(pairing)])
    for option, key in (("--zigflow-cmd", "zigflow_cmd"), ("--stigma-cmd", "stigma_cmd")):
        command = v.get(key)
        if command and not str(command).startswith("reference"):
            parts += [option, str(command)]
    if v.get("zigflow_level") and v["zigflow_level"] != "workflow":
        parts += ["--zigflow-level", str(v["zigflow_level"])]
    return shlex.join(parts)


def _not_certified(r: dict[str, Any]) -> str:
    """Next to the verdict: what its "pass" does not cover (evidence not given)."""
    gaps = r.get("not_certified") or []
    if not gaps:
        return ""
    areas = ", ".join(sorted({str(g.get("area")) for g in gaps}))
    items = "".join(
        f"<li><strong>{_e(g.get('area'))}</strong>: {_e(g.get('why'))}<details><summary>"
        f"not checked in {len(g.get('scenarios') or [])} scenario(s)</summary><ul>"
        + "".join(f"<li><code>{_e(i)}</code></li>" for i in g.get("scenarios") or [])
        + "</ul></details></li>"
        for g in gaps
    )
    return (
        f'<div class="notcert"><b>Not certified: {_e(areas)}</b> — the services did not '
        f"give the evidence; the verdict does not cover it.<ul>{items}</ul></div>"
    )


def _verdict(r: dict[str, Any]) -> str:
    v = str(r.get("verdict", "fail"))
    reasons = "".join(f"<li>{_e(x)}</li>" for x in r.get("verdict_reasons", []))
    areas = sorted({str(g.get("area")) for g in r.get("not_certified") or []})
    mark = f" (not certified: {_e(', '.join(areas))})" if areas else ""
    return (
        f'<section id="verdict"><div class="verdict {"pass" if v == "pass" else "fail"}">'
        f"Verdict: {_e(v.upper())}{mark}</div>{_not_certified(r)}<ul>{reasons}</ul>"
        f"<p>Generated {_e(r.get('generated_at'))}; targets {_e(', '.join(r.get('targets', [])))}; "
        f"wall time {_e(r.get('wall_s'))} s. JUnit XML for CI: "
        f"{', '.join(f'<code>junit-{_e(t)}.xml</code>' for t in r.get('targets', []))} "
        "next to this file.</p></section>"
    )


def _pairings(r: dict[str, Any]) -> str:
    """The pairing matrix: one row per Zigflow and Stigma certified together."""
    from harness.report import report  # report renders through this module: imported late

    pairings, skipped = r.get("pairings") or [], r.get("pairings_skipped") or []
    if not pairings and not skipped:
        return ""
    head, rows = report.pairing_table(pairings)
    cells = [
        [_e(c) for c in row[:-1]]
        + [f'<span class="{"passed" if row[-1] == "PASS" else "failed"}">{_e(row[-1])}</span>']
        for row in rows
    ]
    missing = "".join(
        f"<li>Not certified: <strong>{_e(p.get('name'))}</strong> — {_e(p.get('why'))}</li>"
        for p in skipped
    )
    return (
        '<section id="pairings"><h2>Pairings</h2><p>Each Zigflow and Stigma pairing '
        "certified by this run, with its own budget run (overhead in ms, open loop; direct: "
        "the plain synchronous activity on the same stack, same run).</p>"
        + _table(head, cells, set(range(4, 13)))
        + (f"<ul>{missing}</ul>" if missing else "")
        + "</section>"
    )


def _check_word(check: dict[str, Any]) -> str:
    if check.get("status") == "not_checked":
        return f'<span class="not_checked" title="{_e(check.get("why"))}">not checked</span>'
    return "ok" if check.get("ok") else "<b>VIOLATED</b>"


def _scenarios(r: dict[str, Any]) -> str:
    rows = []
    for s in r.get("scenarios", []):
        outcome = str(s.get("outcome"))
        m = s.get("measurements") or {}
        checks = ", ".join(
            f"{_e(c.get('checker'))} {_check_word(c)}" for c in s.get("checks") or []
        )
        rows.append(
            [
                f"<code>{_e(node_id(s))}</code>",
                _e(_suffix(s)[1:-1]),
                _e(s.get("server") or s.get("target")),
                f'<span class="{_e(outcome)}">{_e(outcome)}</span>',
                _e(m.get("chaos_seed")),
                f"{s.get('duration_s') or 0:.2f}",
                checks,
            ]
        )
    failed = [s for s in r.get("scenarios", []) if s.get("outcome") == "failed"]
    repro = ""
    if failed:
        items = "".join(
            f"<li><code>{_e(reproduce(s, r.get('versions')))}</code>"
            "<details><summary>failure</summary>"
            f"<pre>{_e(str(s.get('longrepr', ''))[-1500:])}</pre></details></li>"
            for s in failed
        )
        repro = f"<h3>Reproduce each failure</h3><ol>{items}</ol>"
    head = ["scenario", "target", "server", "outcome", "seed", "s", "checks"]
    return (
        '<section id="scenarios"><h2>Scenario matrix</h2>'
        + _table(head, rows, {5})
        + repro
        + "</section>"
    )


def _concurrency_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for c in rows:
        rss = c.get("peak_rss_mb") or {}
        body.append(
            [
                _e(c.get("mode")),
                _e(c.get("level")),
                _e(c.get("n")),
                *(_ms(c.get(k)) for k in ("p50", "p95", "p99", "p999", "max")),
                _ms(c.get("baseline_p50_ms")),
                _ms(c.get("baseline_p99_ms")),
                _e(c.get("ratio_p99")),
                _e(c.get("throughput_per_s")),
                _e(c.get("errors")),
                _e(", ".join(f"{k} {v}" for k, v in rss.items())),
            ]
        )
    head = ["mode", "in flight", "n", "p50", "p95", "p99", "p99.9", "max", "direct p50"]
    head += ["direct p99", "x p99", "handshakes/s", "errors", "peak RSS MB"]
    return _table(head, body, set(range(1, 13)))


def budget_word(b: dict[str, Any], budget_ms: float, strong: str) -> str:
    """within the budget / over the budget / not judged (too few samples, failed calls);
    ``strong`` wraps the bad news ("**{}**" in Markdown, "<strong>{}</strong>" here)."""
    if b.get("within"):
        return "within the budget"
    if b.get("p99") is not None and b["p99"] > budget_ms:
        return strong.format("over the budget")
    return strong.format("not judged") + " (see the verdict)"


def _budget(r: dict[str, Any]) -> str:
    b = r.get("budget")
    if not b:
        return (
            "<p><strong>Budget not measured</strong>: no figures with 10 agents in flight "
            "(the budget run failed, or the figures given with <code>--bench-json</code> "
            "(e.g. from <code>make bench</code>) have no such level).</p>"
        )
    verdict = budget_word(b, float(r.get("budget_ms") or 100.0), "<strong>{}</strong>")
    return (
        f"<p>Budget: p99 <strong>{_ms(b.get('p99'))} ms</strong> with {_e(b.get('level'))} "
        f"agents in flight ({_e(b.get('mode'))} loop, n={_e(b.get('n'))}, p50 "
        f"{_ms(b.get('p50'))} ms, direct call p99 {_ms(b.get('baseline_p99_ms'))} ms): "
        f"{verdict}.</p>"
    )


def _latency(r: dict[str, Any]) -> str:
    parts = [
        f'<section id="latency"><h2>Latency (budget {_e(r.get("budget_ms"))} ms at p99 '
        "with 10 agents in flight)</h2>"
    ]
    parts.append(
        "<p>Overhead of one handshake: Zigflow's activity duration minus the agent's own "
        "work, from both workflows' Temporal histories (server clock).</p>"
    )
    parts.append(_budget(r))
    rows = [
        [_e(t), _e(s.get("n")), *(_ms(s.get(k)) for k in ("p50", "p95", "p99", "max"))]
        for t, s in (r.get("overhead_by_target") or {}).items()
    ]
    parts.append(
        "<h3>In the scenarios (reported, not judged)</h3><p>Fault-free scenarios' "
        "handshakes: some the first on a freshly started worker, some in bursts of 5 at "
        "once.</p>" + _table(["target", "n", "p50", "p95", "p99", "max"], rows, {1, 2, 3, 4, 5})
    )
    conc = r.get("concurrency") or []
    if not conc:
        parts.append(
            "<p>No concurrency figures: <code>make certify</code> measures them unless "
            "the run failed; <code>make bench</code> measures every level.</p>"
        )
        return "".join(parts) + "</section>"
    meta = r.get("bench") or {}
    parts.append(
        f"<h3>Concurrency ({_e(meta.get('source') or 'make bench')}, "
        f"{_e(meta.get('generated_at'))}, {_e(meta.get('target'))})</h3>"
        f"<p>{_e(meta.get('note', ''))}</p>"
    )
    parts.append(_concurrency_table(conc))
    for mode in sorted({str(c["mode"]) for c in conc}):
        of_mode = [c for c in conc if c["mode"] == mode]
        series: list[tuple[str, Any, bool, int]] = []
        for i, c in enumerate(of_mode):
            series.append((f"{c['level']} handshake", c.get("cdf") or [], False, i))
            series.append((f"{c['level']} direct", c.get("baseline_cdf") or [], True, i))
        parts.append(
            "<figure>"
            + svg.cdf_chart(series, f"Overhead CDF per concurrency level, {mode} loop")
            + f"<figcaption>{_e(mode.capitalize())} loop: CDF of the overhead per level "
            "(solid: handshake, dashed: direct call with the same work, same colour per "
            "level).</figcaption></figure>"
        )
    stage_rows = [(f"{c['mode']} {c['level']}", c.get("stages_p50_ms") or {}) for c in conc]
    parts.append(
        "<figure>"
        + svg.stacked_bars(stage_rows, OVERHEAD_STAGES, "Stage breakdown (p50 of each stage)")
        + "<figcaption>Where the time goes: p50 of each stage, per level (the p50s need "
        "not add up to the overhead's p50).</figcaption></figure>"
    )
    groups = [
        (
            f"{c['mode']} {c['level']}",
            [
                ("handshake p50", c.get("p50")),
                ("handshake p99", c.get("p99")),
                ("direct p50", c.get("baseline_p50_ms")),
                ("direct p99", c.get("baseline_p99_ms")),
            ],
        )
        for c in conc
    ]
    parts.append(
        "<figure>"
        + svg.grouped_bars(groups, "Handshake vs direct call, ms")
        + "<figcaption>Handshake vs a direct synchronous activity, same run, same "
        "work.</figcaption></figure>"
    )
    return "".join(parts) + "</section>"


def _faults(r: dict[str, Any]) -> str:
    timeline = r.get("fault_timeline") or []
    faults = r.get("faults") or []
    if not timeline and not faults:
        return '<section id="faults"><h2>Faults</h2><p>No fault ran in this run.</p></section>'
    parts = ['<section id="faults"><h2>Fault timeline</h2>']
    if timeline:
        rows = [
            (
                f"{t['scenario'].split('::')[-1]} [{t['target']}]",
                [(s["name"], s["start_s"], s["stop_s"]) for s in t["spans"]],
            )
            for t in timeline
        ]
        parts.append(
            "<figure>"
            + svg.timeline(rows, "Faults per scenario over the test's own time")
            + "<figcaption>Each bar is one fault (network toxic, link down, process "
            "kill or pause), in seconds since the scenario started.</figcaption></figure>"
        )
    coverage = r.get("fault_coverage") or []
    if coverage:
        toxics = list(dict.fromkeys(c["toxic"] for c in coverage))
        links = list(dict.fromkeys(c["link"] for c in coverage))
        grid = {(c["link"], c["toxic"]): coverage_cell(c) for c in coverage}
        covered = sum(cell != "-" for cell in grid.values())
        parts.append(
            f"<h3>Fault coverage: {covered} of {len(grid)} toxic &times; link pairs injected</h3>"
        )
        parts.append(
            _table(
                ["link", *toxics],
                [[_e(link), *(_e(grid[(link, t)]) for t in toxics)] for link in links],
            )
        )
    if faults:
        body = [
            [
                _e(f.get("link")),
                _e(f.get("toxic")),
                _e(f.get("stream")),
                f"<code>{_e(f.get('scenario'))}</code>",
                _e(f.get("target")),
            ]
            for f in faults
        ]
        parts.append(_table(["link", "toxic", "stream", "scenario", "target"], body))
    return "".join(parts) + "</section>"


def token_hygiene_line(scan: dict[str, Any]) -> str:
    """One sentence for the verdict's reasons and the report's section."""
    if not scan.get("scanned"):
        return "token hygiene: the services' logs were not scanned for tokens"
    return (
        f"token hygiene: logs scanned after {scan['scenarios_scanned']} scenario(s) for every "
        f"token handed to Stigma ({scan['token_x_logs']} token x log pairs, "
        f"{scan['bytes'] / 1e6:.1f} MB, {scan['seconds']:.2f} s): {scan['hits']} hit(s)"
    )


def _token_hygiene(r: dict[str, Any]) -> str:
    scan = r.get("token_hygiene")
    if not scan:
        return ""
    parts = [
        '<section id="token-hygiene"><h2>Token hygiene</h2>',
        f"<p>{_e(token_hygiene_line(scan))}.</p>",
    ]
    if scan.get("not_scanned"):
        parts.append(
            "<p>Not scanned: "
            + ", ".join(f"<code>{_e(i)}</code>" for i in scan["not_scanned"])
            + "</p>"
        )
    if scan.get("where"):
        parts.append(
            "<ul>" + "".join(f"<li><code>{_e(w)}</code></li>" for w in scan["where"]) + "</ul>"
        )
    return "".join(parts) + "</section>"


def _environment(r: dict[str, Any]) -> str:
    versions = r.get("versions") or {}
    machine = r.get("machine") or {
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    rows = [[_e(k), f"<code>{_e(v)}</code>"] for k, v in {**versions, **machine}.items()]
    return (
        '<section id="environment"><h2>Environment</h2>'
        + _table(["component", "version"], rows)
        + "</section>"
    )


def render(r: dict[str, Any]) -> str:
    body = "".join(
        (
            _verdict(r),
            _pairings(r),
            _scenarios(r),
            _latency(r),
            _faults(r),
            _token_hygiene(r),
            _environment(r),
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Token handshake certification: {_e(str(r.get('verdict', '')).upper())}</title>"
        f"<style>{CSS}</style></head><body><h1>Token handshake certification</h1>"
        f"{body}</body></html>\n"
    )
