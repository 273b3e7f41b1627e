"""certification.md and certification.html from the report model, through the Jinja2
templates in harness/report/templates/.

The templates hold the structure and the words; this module prepares what a template
should not compute: the scenario grid, the pairing table, the inline SVG charts
(harness.report.svg escapes every value it draws), reproduce commands. The HTML environment
autoescapes everything else, so a scenario id like ``test_x<script>`` is text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from harness import tls
from harness.config import DEV, TIME_SKIPPING
from harness.links.network import LINKS, TOXICS
from harness.report import game_day, svg
from harness.report.model import (
    CertificationReport,
    ConcurrencyRow,
    KindDifference,
    ObservedCall,
    ObservedOutcome,
    Pairing,
    ScenarioResult,
    ServerKinds,
    TemporalConnection,
)
from harness.report.runbooks import runbook_for
from harness.report.terms import BUDGET_LEVEL
from harness.report.terms import token_hygiene_line as _hygiene_line

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

_LOADER = jinja2.PackageLoader("harness.report", "templates")
_HTML = jinja2.Environment(
    loader=_LOADER, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True
)
_MD = jinja2.Environment(
    loader=_LOADER,
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def as_report(r: CertificationReport | Mapping[str, Any]) -> CertificationReport:
    """The model; a dict (a JSON kept elsewhere, a test's fixture) is validated first."""
    return r if isinstance(r, CertificationReport) else CertificationReport.model_validate(r)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# Where the reproduce commands of a run that used an API key expect it: the harness's
# variable, never an option (an option shows in process lists and in printed commands).
API_KEY_ENV = tls.BY_FIELD["api_key"].env


def on_cluster(scenario: ScenarioResult) -> bool:
    """A row on a HOST:PORT target (not the embedded time-skipping or dev server)."""
    return scenario.target not in (TIME_SKIPPING, DEV)


def connection_options(connection: TemporalConnection) -> list[str]:
    """The gate's options for a cluster row: ``--namespace`` (unless the default) and the
    TLS settings by their option names (harness/tls.py), with the paths and server name
    the run used. Never ``--temporal-api-key``: the key is read from ``API_KEY_ENV``."""
    parts = []
    if connection.namespace != "default":
        parts += ["--namespace", connection.namespace]
    if connection.tls:
        parts.append(tls.BY_FIELD["tls"].option)
    for field_name, value in (
        ("ca", connection.ca_path),
        ("cert", connection.cert_path),
        ("key", connection.key_path),
        ("server_name", connection.server_name),
    ):
        if value:
            parts += [tls.BY_FIELD[field_name].option, value]
    return parts


def connection_text(connection: TemporalConnection) -> str:
    """The connection for people: namespace, TLS files and name, whether a key was sent
    (never the key)."""
    words = [f"namespace {connection.namespace}"]
    if not connection.tls:
        return ", ".join([*words, "plain text"])
    words.append(f"TLS with CA {connection.ca_path or 'the system CAs'}")
    if connection.cert_path:
        words.append(f"client certificate {connection.cert_path} (key {connection.key_path})")
    if connection.server_name:
        words.append(f"server name {connection.server_name}")
    if connection.api_key_used:
        words.append("with an API key")
    return ", ".join(words)


def reproduce(
    scenario: ScenarioResult,
    versions: Mapping[str, str | None] | None = None,
    connection: TemporalConnection | None = None,
) -> str:
    """The command that runs one matrix row again: same target, seed, services and level
    (a preset pairing's row: ``--pairing``, which names both services and the level);
    on a cluster, the run's namespace and TLS settings too (``connection_options``).
    ``-n 0`` (not ``-p no:xdist``, which the project's ``-n auto`` default collides with)."""
    v = versions or {}
    parts = [".venv/bin/python", "-m", "pytest", "-n", "0", scenario.node_id]
    parts += ["--temporal", scenario.target]
    if connection is not None and on_cluster(scenario):
        parts += connection_options(connection)
    seed = scenario.measurements.chaos_seed
    if seed is not None:
        parts += ["--chaos-seed", str(seed)]
    if scenario.pairing and scenario.pairing != "custom":
        return shlex.join([*parts, "--pairing", scenario.pairing])
    for option, key in (("--zigflow-cmd", "zigflow_cmd"), ("--stigma-cmd", "stigma_cmd")):
        command = v.get(key)
        if command and not command.startswith("reference"):
            parts += [option, command]
    level = v.get("zigflow_level")
    if level and level != "workflow":
        parts += ["--zigflow-level", level]
    return shlex.join(parts)


# What a -k ident may hold (pytest's expression lexer); a name with anything else cannot
# be selected by -k, and its failure is reproduced from a checkout only.
_K_IDENT = re.compile(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+")


def _k_names(node_id: str) -> list[str]:
    """What ``-k`` matches a test on (lower case): its file, classes, name, parameter id."""
    path, *rest = node_id.split("::")
    names = [path.rsplit("/", 1)[-1], *rest]
    name = rest[-1] if rest else ""
    if name.endswith("]") and "[" in name:
        names.append(name[name.index("[") + 1 : -1])
    return [n.lower() for n in names]


def select_expression(node_id: str, node_ids: Sequence[str]) -> str | None:
    """A ``-k`` expression that selects exactly this test among ``node_ids`` (the
    run's), or None when none can: its file and its name, then ``not`` each other test
    that would match too (a longer name holding this one, a file named like it)."""
    path, _, name = node_id.rpartition("::")
    file = path.split("::")[0].rsplit("/", 1)[-1]
    if not name or not _K_IDENT.fullmatch(name) or not _K_IDENT.fullmatch(file):
        return None
    mine = _k_names(node_id)
    parts = [file, name]
    for other in dict.fromkeys(node_ids):
        if other == node_id:
            continue
        theirs = _k_names(other)
        if not all(any(p.lower() in n for n in theirs) for p in (file, name)):
            continue
        other_name = other.rpartition("::")[2]
        if not _K_IDENT.fullmatch(other_name) or any(other_name.lower() in n for n in mine):
            return None
        parts.append(f"not {other_name}")
    return " and ".join(parts)


def gate_reproduce(
    scenario: ScenarioResult,
    node_ids: Sequence[str],
    versions: Mapping[str, str | None] | None = None,
    connection: TemporalConnection | None = None,
) -> str | None:
    """The same run as ``reproduce`` with the installed command, ``handshake gate``
    (it runs the shipped scenarios, so the test is chosen with ``-k``, and a fault
    matrix cell with ``--fault-matrix full``); None when ``-k`` cannot single it out."""
    expression = select_expression(scenario.node_id, node_ids)
    if expression is None:
        return None
    checkout = shlex.split(reproduce(scenario, versions, connection))
    options = checkout[checkout.index(scenario.node_id) + 1 :]
    if "test_fault_matrix.py" in scenario.node_id:
        options += ["--fault-matrix", "full"]
    return shlex.join(["handshake", "gate", "-n", "0", *options, "-k", expression])


@dataclass
class FailedBehaviour:
    """A behaviour of the contract failed on some columns, for the page's first screen."""

    does: str
    side: str
    required: bool
    where: list[tuple[str, str]]  # (column, what failed there, or why it did not run)
    not_run: bool  # a required behaviour no scenario judged (else: it failed)


@dataclass
class Cause:
    """Why a FAIL failed, in the order the first screen says it."""

    behaviours: list[FailedBehaviour]
    scenarios: list[tuple[ScenarioResult, list[str], str | None, str]]  # checks, gate, checkout
    other: list[str]  # reasons of the verdict that fail it and are neither of the above

    @property
    def headline(self) -> str:
        """The banner's few words: what failed, counted (else the first other reason,
        up to its colon)."""
        words = []
        if self.scenarios:
            words.append(f"{len(self.scenarios)} scenario(s) failed")
        failed = sum(not b.not_run for b in self.behaviours)
        if failed:
            words.append(f"{failed} behaviour(s) failed")
        if len(self.behaviours) > failed:
            words.append(f"{len(self.behaviours) - failed} required behaviour(s) not run")
        if self.other and not words:
            first = self.other[0].split(": ", 1)[0]
            words.append(first if len(first) <= 90 else first[:87] + "...")
        return "; ".join(words)


# Reasons of a verdict that do not fail it (harness.report.report.verdict writes them):
# said after the cause, never as one.
_NOT_A_CAUSE = re.compile(
    r"^(pairing [^:]+: (pass|not certified)|\d+ scenario\(s\) passed|[\w-]+: not certified "
    r"|behaviours (not certified|certified only by a local run)|game day: .* recovered in "
    r"|token hygiene:|overhead p99 [\d.]+ ms (with \d+ agents in "
    r"flight )?<=|for information, not judged)"
)
# Reasons the cause's lists already say (the failed scenarios, behaviours and pairings).
_SAID = re.compile(
    r"^(\d+ scenario\(s\) failed: |behaviours (failed|required, not run) on "
    r"|pairing [^:]+: FAIL \(\d+ scenario\(s\) failed\)$)"
)


def cause(r: CertificationReport) -> Cause | None:
    """What failed, for a FAIL's first screen: the failed behaviours, the failed
    scenarios (each with its violated checks and the commands that run it again), then
    any other reason that fails the verdict (a run whose records disagree, a skip, the
    budget). None for a PASS."""
    if r.verdict == "pass":
        return None
    behaviours = []
    for b in r.behaviours:
        where = [(col, c.why) for col, c in b.cells.items() if c.status == "failed"]
        if where:
            behaviours.append(FailedBehaviour(b.does, b.side, b.required, where, False))
    for b in r.behaviours:
        if not b.required:
            continue
        where = [(col, f"not run: {c.why}") for col, c in b.cells.items() if c.status == "not_run"]
        if where:
            behaviours.append(FailedBehaviour(b.does, b.side, b.required, where, True))
    node_ids = [s.node_id for s in r.scenarios]
    failed = [
        (
            s,
            [c.checker for c in s.checks if c.status == "violated" or not c.ok],
            gate_reproduce(s, node_ids, r.versions, r.connection),
            reproduce(s, r.versions, r.connection),
        )
        for s in r.scenarios
        if s.outcome == "failed"
    ]
    other = [x for x in r.verdict_reasons if not _NOT_A_CAUSE.match(x) and not _SAID.match(x)]
    return Cause(behaviours, failed, other)


def budget_word(within: bool, p99: float | None, budget_ms: float) -> tuple[str, bool]:
    """within the budget / over the budget / not judged, and whether it is bad news."""
    if within:
        return "within the budget", False
    if p99 is not None and p99 > budget_ms:
        return "over the budget", True
    return "not judged", True


@dataclass
class Cell:
    """One scenario on one column of the grid."""

    result: ScenarioResult
    violated: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


@dataclass
class GridRow:
    node_id: str
    cells: dict[str, Cell]

    @property
    def failing(self) -> bool:
        return any(c.result.outcome == "failed" for c in self.cells.values())

    @property
    def moved(self) -> bool:
        """A cell ran on another server than its column's (a kill scenario on a dev
        server in the time-skipping column)."""
        return any(c.result.server not in (None, c.result.target) for c in self.cells.values())

    @property
    def rank(self) -> int:
        """Failing rows first, then rows with a skip or an unchecked area, then the rest."""
        if self.failing:
            return 0
        if any(c.result.outcome == "skipped" or c.not_checked for c in self.cells.values()):
            return 1
        return 2


def call_text(c: ObservedCall) -> str:
    """One observed end of handshake calls, short: "2x token_rejected (INTERNAL) ->
    timed_out START_TO_CLOSE"."""
    stigma = f"{c.stigma} ({c.code})" if c.code else c.stigma
    zig = f"{c.zigflow} {c.why}" if c.why else c.zigflow
    if c.attempts is not None and c.attempts != 1:
        zig += f" after {c.attempts} attempts"
    if c.workflow_failure:
        zig += f", workflow failed {c.workflow_failure}"
    elif c.workflow not in (None, "completed"):
        zig += f", workflow {c.workflow}"
    return f"{c.count}x {stigma} -> {zig}"


def _aspect_texts(aspect: str, observed: dict[str, ObservedOutcome]) -> list[str]:
    """Each column's value of one differing aspect, in the columns' order."""
    values = list(observed.values())
    if aspect == "outcome":
        return [o.outcome for o in values]
    if aspect == "calls":
        return [str(o.calls) for o in values]
    if aspect == "checks":
        names = sorted({n for o in values for n in o.checks})
        differ = [n for n in names if len({o.checks.get(n) for o in values}) > 1]
        return [", ".join(f"{n}: {o.checks.get(n, 'absent')}" for n in differ) for o in values]
    if aspect == "tokens":
        return ["; ".join(call_text(c) for c in o.tokens) or "none" for o in values]
    return [
        "; ".join(f"{r.count}x attempt {r.attempt} after {r.failure_type}" for r in o.retries)
        or "none"
        for o in values
    ]


@dataclass
class KindRow:
    difference: KindDifference
    # (aspect, one text per column of KindsView.columns)
    aspects: list[tuple[str, list[str]]]


@dataclass
class KindsView:
    found: ServerKinds
    columns: list[str]
    unexpected: list[KindRow]
    expected: list[KindRow]
    pairings: bool  # more than one pairing compared: name each difference's


def kinds_view(r: CertificationReport) -> KindsView | None:
    """The server-kind comparison as the templates show it: each difference with the
    values of its differing aspects per column."""
    found = r.server_kinds
    if found is None:
        return None
    columns = list(dict.fromkeys(col for d in found.differences for col in d.observed))
    rows = []
    for d in found.differences:
        observed = {col: d.observed[col] for col in columns if col in d.observed}
        texts: list[tuple[str, list[str]]] = []
        for aspect in d.aspects:
            values = dict(zip(observed, _aspect_texts(aspect, observed), strict=True))
            texts.append((aspect, [values.get(col, "-") for col in columns]))
        rows.append(KindRow(d, texts))
    return KindsView(
        found,
        columns,
        [x for x in rows if not x.difference.expected],
        [x for x in rows if x.difference.expected],
        len({d.pairing for d in found.differences}) > 1,
    )


def grid(scenarios: list[ScenarioResult]) -> tuple[list[str], list[GridRow]]:
    """The scenario matrix: one row per scenario (pytest node id), one column per target
    (pairing:target for the pairings after the first), failing rows first."""
    columns: list[str] = []
    rows: dict[str, GridRow] = {}
    for s in scenarios:
        if s.label not in columns:
            columns.append(s.label)
        row = rows.setdefault(s.node_id, GridRow(s.node_id, {}))
        row.cells[s.label] = Cell(
            s,
            [c.checker for c in s.checks if c.status == "violated" or not c.ok],
            [c.checker for c in s.checks if c.status == "not_checked"],
        )
    ordered = sorted(rows.values(), key=lambda r: r.rank)  # stable: run order within a rank
    return columns, ordered


def pairing_table(pairings: list[Pairing]) -> tuple[list[str], list[list[str]]]:
    """The pairing matrix as a header and rows of text (markdown and HTML share it)."""
    head = [
        "pairing",
        "Zigflow",
        "Stigma",
        "scope",
        "passed",
        "failed",
        "skipped",
        "not certified",
        f"p50 / p99 @{BUDGET_LEVEL}",
        "n",
        f"direct p99 @{BUDGET_LEVEL}",
        "p50 / p99 @100",
        "peak RSS MB (zigflow / stigma)",
        "verdict",
    ]
    rows = []
    for p in pairings:
        c, b = p.scenarios, p.budget
        rss = p.figure_at(BUDGET_LEVEL, "peak_rss_mb") or {}
        rows.append(
            [
                p.name,
                f"{p.zigflow} ({p.zigflow_level} level)",
                p.stigma,
                p.scope,
                str(c.passed),
                str(c.failed),
                str(c.skipped),
                str(c.not_certified),
                f"{ms(b.p50 if b else None)} / {ms(b.p99 if b else None)}",
                str(b.n) if b else "-",
                ms(b.baseline_p99_ms if b else None),
                f"{ms(p.figure_at(100, 'p50'))} / {ms(p.figure_at(100, 'p99'))}",
                f"{ms(rss.get('zigflow'))} / {ms(rss.get('stigma'))}",
                p.verdict.upper(),
            ]
        )
    return head, rows


def runbooks(scenarios: list[ScenarioResult]) -> list[tuple[str, str, str]]:
    """For every violated check, the runbook an operator opens (harness/report/runbooks.py)."""
    found = []
    for sc in scenarios:
        for check in sc.checks:
            book = None if check.ok else runbook_for(check.checker)
            if book:
                found.append((sc.id, check.checker, book))
    return found


def token_hygiene_line(r: CertificationReport) -> str:
    return _hygiene_line(r.token_hygiene) if r.token_hygiene else ""


def _charts(conc: list[ConcurrencyRow]) -> list[tuple[Markup, str]]:
    charts: list[tuple[Markup, str]] = []
    for mode in sorted({c.mode for c in conc}):
        series: list[tuple[str, Any, bool, int]] = []
        for i, c in enumerate(c for c in conc if c.mode == mode):
            series.append((f"{c.level} handshake", c.cdf, False, i))
            series.append((f"{c.level} direct", c.baseline_cdf, True, i))
        charts.append(
            (
                Markup(svg.cdf_chart(series, f"Overhead CDF per concurrency level, {mode} loop")),
                f"{mode.capitalize()} loop: CDF of the overhead per level (solid: handshake, "
                "dashed: direct call with the same work, same colour per level).",
            )
        )
    stage_rows = [
        (f"{c.mode} {c.level}", {k: v for k, v in c.stages_p50_ms.items() if v is not None})
        for c in conc
    ]
    charts.append(
        (
            Markup(
                svg.stacked_bars(stage_rows, OVERHEAD_STAGES, "Stage breakdown (p50 of each stage)")
            ),
            "Where the time goes: p50 of each stage, per level (the p50s need not add up to "
            "the overhead's p50).",
        )
    )
    groups = [
        (
            f"{c.mode} {c.level}",
            [
                ("handshake p50", c.p50),
                ("handshake p99", c.p99),
                ("direct p50", c.baseline_p50_ms),
                ("direct p99", c.baseline_p99_ms),
            ],
        )
        for c in conc
    ]
    charts.append(
        (
            Markup(svg.grouped_bars(groups, "Handshake vs direct call, ms")),
            "Handshake vs a direct synchronous activity, same run, same work.",
        )
    )
    return charts


def _timeline(r: CertificationReport) -> Markup | None:
    if not r.fault_timeline:
        return None
    rows = [
        (
            f"{t.scenario.split('::')[-1]} [{t.target}]",
            [(s.name, s.start_s, s.stop_s) for s in t.spans],
        )
        for t in r.fault_timeline
    ]
    return Markup(svg.timeline(rows, "Faults per scenario over the test's own time"))


def _coverage(r: CertificationReport) -> dict[str, Any] | None:
    if not r.fault_coverage:
        return None
    toxics = list(dict.fromkeys(c.toxic for c in r.fault_coverage))
    links = list(dict.fromkeys(c.link for c in r.fault_coverage))
    cells = {(c.link, c.toxic): c.cell for c in r.fault_coverage}
    return {
        "toxics": toxics,
        "links": links,
        "cells": cells,
        "covered": sum(cell != "-" for cell in cells.values()),
        "total": len(cells),
    }


def _fault_counts(r: CertificationReport) -> list[tuple[tuple[str, str, str], int]]:
    counts: dict[tuple[str, str, str], int] = {}
    for f in r.faults:
        key = (f.link, f.toxic, f.stream)
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items())


# Entries of ``versions`` that are not versions: the services' command lines and the
# run's settings (the Environment table shows them apart, by what they are).
COMMANDS = {"zigflow_cmd": "Zigflow", "stigma_cmd": "Stigma"}
SETTINGS = {"zigflow_level": "Zigflow level", "pairing": "pairing"}


@dataclass
class Environment:
    """The Environment section's tables: software and its version, the machine, each
    service's command line, the run's settings."""

    versions: list[tuple[str, str]]
    machine: list[tuple[str, str]]
    commands: list[tuple[str, str]]
    settings: list[tuple[str, str]]


def environment(r: CertificationReport) -> Environment:
    def text(v: object) -> str:
        return "-" if v is None else str(v)

    versions = [
        (k, text(v)) for k, v in r.versions.items() if k not in COMMANDS and k not in SETTINGS
    ]
    machine = []
    if r.machine is not None:
        machine = [(k, text(v)) for k, v in r.machine.model_dump(exclude_defaults=True).items()]
    commands = [(name, text(r.versions[k])) for k, name in COMMANDS.items() if k in r.versions]
    settings = [(name, text(r.versions[k])) for k, name in SETTINGS.items() if k in r.versions]
    if r.connection is not None:
        settings.append(("Temporal connection", connection_text(r.connection)))
    return Environment(versions, machine, commands, settings)


@dataclass(frozen=True)
class SideBySide:
    """One observed outcome of a token-corruption or payload-limit case: Stigma's record
    of the call and Zigflow's activity, side by side, and how often it was seen."""

    case: str
    server: str
    expected: str
    stigma: str
    zigflow: str
    count: int


def side_by_side(r: CertificationReport) -> list[SideBySide]:
    """Each case's observed outcomes split into the two views ("stigma: X; zigflow: Y",
    as ``checkers.token_outcome`` words them; a case that never reached Zigflow has
    only Stigma's): where they disagree (Stigma "delivered", Zigflow failed) is the
    first thing a reader should see."""
    rows = []
    for c in r.corruption:
        for observed, n in sorted(c.observed.items()):
            stigma, _, zigflow = observed.removeprefix("stigma: ").partition("; zigflow: ")
            rows.append(SideBySide(c.kind, c.server, c.expected, stigma, zigflow or "-", n))
    return rows


def _context(r: CertificationReport) -> dict[str, Any]:
    columns, rows = grid(r.scenarios)
    b = r.budget
    word, bad = budget_word(b.within, b.p99, r.budget_ms) if b else ("", False)
    return {
        "r": r,
        "areas": sorted({g.area for g in r.not_certified}),
        "columns": columns,
        "behaviour_columns": list(dict.fromkeys(col for b in r.behaviours for col in b.cells)),
        "rows": rows,
        "failed": [s for s in r.scenarios if s.outcome == "failed"],
        "cause": cause(r),
        "kinds": kinds_view(r),
        "gate_reproduce": lambda s: gate_reproduce(
            s, [x.node_id for x in r.scenarios], r.versions, r.connection
        ),
        "timed": [s for s in r.scenarios if s.measurements.figures()],
        "pairing_table": pairing_table(r.pairings),
        "budget_word": word,
        "budget_bad": bad,
        "budget_level": BUDGET_LEVEL,
        "charts": _charts(r.concurrency) if r.concurrency else [],
        "timeline": _timeline(r),
        "coverage": _coverage(r),
        "fault_counts": _fault_counts(r),
        "runbooks": runbooks(r.scenarios),
        "hygiene": token_hygiene_line(r),
        "side_by_side": side_by_side(r),
        "environment": environment(r),
        "ms": ms,
        "reproduce": lambda s: reproduce(s, r.versions, r.connection),
        # The failures' commands that would need the run's API key (never printed).
        "api_key_env": (
            API_KEY_ENV
            if r.connection is not None
            and r.connection.api_key_used
            and any(s.outcome == "failed" and on_cluster(s) for s in r.scenarios)
            else ""
        ),
        "toxics": TOXICS,
        "links": LINKS,
        "game_day_md": (
            game_day.markdown(r.deployment.game_day)
            if r.deployment is not None and r.deployment.game_day is not None
            else ""
        ),
        "game_day_html": (
            Markup(game_day.html(r.deployment.game_day))  # its text is escaped there
            if r.deployment is not None and r.deployment.game_day is not None
            else ""
        ),
    }


def html(report: CertificationReport | Mapping[str, Any]) -> str:
    """certification.html: self-contained (inline CSS and SVG, no script, no URL)."""
    return _HTML.get_template("certification.html.j2").render(_context(as_report(report)))


def markdown(report: CertificationReport | Mapping[str, Any]) -> str:
    return _MD.get_template("certification.md.j2").render(_context(as_report(report)))
