"""The certification report's one typed model: certification.json, field by field.

Everything that writes or reads the report goes through these classes: the pytest
plugin's per-scenario record (``ScenarioRecord``), ``make certify`` (which builds a
``CertificationReport``), ``handshake report`` (which loads one back from JSON) and the
Markdown and HTML renderers. The field descriptions below are the field reference:
``docs/reference/report.md`` and ``harness/report/schemas/certification.schema.json`` are
generated from them (``scripts/report_schema.py``; tests fail when either is stale).

``schema_version`` changes whenever a field is renamed, removed or changes type, so
that a consumer of an older report gets a validation error naming the field instead
of a wrong figure.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION: Literal[3] = 3
# "not_run": collected and never reported (its worker or run ended first).
Outcome = Literal["passed", "failed", "skipped", "not_run"]
Mode = Literal["closed", "open"]
Pass = Literal["pass", "fail"]


class _Model(BaseModel):
    # An unknown key is a typo or a field the model does not describe yet: refuse it,
    # so that the schema, the docs and the JSON never drift apart silently.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Check(_Model):
    """One checker's verdict on one scenario (harness.judge.expect.holds)."""

    checker: str = Field(description="the checker's name, e.g. no_token_lost")
    ok: bool = Field(description="false only when violated")
    status: Literal["ok", "violated", "not_checked"] = Field(
        default="ok",
        description='"ok", "violated", or "not_checked" when optional evidence was missing',
    )
    checked: int = Field(default=0, description="how many things the checker looked at")
    evidence: list[str] = Field(default_factory=list, description="what it saw (first 50)")
    area: str | None = Field(default=None, description="when not checked: what is missing")
    why: str | None = Field(default=None, description="when not checked: why it is missing")

    @property
    def word(self) -> str:
        """How the check reads in a table: ok, VIOLATED or not checked."""
        if self.status == "not_checked":
            return "not checked"
        return "ok" if self.ok else "VIOLATED"


class TokenScan(_Model):
    """One scenario's scan of the services' logs for the tokens it handed to Stigma."""

    model_config = ConfigDict(extra="allow")
    stacks: int = 0
    tokens: int = 0
    logs: int = 0
    token_x_logs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped_tokens: int = 0
    hits: int = 0


class CorruptionExample(_Model):
    kind: str = Field(alias="class", description="the corruption class")
    expected: str
    observed: str
    server: str


class Measurements(_Model):
    """What a scenario measured. Open: a scenario may add its own figures (e.g.
    virtual_skipped_s, clock_wall_s, time_to_detect_dead_agent_s, recovery_s)."""

    model_config = ConfigDict(extra="allow")
    chaos_seed: int | None = Field(default=None, description="seed of its fault schedule")
    token_hygiene: TokenScan | None = Field(default=None, description="its log scan")
    corruption: list[CorruptionExample] = Field(
        default_factory=list,
        description="token corruption examples and payload-limit cases it tried",
    )

    def figures(self) -> dict[str, Any]:
        """Every measurement that was set, for display."""
        return self.model_dump(by_alias=True, exclude_defaults=True)


class InjectedFault(_Model):
    """A network fault as Toxiproxy injected it (harness.links.network)."""

    link: str = Field(description="stigma_grpc, zigflow_temporal or stigma_temporal")
    toxic: str = Field(description='a Toxiproxy toxic type, or "down"')
    stream: str = Field(description="upstream, downstream or both")
    scenario: str = Field(description="pytest node id of the scenario that injected it")
    attributes: dict[str, Any] = Field(default_factory=dict, description="the toxic's settings")


class Fault(InjectedFault):
    target: str = Field(description="the Temporal target of the matrix row")


class ScenarioResult(_Model):
    """One scenario on one target (and pairing): a cell of the matrix."""

    id: str = Field(description="pytest node id with [target] (or [pairing:target]) appended")
    target: str = Field(description="the Temporal target of the row")
    pairing: str | None = Field(default=None, description="the pairing that ran it")
    outcome: Outcome
    server: str | None = Field(
        default=None,
        description="the Temporal server it really ran on (kill scenarios use a dev server "
        "even in the time-skipping row)",
    )
    duration_s: float = Field(description="wall time of the test body")
    phases_s: dict[str, float] = Field(
        default_factory=dict,
        description="where its time went, seconds per phase: stack_start, setup, wait, body, "
        "judge, teardown (harness.measure.durations; absent in records written before)",
    )
    checks: list[Check] = Field(default_factory=list, description="checker verdicts")
    calls: int = Field(default=0, description="Zigflow runs made")
    measurements: Measurements = Field(default_factory=Measurements)
    longrepr: str = Field(default="", description="the failure, when it failed")

    @property
    def label(self) -> str:
        """The matrix column: the target, or pairing:target for a pairing other than the
        first (certify suffixes the id with it)."""
        if self.pairing and self.id.endswith(f"[{self.pairing}:{self.target}]"):
            return f"{self.pairing}:{self.target}"
        return self.target

    @property
    def node_id(self) -> str:
        """The pytest node id (the id without the ``[label]`` suffix)."""
        suffix = f"[{self.label}]"
        return self.id[: -len(suffix)] if self.id.endswith(suffix) else self.id


ObservedAspect = Literal["outcome", "calls", "checks", "tokens", "retries"]


class ObservedCall(_Model):
    """What became of agent calls of a scenario on one server, with no id, timing or
    seed in it (``harness.judge.checkers.observed_calls``), and how many calls ended so."""

    stigma: str = Field(
        description="Stigma's side of the token: its completion's status (\"delivered\", "
        '"token_dead", "token_rejected", ...), "no_token" (a direct call), "not_started" '
        '(StartAgent refused), "no_summary", or its execution\'s status when it did not end'
    )
    code: str | None = Field(
        default=None, description="the gRPC code the server answered the completion with"
    )
    attempts: int | None = Field(
        default=None,
        description="attempts of Zigflow's activity; null: not recorded (the time-skipping "
        "server records an attempt that timed out at StartToClose without its started "
        "event; records written before observed_calls)",
    )
    zigflow: str = Field(
        description="Zigflow's agent activity: completed, failed, timed_out, canceled, open "
        "or missing"
    )
    why: str | None = Field(default=None, description="its failure type or timeout type")
    workflow: str | None = Field(
        default=None, description="Zigflow's workflow: completed, failed, ...; null: not recorded"
    )
    workflow_failure: str | None = Field(
        default=None, description="the workflow's innermost application failure type"
    )
    count: int = Field(default=1, description="calls observed so")


class KindsDiffer(_Model):
    """A scenario's declaration that its observed outcome differs between server kinds
    by design (``@pytest.mark.server_kinds_differ(*aspects, why=...)``)."""

    aspects: list[ObservedAspect] = Field(
        description="the fields of ObservedOutcome that may differ (outcome, calls, checks, "
        "tokens, retries)"
    )
    why: str = Field(description="why, e.g. the time-skipping server has no blob limit")


class ScenarioRecord(ScenarioResult):
    """What the pytest plugin writes per scenario (one JSON line) for ``make certify``;
    certify sets target and pairing and keeps the rest in the report."""

    target: str = ""
    overhead_ms: list[float] = Field(default_factory=list)
    faults: list[InjectedFault] = Field(default_factory=list)
    toxiproxy: str | None = None
    observed_calls: list[ObservedCall] = Field(
        default_factory=list,
        description="what became of its handshake calls (absent in records written before)",
    )
    kinds_differ: list[KindsDiffer] = Field(
        default_factory=list, description="its declared server-kind differences"
    )

    def result(self) -> ScenarioResult:
        keep = set(ScenarioResult.model_fields)
        return ScenarioResult.model_validate(self.model_dump(include=keep, by_alias=True))


class ObservedRetry(_Model):
    """A retry of Zigflow's agent activity the scenario saw: the attempt and how the one
    before it failed."""

    attempt: int
    failure_type: str
    count: int = Field(default=1, description="retries observed so")


class ObservedOutcome(_Model):
    """A scenario's observed outcome on one server, computed from its record
    (``harness.report.verdict.observed_outcome``): what it saw, never its timings, ids
    or seeds. Two servers disagree when one of the compared fields (every field but
    ``server``) differs."""

    server: str = Field(description="the server it really ran on (not compared)")
    outcome: Outcome
    calls: int = Field(description="Zigflow runs made")
    checks: dict[str, Literal["ok", "violated", "not_checked"]] = Field(
        description="checker -> its status (how much it looked at is not compared)"
    )
    tokens: list[ObservedCall] = Field(
        description="per distinct end of a handshake call, with its count: the record's "
        "observed_calls; in records without them, the token corruption examples' observed "
        "outcomes (no attempts, no workflow). Attempts are compared only where every "
        "column recorded them"
    )
    retries: list[ObservedRetry] = Field(
        description="the activity retries it saw (measurements.observed_retries), counted"
    )


class KindDifference(_Model):
    """A scenario whose observed outcome differs between the server kinds it ran on."""

    scenario: str = Field(description="its node id")
    pairing: str = Field(description="the pairing that ran it on every kind")
    aspects: list[ObservedAspect] = Field(description="the fields of ObservedOutcome that differ")
    expected: bool = Field(
        description="true when the scenario declared every differing aspect "
        "(server_kinds_differ): by design, with its reason"
    )
    why: str = Field(
        default="",
        description="its declared reasons; for an unexpected one, what it did not declare",
    )
    observed: dict[str, ObservedOutcome] = Field(
        description="per column (target, or pairing:target): what it observed there"
    )


class ServerKinds(_Model):
    """The server kinds compared scenario by scenario (``harness.report.verdict.
    kind_differences``). A finding, not a verdict: each scenario's own checks judge each
    kind; this lists where the kinds did not behave alike."""

    kinds: list[str] = Field(description="the server kinds compared, e.g. time-skipping, dev")
    compared: int = Field(description="scenarios (per pairing) that ran on two kinds or more")
    same_server: int = Field(
        default=0,
        description="scenarios that ran on the same server in every row (e.g. the kill "
        "scenarios use a dev server in the time-skipping row too): not compared",
    )
    one_kind: int = Field(
        default=0, description="scenarios that ran (passed or failed) on one kind only"
    )
    differences: list[KindDifference] = Field(
        default_factory=list, description="unexpected ones first, then by scenario"
    )

    @property
    def unexpected(self) -> list[KindDifference]:
        return [d for d in self.differences if not d.expected]


class NotCertified(_Model):
    area: str = Field(description='e.g. "metrics"')
    why: str
    scenarios: list[str] = Field(description='ids whose checks said "not checked" for it')


class TokenHygiene(_Model):
    scanned: bool
    scenarios_scanned: int
    not_scanned: list[str] = Field(description="ids of scenarios that ran with no scan")
    tokens: int
    logs: int
    token_x_logs: int = Field(description="tokens times logs, summed per scenario and stack")
    bytes: int
    hits: int
    seconds: float
    where: list[str] = Field(description="file:line and token fingerprint of each hit")


class FaultCoverage(_Model):
    link: str
    toxic: str
    upstream: int
    downstream: int

    @property
    def cell(self) -> str:
        """'up 2, down 1', or '-' when the toxic never ran on that link."""
        parts = [f"{w} {n}" for w, n in (("up", self.upstream), ("down", self.downstream)) if n]
        return ", ".join(parts) or "-"


class Corruption(_Model):
    kind: str = Field(alias="class", description="the corruption class")
    server: str
    expected: str
    examples: int
    observed: dict[str, int]
    scenario_outcomes: dict[str, int]


class Overhead(_Model):
    """A latency summary (ms, nearest-rank percentiles of server-clock samples)."""

    n: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None
    mean: float | None = None


class ReportedOverhead(Overhead):
    target: str | None = Field(default=None, description="the server that measured it")


class Budget(_Model):
    level: int
    mode: Mode
    n: int
    p50: float | None
    p99: float | None
    baseline_p99_ms: float | None = None
    throughput_per_s: float | None = None
    errors: int | None = None
    within: bool = Field(description=">= 100 samples, no failed call, p99 <= budget_ms")


class Straggler(_Model):
    """A handshake far slower than its phase's median (harness.measure.bench.stragglers)."""

    workflow_id: str
    seconds: float = Field(description="client end-to-end time")


class ConcurrencyRow(_Model):
    """One level and mode of the budget run (harness.measure.bench.concurrency_rows)."""

    level: int = Field(description="calls in flight")
    mode: Mode
    n: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None
    throughput_per_s: float | None = None
    max_in_flight: int | None = None
    arrival_rate_per_s: float | None = None
    agent_seconds: float | None = None
    baseline_p50_ms: float | None = Field(default=None, description="the direct call's p50")
    baseline_p99_ms: float | None = Field(default=None, description="the direct call's p99")
    ratio_p99: float | None = None
    errors: int | None = Field(
        default=None, description="failed calls; null when the figures do not say"
    )
    stages_p50_ms: dict[str, float | None] = Field(default_factory=dict)
    stages_p99_ms: dict[str, float | None] = Field(default_factory=dict)
    cdf: list[tuple[float, float]] = Field(default_factory=list, description="[ms, fraction]")
    baseline_cdf: list[tuple[float, float]] = Field(default_factory=list)
    peak_rss_mb: dict[str, float | None] = Field(default_factory=dict)
    cpu_pct: dict[str, float | None] = Field(default_factory=dict)
    cpu_ms_per_handshake: dict[str, float | None] = Field(
        default_factory=dict,
        description="CPU ms per handshake: `harness` (its client and stand-in agent, the "
        "load generator) and `services` (Temporal, Zigflow and Stigma together)",
    )
    stragglers: list[Straggler] = Field(
        default_factory=list,
        description="handshakes slower than 5x the median, slowest first (at most 5)",
    )


class PairingFigures(_Model):
    """A pairing's concurrency row, without the CDFs and stages."""

    level: int
    mode: Mode
    n: int
    p50: float | None = None
    p99: float | None = None
    max: float | None = None
    baseline_p50_ms: float | None = None
    baseline_p99_ms: float | None = None
    throughput_per_s: float | None = None
    errors: int | None = Field(
        default=None, description="failed calls; null when the figures do not say"
    )
    peak_rss_mb: dict[str, float | None] = Field(default_factory=dict)


class PairingCounts(_Model):
    passed: int
    failed: int
    skipped: int
    not_certified: int = Field(description="passed scenarios that left a check not checked")
    not_run: int = Field(default=0, description="collected and never run")


class Pairing(_Model):
    name: str = Field(description='e.g. "go-python", "custom" for --zigflow-cmd/--stigma-cmd')
    zigflow: str = Field(description="language, or custom")
    stigma: str
    zigflow_cmd: str
    stigma_cmd: str
    zigflow_level: str
    primary: bool = Field(description="the pairing that ran the whole matrix")
    targets: list[str]
    scope: str = Field(description="what ran: the matrix, or the gate on time-skipping")
    bench_source: str
    wall_s: float | None = None
    scenarios: PairingCounts
    budget: Budget | None = Field(description="as the report's budget, from its own run")
    concurrency: list[PairingFigures]
    verdict: Pass
    reasons: list[str]

    def figure_at(self, level: int, key: str) -> Any:
        """A figure for ``level`` agents in flight (open loop when measured)."""
        rows = [c for c in self.concurrency if c.level == level]
        row = next((c for c in rows if c.mode == "open"), rows[0] if rows else None)
        return None if row is None else getattr(row, key)


class PairingSkipped(_Model):
    name: str
    why: str = Field(description="the make target that builds it")


class FaultSpan(_Model):
    name: str
    target: str
    start_s: float = Field(description="seconds since the test began")
    stop_s: float


class FaultTimeline(_Model):
    scenario: str
    target: str
    spans: list[FaultSpan]


class BenchSource(_Model):
    generated_at: str | None = None
    target: str | None = None
    server: str | None = None
    settings: dict[str, Any] | None = None
    note: str | None = None
    source: str | None = Field(
        default=None, description='"measured by this run (dev)" or the --bench-json path'
    )


class Machine(_Model):
    cpus: int | None = None
    cpu_model: str = ""
    platform: str = ""
    python: str | None = None
    loadavg: list[float] = Field(default_factory=list)


class TemporalConnection(_Model):
    """How the run reached Temporal (harness/tls.py): its namespace, and the TLS settings
    it used towards its HOST:PORT targets. File paths and names only: never the API key
    nor any key material."""

    namespace: str = Field(default="default", description="the Temporal namespace of the run")
    tls: bool = Field(
        default=False,
        description="TLS towards the HOST:PORT targets (the embedded time-skipping and dev "
        "servers speak plain text)",
    )
    ca_path: str | None = Field(
        default=None,
        description="--temporal-tls-ca: the PEM file of the server's CA, as given; null: "
        "the system's CAs (or no TLS)",
    )
    cert_path: str | None = Field(
        default=None, description="--temporal-tls-cert: the client certificate (mTLS), as given"
    )
    key_path: str | None = Field(
        default=None,
        description="--temporal-tls-key: the client private key's file, as given (its path, "
        "never its content)",
    )
    server_name: str | None = Field(
        default=None,
        description="--temporal-tls-server-name: the name checked in the server's "
        "certificate; null: the host of the target",
    )
    api_key_used: bool = Field(
        default=False,
        description="whether an API key was sent (HANDSHAKE_TEMPORAL_API_KEY); never its value",
    )


class ChildRun(_Model):
    """One pytest run certify started (a target of a pairing), as it ended: the raw
    records the verdict is recomputed from (``harness.report.verdict``)."""

    label: str = Field(description="the target, or pairing:target for a pairing not the first")
    target: str
    pairing: str
    primary: bool = Field(description="of the pairing that ran the whole matrix")
    command: list[str] = Field(description="the pytest command line, as run")
    exit_code: int | None = Field(description="its exit code; null when it never ended")
    results: str = Field(description="directory of its records and ledger, relative to the report")
    junit: str = Field(description="its JUnit XML, relative to the report")
    collected: int = Field(default=0, description="tests it collected (from its ledger)")
    problems: list[str] = Field(
        default_factory=list,
        description="where its exit code, ledger, JUnit and records disagree or are missing; "
        "any problem fails the verdict",
    )


BehaviourStatus = Literal[
    "passed", "failed", "not_checked", "not_applicable", "not_run", "local_only"
]


class BehaviourCell(_Model):
    status: BehaviourStatus
    scenarios: list[str] = Field(
        default_factory=list, description="ids of the scenarios that judged it (failed first)"
    )
    why: str = Field(default="", description="what failed, or what is missing")


class BehaviourRow(_Model):
    """One behaviour of the contract (harness.contract.BEHAVIOURS) on every column."""

    side: str
    does: str
    required: bool
    checkers: list[str]
    cells: dict[str, BehaviourCell] = Field(
        description="per column (target, or pairing:target): its status and scenarios"
    )


class Program(_Model):
    """What one service's command line ran (harness.servers.programs)."""

    role: str = Field(description="zigflow or stigma")
    command: str = Field(description="the command line as given (placeholders unexpanded)")
    kind: str = Field(description="binary, jar, python-module, script, container or unknown")
    executable: str | None = Field(description="the resolved interpreter or program")
    program: str | None = Field(description="what was digested: a file or a module's directory")
    sha256: str | None = Field(description="SHA-256 of the program (of its files, sorted)")
    files: int = Field(default=0, description="how many files the digest covers")
    version: str | None = Field(default=None, description="its --version output, when it has one")
    note: str = Field(default="", description="why a digest is missing, or what it cannot cover")


class Manifest(_Model):
    """Exactly what was certified: programs, servers, harness, contract, settings."""

    programs: dict[str, list[Program]] = Field(description="per pairing, its two services")
    harness_version: str | None
    harness_commit: str | None
    contract_digest: str = Field(description="SHA-256 of the contract's names and behaviours")
    temporal: dict[str, str | None] = Field(description="per target, the server's version")
    config_file: str | None = Field(description="the config file read, if any")
    environment: list[str] = Field(
        default_factory=list, description="HANDSHAKE_* names set (names only: some are secrets)"
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="certify's options, secrets masked"
    )
    seeds: list[int] = Field(default_factory=list, description="chaos seeds of the runs")


class Flake(_Model):
    """With --repeat N: a scenario that failed in some of its runs."""

    scenario: str = Field(description="node id without the [runK] part, with its column")
    runs: int
    failed: int
    rate: float = Field(description="failed / runs")


class OffTarget(_Model):
    """A scenario a deployed target cannot serve: not run there, never passed."""

    scenario: str = Field(description="its node id")
    missing: list[str] = Field(description="the needs the target lacks (harness.target.needs)")
    local_only: bool = Field(
        description="lacking only what no deployment gives (the harness's relays, its own "
        "Temporal): certified by a local run of the same programs instead"
    )


class HookInvocation(_Model):
    """One hook the run invoked on a deployed target (secrets masked)."""

    service: str
    hook: str
    command: str
    started_at: str
    ended_at: str = ""
    duration_s: float = 0.0
    exit_code: int | None = None
    outcome: str
    output_tail: str = ""


class Deployment(_Model):
    """A certification of services already deployed (``certify --target NAME``)."""

    target: str = Field(description="the profile's name")
    run_id: str = Field(description="in every workflow id the run started")
    temporal: str
    namespace: str
    zigflow_level: str
    toxiproxy: str | None = Field(description="the external Toxiproxy's admin URL, if any")
    proxies: dict[str, str] = Field(default_factory=dict, description="link -> proxy name")
    preflight: list[str] = Field(description="the preflight checks, one line each")
    hooks: list[HookInvocation] = Field(default_factory=list)
    off_target: list[OffTarget] = Field(default_factory=list)
    cleanup: list[str] = Field(default_factory=list, description="what the cleanup did or found")
    open_workflows: list[str] = Field(
        default_factory=list,
        description="workflows of this run still open when it ended (closed by the cleanup)",
    )
    interrupted: bool = Field(default=False, description="the run was interrupted (Ctrl-C)")
    game_day: GameDay | None = Field(
        default=None, description="load and faults together: the figures of each fault window"
    )


class CertificationReport(_Model):
    """certification.json."""

    model_config = ConfigDict(title="certification.json")

    schema_version: Literal[3] = Field(
        description="report format version: changes whenever a field is renamed, "
        "removed or changes type"
    )
    generated_at: str = Field(description="UTC time the report was written (ISO 8601)")
    verdict: Pass = Field(
        description='"pass" when every scenario passed on every target and pairing and the '
        "overhead p99 with 10 agents in flight (budget) is within budget_ms; otherwise "
        '"fail"'
    )
    verdict_reasons: list[str] = Field(
        description='why the verdict is what it is, one line each; one "<area>: not '
        'certified (<why>)" per entry of not_certified'
    )
    not_certified: list[NotCertified] = Field(
        default_factory=list,
        description="what the run could not certify for want of optional evidence the "
        "services do not give (e.g. metrics), per area and reason. Does not fail the "
        'verdict: it says what the "pass" does not cover. [] when nothing was unchecked',
    )
    targets: list[str] = Field(
        description='the Temporal targets of the matrix, e.g. ["time-skipping", "dev"]'
    )
    connection: TemporalConnection | None = Field(
        default=None,
        description="the namespace and the TLS settings of the run (the reproduce commands "
        "of HOST:PORT rows carry them); null in reports written before it was recorded",
    )
    scenarios: list[ScenarioResult] = Field(
        description="one object per scenario, target and pairing (the matrix's cells); ids "
        "of pairings other than the first end in [<pairing>:<target>]"
    )
    faults: list[Fault] = Field(
        default_factory=list,
        description="every network fault actually injected; each chaos scenario's seed is "
        "in its measurements.chaos_seed",
    )
    fault_coverage: list[FaultCoverage] = Field(
        default_factory=list,
        description="the toxic x link grid of what this run injected: every Toxiproxy "
        "toxic on every link, injected or not, with how often each direction ran",
    )
    corruption: list[Corruption] = Field(
        default_factory=list,
        description="per token corruption class or payload-limit case (payload_limit/...) "
        "and server: examples tried, the expectation, and the observed outcomes with their "
        "counts, each Stigma's record beside Zigflow's activity ('stigma: X; zigflow: Y'; "
        "the report's 'What each side saw' table)",
    )
    token_hygiene: TokenHygiene | None = Field(
        default=None,
        description="the scan of the services' logs for task tokens after every scenario "
        "(harness/observe/token_scan.py), added up; hits never show a token, only its fingerprint",
    )
    overhead_ms: ReportedOverhead = Field(
        description="reported, not judged: per successful handshake in a fault-free "
        "scenario, Zigflow activity duration minus the agent's own work, both from "
        "Temporal histories (server clock); target: the server that measured it (the dev "
        "server when in the matrix: the time-skipping server's clock is virtual)"
    )
    overhead_by_target: dict[str, Overhead] = Field(
        default_factory=dict, description="the same summary for every target"
    )
    budget_ms: float = Field(description="the plan's overhead budget (100)")
    budget: Budget | None = Field(
        default=None,
        description="what the budget was judged on: the concurrency row with 10 agents in "
        "flight (open loop when measured, else closed); null when not measured (then the "
        'verdict is "fail")',
    )
    pairings: list[Pairing] = Field(
        default_factory=list,
        description="one row per Zigflow x Stigma pairing certified: its scenario counts, "
        "its own budget run and verdict",
    )
    pairings_skipped: list[PairingSkipped] = Field(
        default_factory=list,
        description="presets not certified because their program is not built",
    )
    versions: dict[str, str | None] = Field(
        description="python, temporalio, grpcio, protobuf, temporal[<target>] per target, "
        "toxiproxy (null until used), git_sha, and the first pairing's service commands"
    )
    wall_s: float = Field(description="wall time of the whole certification run")
    concurrency: list[ConcurrencyRow] = Field(
        default_factory=list,
        description="the budget run (harness.measure.bench, levels 1, 10, 100, 1000 by default, on "
        "the first real-clock target) or --bench-json: one row per level and mode. "
        "Percentiles are nearest-rank over server-clock samples (harness/measure/stats.py)",
    )
    bench: BenchSource | None = Field(
        default=None, description="where the concurrency figures come from"
    )
    fault_timeline: list[FaultTimeline] = Field(
        default_factory=list,
        description="per scenario that injected faults: its spans in seconds since the test began",
    )
    machine: Machine | None = Field(default=None, description="the machine that ran the matrix")
    behaviours: list[BehaviourRow] = Field(
        default_factory=list,
        description="the contract's behaviours x columns: passed, failed, not checked "
        "(evidence missing), not applicable or not run, each with its scenarios",
    )
    runs: list[ChildRun] = Field(
        default_factory=list, description="every pytest run the verdict is made from"
    )
    manifest: Manifest | None = Field(default=None, description="exactly what was certified")
    repeat: int = Field(default=1, description="runs of each scenario (--repeat)")
    flakes: list[Flake] = Field(
        default_factory=list, description="with --repeat: scenarios that failed in some runs"
    )
    deployment: Deployment | None = Field(
        default=None,
        description="a run on services already deployed (certify --target): the target, "
        "the hooks invoked, what it could not certify there and why",
    )
    server_kinds: ServerKinds | None = Field(
        default=None,
        description="scenario by scenario, where the server kinds (time-skipping, dev, ...) "
        "observed different outcomes: a finding, listed near the top, that does not fail "
        "the verdict (each kind's own checks do); expected ones are marked with their "
        "reason. Null when fewer than two kinds ran, or in reports written before",
    )

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CertificationReport:
        return cls.model_validate_json(text)


def json_schema() -> dict[str, Any]:
    """certification.schema.json: draft 2020-12, as pydantic generates it."""
    schema = CertificationReport.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"schema_version {SCHEMA_VERSION}; generated from harness/report/model.py "
        "by scripts/report_schema.py: do not edit",
        **schema,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


SCENARIO_RECORDS: TypeAdapter[list[ScenarioResult]] = TypeAdapter(list[ScenarioResult])


def _type(prop: dict[str, Any]) -> str:
    """A JSON Schema type as the field reference shows it: number, [Check], ...|null."""
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " \\| ".join(_type(p) for p in prop["anyOf"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " \\| ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type(p) for p in prop["prefixItems"]) + "]"
        return f"[{_type(prop.get('items', {}))}]"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"{{str: {_type(prop['additionalProperties'])}}}"
    return str(kind)


def _table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        text = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(prop)} | {'yes' if name in required else ''} | {text} |")
    if schema.get("additionalProperties") is True:
        rows.append("| (any other) | any | | a scenario's own figures |")
    return rows


def field_reference() -> str:
    """The field reference of docs/reference/report.md, from the schema (so from the
    model): the report's own fields, then each object type they use."""
    schema = json_schema()
    out = _table(schema)
    for name, sub in sorted(schema.get("$defs", {}).items()):
        if sub.get("type") != "object":
            continue
        doc = " ".join(str(sub.get("description", "")).split())
        out += ["", f"### {name}", ""] + ([doc, ""] if doc else []) + _table(sub)
    return "\n".join(out) + "\n"


# -- a game day (harness/load/gameday.py) ------------------------------------------------


class GameDayWindow(_Model):
    """One window of a game day: the baseline or one fault, with the figures of the
    handshakes started in it."""

    index: int = Field(description="0 for the baseline, then the faults in order")
    name: str = Field(description='"baseline" or "fault N"')
    kind: Literal["baseline", "toxic", "down", "kill", "pause"]
    fault: str = Field(description='what was injected, e.g. "latency downstream on stigma_grpc"')
    target: str = Field(default="", description="the link or the service faulted")
    start: float = Field(description="epoch seconds: the fault in place (baseline: its start)")
    stop: float = Field(description="epoch seconds: the fault undone (baseline: its end)")
    recover_until: float | None = Field(
        default=None, description="epoch seconds: the end of the recover period after it"
    )
    handshakes: int = Field(default=0, description="handshakes started in the window")
    succeeded: int = 0
    failed: int = 0
    handshakes_per_s: float | None = Field(
        default=None, description="handshakes started in the window that succeeded, per second"
    )
    error_ratio: float | None = Field(default=None, description="failed / started; null: none")
    overhead_n: int = Field(default=0, description="overhead samples (first attempts only)")
    overhead_p50_ms: float | None = None
    overhead_p99_ms: float | None = None
    time_to_recover_s: float | None = Field(
        default=None,
        description="after a fault: seconds from its stop until every handshake started "
        "before the stop had resolved; null: not within the recover period (see recovery)",
    )
    steady_after_s: float | None = Field(
        default=None,
        description="after a fault: seconds from its stop until a steady span began (the "
        "backlog drained, then every handshake started in the span succeeded), which ended "
        "the recover period; null: none within it (see recovery)",
    )
    recovery: str = Field(
        default="", description="how the backlog drained and steady state came back, or why not"
    )
    exactly_once: Check = Field(description="judged from Temporal's histories of the window")
    seen: str = Field(
        default="",
        description="a kill or a pause: how it was seen to land on the service (its "
        "grpc.health.v1: the Watch ended, or a Check went unanswered)",
    )
    toxics_during: dict[str, list[str]] = Field(
        default_factory=dict, description="proxy -> toxics Toxiproxy listed during the fault"
    )
    disabled_during: list[str] = Field(
        default_factory=list, description="proxies Toxiproxy listed disabled during the fault"
    )
    toxics_after: dict[str, list[str]] = Field(
        default_factory=dict, description="proxy -> toxics still listed once it was undone"
    )


class GameDay(_Model):
    """A game day: steady load on a target while a fault schedule ran, window by window."""

    run_id: str = Field(description="in every workflow id of the run: load-RUN_ID-...")
    target: str = Field(description="the target profile's name")
    started_at: float = Field(description="epoch seconds")
    ended_at: float = Field(description="epoch seconds")
    users: int = 0
    rate_per_s: float = Field(default=0.0, description="the steady rate asked of the load")
    baseline_s: float = 0.0
    window_s: float = 0.0
    recover_s: float = Field(
        default=0.0, description="the recover period's bound after each fault (seconds)"
    )
    steady_s: float = Field(
        default=0.0,
        description="the steady span that ends a recover period before its bound (seconds); "
        "0: every recover period lasted recover_s",
    )
    windows: list[GameDayWindow] = Field(default_factory=list)
    workflows: int = Field(default=0, description="handshake workflows of the run judged")
    exactly_once: Check | None = Field(default=None, description="over the whole run")
    load_exit_code: int | None = Field(default=None, description="the load run's exit code")
    toxics_left: dict[str, list[str]] = Field(
        default_factory=dict, description="proxy -> toxics listed after the run (should be none)"
    )
    disabled_left: list[str] = Field(
        default_factory=list, description="proxies disabled after the run (should be none)"
    )
    hooks: list[str] = Field(default_factory=list, description="hooks run, in order")
    notes: list[str] = Field(default_factory=list)
