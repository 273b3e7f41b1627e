"""Prometheus metrics of the reference services: every name the plan's phase 7 lists.

Exported by temporalio's own runtime (``PrometheusConfig``), so there is no second
HTTP server and no new dependency: the SDK's ``temporal_*`` metrics and ours share
one endpoint (``ZIGFLOW_METRICS_LISTEN`` / ``STIGMA_METRICS_LISTEN``). The SDK's
meter has set-only gauges, so the two "how many right now" figures are kept here as
sets of keys and published with ``set(len(...))``: a set makes a repeated add (a
retried attempt, a replayed workflow) harmless.

Hooks in service code are one-line calls to the functions below. Without a
runtime (unit tests, metrics not configured) every call is a no-op.

Workflow code calls these functions too; it must import this module through
``workflow.unsafe.imports_passed_through()`` so that the state is the process's,
not a sandboxed copy. Counters bumped from workflow code skip replays (a replay
re-runs code whose effect was already counted).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from temporalio.common import MetricCounter, MetricGauge, MetricHistogramFloat, MetricMeter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from reference_services.common import jsonlog

# Metric names: the contract of the dashboard (reports/observability/dashboard.json)
# and the alert rules (reports/observability/alerts.yml); tests check both against these.
# Counters are declared without "_total": the exporter appends it (counters_total_suffix).
ZIGFLOW_STARTED = "zigflow_agent_activity_started"
ZIGFLOW_PENDING = "zigflow_agent_activities_pending"
ZIGFLOW_RESULT_PENDING = "zigflow_agent_activities_result_pending"
ZIGFLOW_COMPLETED = "zigflow_agent_activity_completed"
ZIGFLOW_FAILED = "zigflow_agent_activity_failed"
ZIGFLOW_TIMED_OUT = "zigflow_agent_activity_timed_out"
ZIGFLOW_DURATION = "zigflow_agent_activity_duration_seconds"
ZIGFLOW_START_AGENT_ERRORS = "zigflow_start_agent_errors"
STIGMA_RUNNING = "stigma_workflows_running"
STIGMA_START_AGENT = "stigma_start_agent_requests"
STIGMA_COMPLETION_CALLS = "stigma_completion_calls"
STIGMA_TOKEN_REJECTIONS = "stigma_token_rejections"
STIGMA_COMPLETION_FAILURES = "stigma_completion_call_failures"
STIGMA_COMPLETION_GAVE_UP = "stigma_completion_gave_up"

COUNTERS = (
    ZIGFLOW_STARTED,
    ZIGFLOW_RESULT_PENDING,
    ZIGFLOW_COMPLETED,
    ZIGFLOW_FAILED,
    ZIGFLOW_TIMED_OUT,
    ZIGFLOW_START_AGENT_ERRORS,
    STIGMA_START_AGENT,
    STIGMA_COMPLETION_CALLS,
    STIGMA_TOKEN_REJECTIONS,
    STIGMA_COMPLETION_FAILURES,
    STIGMA_COMPLETION_GAVE_UP,
)
GAUGES = (ZIGFLOW_PENDING, STIGMA_RUNNING)
HISTOGRAMS = (ZIGFLOW_DURATION,)


def exported_names() -> frozenset[str]:
    """Every series name as it appears on the endpoint (for dashboard/alert checks)."""
    names = {f"{c}_total" for c in COUNTERS} | set(GAUGES)
    for h in HISTOGRAMS:
        names |= {f"{h}_bucket", f"{h}_sum", f"{h}_count"}
    return frozenset(names)


RESOLVED_KEPT = 10_000  # minutes of keys at load-test rates; the race lasts milliseconds

# An agent may run for seconds or a day (StartToClose defaults to 24 h).
DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)


@dataclass
class _Instruments:
    counters: dict[str, MetricCounter]
    gauges: dict[str, MetricGauge]
    duration: MetricHistogramFloat


@dataclass
class _State:
    instruments: _Instruments | None = None
    pending: set[str] = field(default_factory=set)  # idempotency keys acked, not resolved
    # Recently resolved keys: the completion by token can reach the workflow before the
    # activity that got the ACK has counted itself pending (a fast agent, a busy
    # process); resolution is final, so a late "pending" for such a key is ignored.
    resolved: OrderedDict[str, None] = field(default_factory=OrderedDict)
    running: set[str] = field(default_factory=set)  # Stigma workflow ids started, not ended


_state = _State()


def runtime_for(listen: str, service: str) -> Runtime:
    """A Temporal runtime whose SDK-core logs go through this process's JSON log (where
    a task token in them is replaced by its fingerprint: the core names the token of an
    activity whose completion it could not deliver), and, when ``listen`` (host:port)
    is set, that serves Prometheus metrics there with the hooks below wired to it."""
    metrics = (
        PrometheusConfig(
            bind_address=listen,
            counters_total_suffix=True,  # Prometheus naming: counters end in _total
            durations_as_seconds=True,  # base unit seconds, also for the SDK's own
            histogram_bucket_overrides={ZIGFLOW_DURATION: list(DURATION_BUCKETS_S)},
        )
        if listen
        else None
    )
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(
                    logger=jsonlog.core_logger(), append_log_fields_to_message=False
                ),
            ),
            metrics=metrics,
            attach_service_name=False,
        )
    )
    if listen:
        install(runtime.metric_meter, service)
    return runtime


def install(meter: MetricMeter, service: str) -> None:
    """Create the instruments; ``service`` ("zigflow" / "stigma") owns the gauges named
    after it, and only those are exported (a Stigma endpoint shows no Zigflow gauge)."""
    _state.instruments = _Instruments(
        counters={
            name: meter.create_counter(name, description, "1")
            for name, description in _DESCRIPTIONS.items()
            if name in COUNTERS
        },
        gauges={
            name: meter.create_gauge(name, _DESCRIPTIONS[name], "1")
            for name in GAUGES
            if name.startswith(f"{service}_")
        },
        duration=meter.create_histogram_float(
            ZIGFLOW_DURATION, _DESCRIPTIONS[ZIGFLOW_DURATION], "s"
        ),
    )
    for gauge in _state.instruments.gauges.values():  # at 0 from the first scrape, for alerts
        gauge.set(0)


def _count(name: str, labels: Mapping[str, str] | None = None) -> None:
    if _state.instruments is not None:
        _state.instruments.counters[name].add(1, labels or None)


def _publish() -> None:
    if _state.instruments is not None:
        for name, value in ((ZIGFLOW_PENDING, _state.pending), (STIGMA_RUNNING, _state.running)):
            if name in _state.instruments.gauges:
                _state.instruments.gauges[name].set(len(value))


# -- Zigflow ------------------------------------------------------------------
def agent_activity_started(mode: str) -> None:
    """An ExecuteAgent attempt began (every attempt counts)."""
    _count(ZIGFLOW_STARTED, {"mode": mode})


def agent_activity_pending(key: str) -> None:
    """Stigma ACKed a handshake attempt: the activity now waits for its token's use
    (it goes result-pending right after this: counted for every attempt)."""
    _count(ZIGFLOW_RESULT_PENDING)
    if key not in _state.resolved:
        _state.pending.add(key)
        _publish()


def start_agent_error(code: str, retryable: bool) -> None:
    """StartAgent failed (no ACK): the attempt fails fast instead of going pending."""
    _count(ZIGFLOW_START_AGENT_ERRORS, {"code": code, "retryable": str(retryable).lower()})


def agent_activity_resolved(
    key: str, mode: str, outcome: str, duration_s: float, replaying: bool, detail: str = ""
) -> None:
    """The Zigflow workflow saw the activity's final outcome: completed, failed,
    timed_out or canceled (``detail``: error type / timeout type)."""
    _state.pending.discard(key)
    _state.resolved[key] = None
    while len(_state.resolved) > RESOLVED_KEPT:
        _state.resolved.popitem(last=False)
    _publish()
    if replaying or _state.instruments is None:
        return
    if outcome == "completed":
        _count(ZIGFLOW_COMPLETED, {"mode": mode})
    elif outcome == "timed_out":
        _count(ZIGFLOW_TIMED_OUT, {"mode": mode, "timeout_type": detail or "unknown"})
    elif outcome == "failed":
        _count(ZIGFLOW_FAILED, {"mode": mode, "error_type": detail or "unknown"})
    _state.instruments.duration.record(max(duration_s, 0.0), {"mode": mode, "outcome": outcome})


# -- Stigma -------------------------------------------------------------------
def start_agent_answered(outcome: str) -> None:
    """StartAgent's answer: ack, invalid, undecodable, already_finished, temporal_error."""
    _count(STIGMA_START_AGENT, {"outcome": outcome})


def stigma_workflow_started(workflow_id: str) -> None:
    _state.running.add(workflow_id)
    _publish()


def stigma_workflow_ended(workflow_id: str) -> None:
    _state.running.discard(workflow_id)
    _publish()


def completion_call(kind: str, outcome: str, code: str = "") -> None:
    """One call by token (complete, fail, cancel, heartbeat) and what came of it:
    delivered, delivered_earlier, token_dead, token_rejected, transient, alive,
    cancel_requested."""
    _count(STIGMA_COMPLETION_CALLS, {"kind": kind, "outcome": outcome})
    if outcome == "token_rejected":
        _count(STIGMA_TOKEN_REJECTIONS, {"kind": kind, "code": code or "unknown"})
    elif outcome == "transient":
        _count(STIGMA_COMPLETION_FAILURES, {"kind": kind, "code": code or "unknown"})


def completion_gave_up(replaying: bool) -> None:
    """The completion window closed with only transient errors (from workflow code)."""
    if not replaying:
        _count(STIGMA_COMPLETION_GAVE_UP)


_DESCRIPTIONS = {
    ZIGFLOW_STARTED: "ExecuteAgent attempts started, by mode (every attempt counts)",
    ZIGFLOW_PENDING: "handshake activities ACKed by Stigma and not yet resolved by token",
    ZIGFLOW_RESULT_PENDING: "handshake activity attempts that went result-pending after the ACK",
    ZIGFLOW_COMPLETED: "agent activities that completed (as seen by the Zigflow workflow)",
    ZIGFLOW_FAILED: "agent activities that failed after their retries, by error_type",
    ZIGFLOW_TIMED_OUT: "agent activities that timed out, by timeout_type",
    ZIGFLOW_DURATION: "agent activity duration, scheduled to resolved (all attempts)",
    ZIGFLOW_START_AGENT_ERRORS: "StartAgent calls that got no ACK, by gRPC code",
    STIGMA_RUNNING: "Stigma agent workflows running on this worker",
    STIGMA_START_AGENT: "StartAgent requests answered, by outcome",
    STIGMA_COMPLETION_CALLS: "calls by task token (complete/fail/cancel/heartbeat), by outcome",
    STIGMA_TOKEN_REJECTIONS: "calls by token that Temporal rejected (malformed/foreign token)",
    STIGMA_COMPLETION_FAILURES: "calls by token that failed transiently (retried), by code",
    STIGMA_COMPLETION_GAVE_UP: "completions abandoned when the completion window closed",
}
