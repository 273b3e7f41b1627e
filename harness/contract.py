"""The service contract: what a Zigflow and a Stigma under test must do
(``BEHAVIOURS``, each with the checkers that judge it) and every name, id format,
status and shape the harness reads from, or sends to, them (``TERMS``). One home for
them.

- The tables of docs/reference/contract.md are generated from ``TERMS``
  (``python -m harness.contract --markdown``; ``tests/unit/test_contract.py`` fails
  when that page and this module disagree).
- ``tests/unit/test_contract.py`` also fails when harness code that reads what a
  service produced compares or looks up a string that is not declared here: a
  checker cannot quietly depend on a name only our Python services produce.
- ``required=False`` marks optional evidence: a service may leave it out, and the
  checks that need it then say "not checked" (never a silent pass).
- Names that differ between teams are settings (``Names``): the same in every
  process of a run, from ``--contract-name KEY=VALUE`` or ``HANDSHAKE_CONTRACT_NAMES``
  ("KEY=VALUE,KEY=VALUE"); the defaults are the seed plan's where it gives one.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from dataclasses import dataclass

from harness.errors import ConfigError

ZIGFLOW, STIGMA, BOTH = "zigflow", "stigma", "both"


@dataclass(frozen=True)
class Term:
    value: str
    meaning: str
    side: str  # ZIGFLOW | STIGMA | BOTH: who must produce or accept it
    group: str  # the table it is documented in
    required: bool = True  # False: optional evidence, checks without it say "not checked"
    setting: str = ""  # Names field a team sets to rename it ("" = fixed by the contract)


@dataclass
class Names:
    """The contract names a team may rename (defaults: the reference services')."""

    zigflow_workflow: str = "ZigflowWorkflow"
    # The seed plan's name. The harness finds each agent activity in Zigflow's history by
    # its activity id; the type is what activity-level runs schedule, and what a spec
    # waits on to see an attempt in flight.
    zigflow_agent_activity: str = "ExecuteAgent"
    stigma_agent_activity: str = "run_agent"
    stigma_complete_activity: str = "complete_zigflow_activity"
    stigma_fail_activity: str = "fail_zigflow_activity"
    stigma_cancel_activity: str = "cancel_zigflow_activity"
    stigma_workflow_prefix: str = "stigma-"


NAMES = Names()

# The proto's names (proto/stigma/v1/stigma_service.proto): fixed, not settings.
STIGMA_SERVICE = "stigma.v1.StigmaService"
START_AGENT = "StartAgent"
START_AGENT_PATH = f"/{STIGMA_SERVICE}/{START_AGENT}"


# The longest gRPC deadline a StartAgent may carry. Stigma ACKs once its durable start
# is done (tens of ms; a cold JVM a few hundred): a deadline of minutes or hours (a Go
# activity passing its own context gives its StartToClose, 24 h in the plan) means an
# attempt hangs that long on a Stigma that never answers, instead of failing fast and
# being retried.
START_AGENT_DEADLINE_MAX_S = 60.0

# Bounded calls by token (issue 22, item 5). Every call by token Stigma makes (complete,
# fail, cancel, heartbeat) carries a gRPC deadline of at most this: a server that answers
# late or never (a malformed token once met UNKNOWN after a long wait,
# temporalio/temporal#4054) costs that call its deadline, not the result. The SDKs'
# own default is about this long (Java: 10 s per call); the reference Stigmas set 3 s.
CALL_BY_TOKEN_DEADLINE_MAX_S = 10.0
# A call given up at its deadline (DEADLINE_EXCEEDED, or an UNKNOWN) is transient: the
# next call by the same token follows within this (the first step of the retry
# backoff), inside the completion window.
CALL_BY_TOKEN_RETRY_WITHIN_S = 5.0
# So Stigma records what became of a call by token (delivered, or refused with the
# server's code) within this of its first call, when the server answers the retry.
CALL_BY_TOKEN_RECORDED_WITHIN_S = CALL_BY_TOKEN_DEADLINE_MAX_S + CALL_BY_TOKEN_RETRY_WITHIN_S
# While one call by token waits on a server that does not answer, another execution's
# completion goes through: it resolves before that call is given up, or within this of
# the call's start if that is later (a short deadline does not make the check unfair).
# One call at a time (a single completion slot, a lock) fails it.
CALL_BY_TOKEN_OTHERS_WITHIN_S = 3.0


# The cluster's payload limit (limit.blobSize.error). Over it the server does not refuse
# a call by token: it answers OK and fails Zigflow's activity with a ServerError of its
# own ("Complete result exceeds size limit."), so a Stigma that completes regardless
# records "delivered" for a result Zigflow never got. Instead Stigma fails the activity
# with an application failure of this type, non-retryable, and records RESULT_TOO_LARGE.
RESULT_TOO_LARGE_TYPE = "ResultTooLarge"
RESULT_TOO_LARGE = "result_too_large"
DEFAULT_PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024
# A result whose envelope is this far under the limit is delivered as it is: room for
# the envelope's fields and the token a Stigma carries with the result through its own
# workflow (a token is at most 8 KiB), which meet the same limit there.
PAYLOAD_HEADROOM_BYTES = 16 * 1024
# Recommended worker settings, not required: a service keeping its SDK's defaults is
# certified alike, its kill scenarios only take longer (the scenarios' bounds allow the
# defaults). A workflow task goes to the sticky queue of the worker that ran the previous
# one; when that worker was killed, Temporal moves the task to the normal queue only after
# the sticky schedule-to-start timeout (SDK defaults: Python 10 s, Go and Java 5 s). For
# workflows of a few dozen events another worker's replay costs milliseconds, so a short
# timeout trades a rare replay for seconds of a stalled handshake. The references set it.
RECOMMENDED_STICKY_SCHEDULE_TO_START_S = 1.0
# A workflow task handed to a worker that then died with it (eagerly, in the start reply)
# is retried after the workflow task timeout (server default 10 s). Stigma's executions
# answer a task in milliseconds; the references start them with this.
RECOMMENDED_WORKFLOW_TASK_TIMEOUT_S = 3.0

# Shutdown with calls in flight (a rolling deploy's SIGTERM): a service told to stop
# exits by itself, exit code 0, within this of the signal, whatever it has in flight.
# The references give in-flight calls a 2 s grace (StartAgent's server, then the
# worker's graceful shutdown: at most about 4 s when every grace runs out) and exit
# within about 1 s once those calls have finished (scenarios/test_shutdown.py, SIGTERM
# to exit as the harness timed it in 21 runs on a shared 2-core machine: Python Stigma
# 0.02-0.6 s, Java Stigma 0.5-1.2 s, Python and Go Zigflow under 0.02 s); a
# supervisor's grace period is longer (Kubernetes: 30 s). Waiting for running agents
# (hours) is no drain: their executions are Temporal's, not the process's, and the next
# process picks their results up.
SHUTDOWN_BOUND_S = 10.0


def stigma_workflow_id(idempotency_key: str) -> str:
    """Stigma's execution for an idempotency key (``stigma_workflow_prefix`` + key)."""
    return f"{NAMES.stigma_workflow_prefix}{idempotency_key}"


def completion_activities() -> tuple[str, ...]:
    """Stigma's activities that resolve Zigflow's activity by token."""
    return (
        NAMES.stigma_complete_activity,
        NAMES.stigma_fail_activity,
        NAMES.stigma_cancel_activity,
    )


def configure(overrides: str | list[str] | None) -> Names:
    """Apply ``KEY=VALUE`` overrides (a comma-separated string or a list) to ``NAMES``."""
    items: list[str] = []
    for part in [overrides] if isinstance(overrides, str) else overrides or []:
        items += [p.strip() for p in part.split(",") if p.strip()]
    known = {f.name for f in dataclasses.fields(Names)}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known or not value.strip():
            raise ConfigError(
                f"contract name {item!r}: expected KEY=VALUE with KEY one of "
                + ", ".join(sorted(known))
            )
        setattr(NAMES, key, value.strip())
    return NAMES


def _t(
    value: str,
    meaning: str,
    side: str,
    group: str,
    *,
    required: bool = True,
    setting: str = "",
) -> Term:
    return Term(value, meaning, side, group, required, setting)


GRPC, ENV, TEMPORAL, ACTIVITY, PLAN, ENVELOPE, SUMMARY, METRIC = (
    "gRPC",
    "Command line and environment",
    "Temporal names",
    "The agent activity's argument (activity level: the harness's workflow calls it)",
    "Zigflow plan (workflow level only: input and result of the Zigflow workflow)",
    "Result envelope (what Stigma completes Zigflow's activity with)",
    "Stigma's execution summary (optional evidence)",
    "Metrics (optional evidence)",
)

_defaults = Names()

TERMS: tuple[Term, ...] = (
    # -- gRPC ------------------------------------------------------------------
    _t(
        STIGMA_SERVICE,
        "Stigma's gRPC service, and its grpc.health.v1 service name",
        STIGMA,
        GRPC,
    ),
    _t(START_AGENT, "the one RPC: ACK (Empty) once the agent's start is durable", STIGMA, GRPC),
    _t(
        "",
        "grpc.health.v1 service name of Zigflow's health endpoint (the server's overall health)",
        ZIGFLOW,
        GRPC,
    ),
    # -- environment (the harness sets these for any service it starts) ---------
    _t(
        "ZIGFLOW_TEMPORAL_ADDRESS",
        "Temporal frontend host:port for Zigflow (a proxy in chaos stacks)",
        ZIGFLOW,
        ENV,
    ),
    _t("ZIGFLOW_NAMESPACE", "Zigflow's namespace", ZIGFLOW, ENV),
    _t(
        "ZIGFLOW_TASK_QUEUE",
        "task queue of Zigflow's workflows and activities (recommended: its worker's sticky "
        f"schedule-to-start timeout {RECOMMENDED_STICKY_SCHEDULE_TO_START_S:g} s, so a "
        "workflow task left to a killed worker moves on soon)",
        ZIGFLOW,
        ENV,
    ),
    _t(
        "ZIGFLOW_STIGMA_TARGET",
        "Stigma's gRPC host:port for Zigflow (the harness's relay or a proxy)",
        ZIGFLOW,
        ENV,
    ),
    _t(
        "ZIGFLOW_HEALTH_LISTEN",
        "where Zigflow's grpc.health.v1 listens; SERVING once its worker runs",
        ZIGFLOW,
        ENV,
    ),
    _t(
        "ZIGFLOW_MAX_CONCURRENT_ACTIVITIES",
        "activity slots (the harness uses 2: pending agents must hold none)",
        ZIGFLOW,
        ENV,
        required=False,
    ),
    _t(
        "ZIGFLOW_METRICS_LISTEN",
        "host:port of Zigflow's Prometheus /metrics",
        ZIGFLOW,
        ENV,
        required=False,
    ),
    _t("STIGMA_LISTEN", "host:port of StigmaService and its grpc.health.v1", STIGMA, ENV),
    _t(
        "STIGMA_TEMPORAL_ADDRESS",
        "Temporal frontend host:port for Stigma (a proxy in chaos stacks)",
        STIGMA,
        ENV,
    ),
    _t("STIGMA_NAMESPACE", "Stigma's namespace", STIGMA, ENV),
    _t(
        "STIGMA_TASK_QUEUE",
        "Stigma's task queue (recommended: its worker's sticky schedule-to-start timeout "
        f"{RECOMMENDED_STICKY_SCHEDULE_TO_START_S:g} s, and a workflow task timeout of "
        f"{RECOMMENDED_WORKFLOW_TASK_TIMEOUT_S:g} s on the executions it starts, so a task "
        "left to a killed worker moves on soon)",
        STIGMA,
        ENV,
    ),
    _t(
        "STIGMA_ZIGFLOW_TEMPORAL_ADDRESS",
        "Temporal host:port for Stigma's calls by token (the harness's completion relay)",
        STIGMA,
        ENV,
    ),
    _t(
        "STIGMA_AGENT_TASK_QUEUE",
        "where Stigma schedules its agents' activities (served by the harness's agent)",
        STIGMA,
        ENV,
    ),
    _t(
        "STIGMA_METRICS_LISTEN",
        "host:port of Stigma's Prometheus /metrics",
        STIGMA,
        ENV,
        required=False,
    ),
    _t(
        "STIGMA_MAX_PAYLOAD_BYTES",
        "the cluster's payload limit in bytes (its limit.blobSize.error; "
        f"{DEFAULT_PAYLOAD_LIMIT_BYTES} by default): the harness sets it to the limit of "
        "the server it starts, or to HANDSHAKE_PAYLOAD_LIMIT_BYTES for a cluster. Your "
        "Stigma may take the limit from its own configuration instead; it must be the "
        "cluster's",
        STIGMA,
        ENV,
    ),
    # TLS towards Temporal: set only when the cluster speaks TLS (harness/tls.py).
    *(
        _t(
            f"{prefix}_{suffix}",
            f"{who}: {meaning}",
            side,
            ENV,
            required=False,
        )
        for prefix, side, who in (
            ("ZIGFLOW", ZIGFLOW, "Zigflow"),
            ("STIGMA", STIGMA, "Stigma (both its connections)"),
        )
        for suffix, meaning in (
            ("TEMPORAL_TLS", "1: connect to Temporal with TLS (set with any of the below)"),
            (
                "TEMPORAL_TLS_CA",
                "PEM file of the CA(s) to trust: the cluster's, plus the harness's own for its "
                "relays; empty: the system's",
            ),
            ("TEMPORAL_TLS_CERT", "PEM file of the client certificate (mTLS)"),
            ("TEMPORAL_TLS_KEY", "PEM file of the client certificate's private key (mTLS)"),
            (
                "TEMPORAL_TLS_SERVER_NAME",
                "name to check in the server's certificate: the cluster's, also when the "
                "address is a proxy or relay of the harness",
            ),
            (
                "TEMPORAL_API_KEY",
                "API key, sent as gRPC metadata `authorization: Bearer <key>`; never log it",
            ),
        )
    ),
    # -- Temporal --------------------------------------------------------------
    _t(
        _defaults.zigflow_workflow,
        "workflow level only: the workflow type the harness starts with a plan, on "
        "ZIGFLOW_TASK_QUEUE",
        ZIGFLOW,
        TEMPORAL,
        setting="zigflow_workflow",
    ),
    _t(
        _defaults.zigflow_agent_activity,
        "Zigflow's agent activity: StartAgent with its task token, then result pending",
        ZIGFLOW,
        TEMPORAL,
        setting="zigflow_agent_activity",
    ),
    _t(
        "{i}-{name}",
        "activity id of plan state i (how the harness finds each agent call in Zigflow's history)",
        ZIGFLOW,
        TEMPORAL,
    ),
    _t(
        "{workflow_id}/{run_id}/{activity_id}",
        "idempotency_key of a call: the same for every attempt",
        ZIGFLOW,
        TEMPORAL,
    ),
    _t(
        _defaults.stigma_workflow_prefix + "{idempotency_key}",
        "workflow id of Stigma's execution for a key",
        STIGMA,
        TEMPORAL,
        setting="stigma_workflow_prefix",
    ),
    _t(
        _defaults.stigma_agent_activity,
        "the agent activity Stigma schedules on STIGMA_AGENT_TASK_QUEUE (the harness serves "
        "it). Arguments: agent_id (a string) and StartAgentRequest.input as received, as "
        "bytes (a binary/plain payload: Go []byte, Java byte[], Python bytes). Result: the "
        "agent's output, any JSON value, passed on unread as the envelope's output; failure: "
        "the agent's non-retryable application failure (type, message). Required: a "
        "heartbeat timeout (the harness's agent heartbeats every second), and a StartToClose "
        "(and ScheduleToClose, if set) no shorter than the longest run Zigflow allows "
        "(agent_max_run_s, 24 h by default): a shorter one ends a held agent before "
        "Zigflow's own timeout. Your choice: their values and the retry policy (the "
        "reference: heartbeat 5 min, StartToClose 7 days, 3 attempts). On the time-skipping "
        "server virtual time passes in steps of this heartbeat timeout: a shorter one makes "
        "the virtual-time scenarios slower",
        STIGMA,
        TEMPORAL,
        setting="stigma_agent_activity",
    ),
    _t(
        _defaults.stigma_complete_activity,
        "(non-local) activity that completes Zigflow's activity by token",
        STIGMA,
        TEMPORAL,
        setting="stigma_complete_activity",
    ),
    _t(
        _defaults.stigma_fail_activity,
        "(non-local) activity that fails Zigflow's activity by token",
        STIGMA,
        TEMPORAL,
        setting="stigma_fail_activity",
    ),
    _t(
        _defaults.stigma_cancel_activity,
        "(non-local) activity that reports Zigflow's activity cancelled by token, once "
        "Zigflow's cancellation reached Stigma (a heartbeat's answer); counted with the "
        "two above as Stigma's calls by token",
        STIGMA,
        TEMPORAL,
        setting="stigma_cancel_activity",
    ),
    # -- the agent activity's argument (activity level) ------------------------------
    _t("agent_id", "StartAgentRequest.agent_id", ZIGFLOW, ACTIVITY),
    _t(
        "input_json",
        "the agent's input as a JSON string: StartAgentRequest.input",
        ZIGFLOW,
        ACTIVITY,
    ),
    _t(
        "mode",
        "handshake: token, ACK, result pending; direct: no token, return at the ACK",
        ZIGFLOW,
        ACTIVITY,
    ),
    # -- the plan ----------------------------------------------------------------
    _t(
        "states",
        "the plan's list of states; the workflow's result is an object whose states is the "
        "list of state results, one per state run, in order: an object with name, status "
        "and, when status is ok, result (the state's activity result: for a handshake the "
        "envelope, whose output the harness compares with the agent's); other keys "
        "(the reference adds activity_id, error_type, error_message) are not read",
        ZIGFLOW,
        PLAN,
    ),
    _t("name", "a state's name (its activity id is {i}-{name})", ZIGFLOW, PLAN),
    _t("kind", "state kind: call_agent (default) or echo", ZIGFLOW, PLAN),
    _t("call_agent", "kind: call agent_id with input, through Stigma", ZIGFLOW, PLAN),
    _t(
        "echo", "kind: a trivial activity returning input (proves the worker serves)", ZIGFLOW, PLAN
    ),
    _t("agent_id", "which agent (StartAgentRequest.agent_id)", ZIGFLOW, PLAN),
    _t("input", "the agent's input, a JSON value sent as StartAgentRequest.input", ZIGFLOW, PLAN),
    _t(
        "mode",
        "handshake (wait for the result by token) or direct (move on at the ACK)",
        ZIGFLOW,
        PLAN,
    ),
    _t("handshake", "mode: the token handshake", ZIGFLOW, PLAN),
    _t("direct", "mode: no token, the pre-handshake call", ZIGFLOW, PLAN),
    _t("start_to_close_s", "StartToClose of the agent activity (default 86400)", ZIGFLOW, PLAN),
    _t(
        "heartbeat_timeout_s",
        "heartbeat timeout of the agent activity (default none)",
        ZIGFLOW,
        PLAN,
    ),
    _t("max_attempts", "retry policy's maximum attempts (default 5)", ZIGFLOW, PLAN),
    _t(
        "agent_max_run_s",
        "how long the agent may run (default: start_to_close_s, else 86400). For the "
        "harness's judgement, not an option to pass on: Zigflow need not read it, but the "
        "StartToClose it schedules (start_to_close_s) must be at least this long",
        ZIGFLOW,
        PLAN,
    ),
    _t("on_error", "fail (default: the workflow fails) or continue", ZIGFLOW, PLAN),
    _t(
        "fail",
        "on_error: the workflow fails. Its failure may be the workflow's own error type "
        "with the state's failure as its cause (the reference's does): the harness judges "
        "the agent activity's failure in Zigflow's history and the workflow's cause chain, "
        "never the outer type",
        ZIGFLOW,
        PLAN,
    ),
    _t("status", "a state result's status: ok or failed", ZIGFLOW, PLAN),
    _t("ok", "state status: the state's activity completed", ZIGFLOW, PLAN),
    _t("failed", "state status: the state's activity failed", ZIGFLOW, PLAN),
    # -- the envelope --------------------------------------------------------------
    _t(
        "zigflow_workflow_id",
        "the Zigflow workflow the result is for (checked by Zigflow: crossed wires)",
        STIGMA,
        ENVELOPE,
    ),
    _t("zigflow_activity_id", "the Zigflow activity the result is for", STIGMA, ENVELOPE),
    _t("output", "the agent's output", STIGMA, ENVELOPE),
    _t(
        RESULT_TOO_LARGE_TYPE,
        "the application failure type (non-retryable) Zigflow's activity fails with when "
        "the agent's result or failure is over the cluster's payload limit: its message "
        "names the size and the limit, its details are small (the reference: the envelope "
        "without output)",
        STIGMA,
        ENVELOPE,
    ),
    # -- Stigma's summary (its workflow's result) -------------------------------------
    _t("agent_outcome", "succeeded | failed | canceled", STIGMA, SUMMARY, required=False),
    _t(
        "completion",
        "what the call by token did: an object with status and grpc_code",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "message",
        "the server's message when a call by token was refused",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "grpc_code",
        "the server's status code when a call by token was refused",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t("heartbeats", "heartbeats Stigma sent by token", STIGMA, SUMMARY, required=False),
    _t(
        "delivered",
        "completion status: the call by token succeeded",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "delivered_earlier",
        "completion status: an earlier call (reply lost) had delivered it",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "token_dead",
        "completion status: NOT_FOUND, nobody waits on that token",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "NOT_FOUND",
        "grpc_code of a token_dead call: the server's answer to a token whose attempt is "
        "gone (retried, timed out, or its workflow closed), the gRPC status code's name",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "token_rejected",
        "completion status: the server refused the token (INVALID_ARGUMENT...)",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        RESULT_TOO_LARGE,
        "completion status: the agent's result or failure was over the payload limit; "
        "Zigflow's activity was failed with ResultTooLarge instead (never 'delivered')",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "gave_up",
        "completion status: only transient errors within the completion window",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    _t(
        "no_token",
        "completion status: a direct call, nothing to complete",
        STIGMA,
        SUMMARY,
        required=False,
    ),
    # -- metrics ----------------------------------------------------------------------
    _t(
        "zigflow_agent_activity_completed_total",
        "agent activities completed, seen by Zigflow's workflow",
        ZIGFLOW,
        METRIC,
        required=False,
    ),
    _t(
        "zigflow_agent_activity_failed_total",
        "agent activities failed after their retries",
        ZIGFLOW,
        METRIC,
        required=False,
    ),
    _t(
        "zigflow_agent_activity_timed_out_total",
        "agent activities timed out",
        ZIGFLOW,
        METRIC,
        required=False,
    ),
    _t(
        "zigflow_agent_activities_pending",
        "gauge: handshake activities ACKed, not yet resolved by token",
        ZIGFLOW,
        METRIC,
        required=False,
    ),
    _t(
        "zigflow_agent_activities_result_pending_total",
        "handshake activity attempts that went result-pending after their ACK (every "
        "attempt; an activity-level Zigflow can count these, not resolutions)",
        ZIGFLOW,
        METRIC,
        required=False,
    ),
    _t(
        "stigma_completion_calls_total",
        "calls by token, by kind and outcome",
        STIGMA,
        METRIC,
        required=False,
    ),
    _t(
        "stigma_workflows_running",
        "gauge: agent executions running",
        STIGMA,
        METRIC,
        required=False,
    ),
)


# The gauges among the metrics: a level ("how many right now"), not a count since the
# process started. Told apart by Prometheus's naming rule (a counter's series ends in
# "_total"), which the names above follow.
GAUGES: tuple[Term, ...] = tuple(
    t for t in TERMS if t.group == METRIC and not t.value.endswith("_total")
)


@dataclass(frozen=True)
class Behaviour:
    """One thing a service must do to be certified, and what judges it."""

    side: str  # ZIGFLOW | STIGMA | BOTH
    does: str
    checks: tuple[str, ...]  # checker (verdict) names that judge it from recorded evidence
    specs: tuple[str, ...]  # scenario files that make it happen (scenarios/)
    required: bool = True  # False: judged only where the service gives the evidence
    # The Zigflow levels it is asked of ("activity": a Zigflow that is only its agent
    # activity, under the harness's own workflow).
    levels: tuple[str, ...] = ("workflow", "activity")
    # Among ``checks``: those that say whether a scenario's fault reached the state the
    # behaviour is about (not what the service did there). One of them "not checked"
    # leaves the behaviour not checked, whatever the others say: they judged a fault
    # that may have met another state.
    reach: tuple[str, ...] = ()


EVERY_SCENARIO = "*"  # judged after every scenario, whatever it is about

# Everything a service must do to pass. tests/unit/test_contract.py ties this list to the
# checkers: a checker that judges something not written here, or a behaviour that names
# a checker that does not exist, fails it.
BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        BOTH,
        "Takes its settings from the environment above (or the flags of the command line "
        "it is given), answers SERVING on grpc.health.v1 once it serves, and exits on "
        "SIGTERM",
        (),
        (EVERY_SCENARIO, "test_restarts.py"),
    ),
    Behaviour(
        ZIGFLOW,
        "Its agent activity sends StartAgent with its own task token as callback_token, an "
        "idempotency key that is the same for every attempt and the correlation, then "
        "returns result-pending at the ACK, holding no worker slot while the agent runs",
        ("worker_not_blocked", "resumed_once_with_agent_result"),
        ("test_success.py", "test_not_blocked.py"),
    ),
    Behaviour(
        ZIGFLOW,
        f"Every StartAgent carries a gRPC deadline of at most {START_AGENT_DEADLINE_MAX_S:.0f} s",
        ("start_agent_has_deadline",),
        (EVERY_SCENARIO,),
    ),
    Behaviour(
        ZIGFLOW,
        "A StartAgent that fails transiently (UNAVAILABLE, DEADLINE_EXCEEDED, a reset) fails "
        "the attempt at once and is retried with a new attempt's token; a permanent refusal "
        "(INVALID_ARGUMENT) fails the activity without retry",
        ("retried_after_failing_fast", "permanent_rejection_not_retried"),
        ("test_network.py", "test_retries.py", "test_fault_matrix.py"),
    ),
    Behaviour(
        ZIGFLOW,
        "The agent activity is scheduled with the planned timeouts and a bounded retry "
        "policy, its StartToClose covering the agent's run; a timeout ends it with "
        "Temporal's timeout failure when the plan says",
        ("agent_activity_options", "timed_out"),
        (EVERY_SCENARIO, "test_timeout.py", "test_heartbeats.py"),
    ),
    Behaviour(
        ZIGFLOW,
        "An attempt whose worker dies before its StartAgent reached Stigma (no one holds "
        "its token, no one heartbeats it) is ended by the plan's heartbeat timeout, not the "
        "StartToClose, and retried on a live worker with a new token; the agent runs once",
        ("retried_after_timeout",),
        ("test_restarts.py",),
    ),
    Behaviour(
        ZIGFLOW,
        "Direct mode (no token): returns at the ACK; nothing is completed by token",
        ("direct_call_moves_on_at_ack",),
        ("test_direct_call.py",),
    ),
    Behaviour(
        ZIGFLOW,
        "Workflow level only: its workflow refuses a result whose envelope names another "
        "workflow or activity (crossed wires), with an application failure of its own",
        ("crossed_wires_detected",),
        ("test_token_corruption.py",),
        levels=("workflow",),
    ),
    Behaviour(
        STIGMA,
        "ACKs StartAgent only after Temporal accepted the durable start of its execution "
        "(started, or already started)",
        ("acked_after_durable_start",),
        (EVERY_SCENARIO, "test_crash_points.py"),
    ),
    Behaviour(
        STIGMA,
        "One execution per idempotency key, whatever the retries: a retried StartAgent "
        "attaches its new token to the running execution; the agent runs once, as "
        "run_agent(agent_id, input bytes as received) on the agent task queue with a "
        "heartbeat timeout",
        ("at_most_one_agent_per_key", "agent_ran_once", "agents_heartbeat_watched"),
        ("test_retries.py", "test_restarts.py", "test_handshake_model.py"),
    ),
    Behaviour(
        STIGMA,
        "Completes or fails Zigflow's activity by token exactly once, from a (non-local) "
        "activity, with the envelope and the agent's output, or the agent's failure type "
        "and message as a non-retryable application failure; a call refused UNAVAILABLE "
        "past its client's own retries is retried within the completion window, not "
        "taken for a dead token",
        (
            "resumed_once_with_agent_result",
            "agent_failure_propagated",
            "no_token_lost",
            "every_call_resolved",
        ),
        ("test_success.py", "test_failure.py", "test_restarts.py", "test_network.py"),
    ),
    Behaviour(
        STIGMA,
        "A call by token answered NOT_FOUND is recorded, not retried forever; when a newer "
        "Zigflow attempt brings a live token the result goes there; a token the server "
        "refuses (damaged, foreign) is recorded with its code",
        ("late_completion_recorded", "redelivered_to_live_attempt", "damaged_token_handled"),
        ("test_timeout.py", "test_retries.py", "test_token_corruption.py"),
    ),
    Behaviour(
        STIGMA,
        "A completion racing a retry: when Zigflow's attempt timed out (StartToClose or "
        "heartbeat) while its agent was finishing, and the retry is in backoff or has "
        "started with a new token, a complete or fail by the old token ends NOT_FOUND "
        "and is recorded as token_dead with that code after one call, never retried nor "
        "counted delivered; the agent's result or failure then reaches the live attempt "
        "exactly once, whether the old call lands before or after the retry's token "
        "reaches Stigma; a heartbeat by the old token answered NOT_FOUND while the retry "
        "is pending does not stop the heartbeats: Stigma beats the retry's token once it "
        "arrives",
        ("superseded_call_recorded",),
        ("test_retry_race.py",),
    ),
    Behaviour(
        STIGMA,
        f"Every call by token carries a gRPC deadline of at most "
        f"{CALL_BY_TOKEN_DEADLINE_MAX_S:.0f} s: a call the server answers late or never "
        "is given up at its deadline and, like an UNKNOWN, taken as transient: the next "
        f"call by that token follows within {CALL_BY_TOKEN_RETRY_WITHIN_S:.0f} s, inside "
        "the completion window, and what became of it (delivered, or refused with the "
        f"server's code) is recorded within {CALL_BY_TOKEN_RECORDED_WITHIN_S:.0f} s of the "
        "first call once the server answers; never lost. Calls by token are concurrent: "
        "while one waits, another execution's completion goes through (before the waiting "
        f"call is given up, or within {CALL_BY_TOKEN_OTHERS_WITHIN_S:.0f} s of its start if "
        "that is later): a call that waits holds no slot, and no result, of another",
        ("call_by_token_bounded", "other_completions_not_blocked"),
        ("test_bounded_rejection.py",),
    ),
    Behaviour(
        STIGMA,
        "Never sends Temporal a payload over the cluster's payload limit "
        "(STIGMA_MAX_PAYLOAD_BYTES): an agent result or failure whose encoded size is over "
        "it (measured before the call by token, or refused on its way into Stigma) fails "
        f"Zigflow's activity with a non-retryable {RESULT_TOO_LARGE_TYPE} application "
        "failure naming the size and the limit, exactly once, recorded as "
        f"{RESULT_TOO_LARGE} (never delivered); a result "
        f"{PAYLOAD_HEADROOM_BYTES // 1024} KiB or more under the limit is delivered as it "
        "is; heartbeats by token carry no details over the limit",
        ("oversized_result_refused_typed", "resumed_once_with_agent_result"),
        ("test_blob_limit.py", "test_token_corruption.py"),
    ),
    Behaviour(
        STIGMA,
        "With a heartbeat timeout on Zigflow's attempt: heartbeats by token while the agent "
        "runs; a heartbeat answered 'cancelled', or NOT_FOUND once Zigflow's workflow has "
        "closed, stops the agent",
        ("heartbeats_kept_alive", "cancelled_through_heartbeat"),
        ("test_heartbeats.py",),
    ),
    Behaviour(
        STIGMA,
        "An operator's pause, unpause or reset of Zigflow's pending activity (Temporal's "
        "PauseActivity, UnpauseActivity, ResetActivity) is not a cancellation: a heartbeat "
        "answered activity_paused or activity_reset without cancel_requested leaves the "
        "attempt running (the SDKs report it like a cancellation: Python's "
        "AsyncActivityCancelledError, whose details say which flag; Java's "
        "ActivityCompletionFailureException, whose cause is ActivityCanceledException, "
        "ActivityPausedException or ActivityResetException); Stigma keeps the agent, "
        "keeps heartbeating by the "
        "same token, and delivers the agent's result by it exactly once; only "
        "cancel_requested stops the agent. "
        "Observed on the dev server (server 1.32): a paused attempt is listed "
        "PAUSE_REQUESTED and its heartbeats answered OK with activity_paused, an unpause "
        "clears it, a reset (heartbeat details too or not) starts no new attempt while "
        "this one runs and its heartbeats are answered activity_reset; a completion by the "
        "token is taken in every case, and a cancellation reported by it is refused "
        "INVALID_ARGUMENT (none was requested): the agent's work is lost and Zigflow's "
        "activity waits for its timeout. Real servers only: the time-skipping server "
        "answers these calls UNIMPLEMENTED",
        ("operator_pause_is_not_cancel", "resumed_once_with_agent_result"),
        ("test_pause_reset.py",),
    ),
    Behaviour(
        STIGMA,
        "A malformed StartAgent gets INVALID_ARGUMENT with a message naming the field at "
        "fault by its proto name, starts nothing, and Stigma keeps serving; unknown "
        "fields are ignored",
        (),
        ("test_bad_input.py",),
    ),
    Behaviour(
        BOTH,
        "Every call ends, after any fault or restart of either service or of Temporal: "
        "completed or failed with a reason, never waiting on a lost token",
        ("every_call_resolved", "no_token_lost", "completion_outcome_is"),
        ("test_restarts.py", "test_fault_matrix.py", "test_handshake_model.py"),
    ),
    Behaviour(
        STIGMA,
        "On SIGTERM (a rolling deploy) with calls in flight: stops taking new StartAgent "
        "(NOT_SERVING, or its server closed: Zigflow retries elsewhere), lets a StartAgent "
        "whose start is already durable finish its ACK (or, if it cannot, the retry with "
        "the same idempotency key finds the running execution), lets its worker finish the "
        "calls by token in flight (or leaves them to the next process, by the same token), "
        "does not wait for running agents, and exits by itself, code 0, within "
        f"{SHUTDOWN_BOUND_S:.0f} s of the signal; after its restart every call in flight "
        "resolves exactly once: the agent run once, no Zigflow attempt that was pending "
        "failed, cancelled or retried by the shutdown",
        ("stopped_within_bound", "in_flight_kept_over_shutdown"),
        ("test_shutdown.py",),
    ),
    Behaviour(
        ZIGFLOW,
        "On SIGTERM with result-pending activities: leaves them pending (never fails, "
        "cancels or completes them on its way out: their tokens stay live for Stigma) and "
        f"exits by itself, code 0, within {SHUTDOWN_BOUND_S:.0f} s of the signal; a "
        "completion by token that lands while it is down resumes its workflow after its "
        "restart, in the attempt that was pending",
        ("stopped_within_bound", "in_flight_kept_over_shutdown", "stopped_while_result_pending"),
        ("test_shutdown.py",),
        reach=("stopped_while_result_pending",),
    ),
    Behaviour(
        BOTH,
        "No log holds a task token in any encoding (a fingerprint names it), nor the "
        "cluster's API key or client key",
        ("no_token_in_logs", "no_secret_in_logs"),
        (EVERY_SCENARIO,),
    ),
    Behaviour(
        STIGMA,
        "Its logs name each token by fingerprint (first 12 hex digits of its SHA-256)",
        ("token_named_by_fingerprint",),
        ("test_token_corruption.py",),
        required=False,
    ),
    Behaviour(
        BOTH,
        "Its metrics (the names above) agree with what the histories show; once no call is "
        "in flight, every gauge is back where it was before, whatever path the calls took "
        "(failure, cancellation, timeout, a killed service)",
        ("metrics_agree_with_history", "gauges_back_to_baseline"),
        # Its checkers are also judged in test_failure.py, test_timeout.py and
        # test_restarts.py (their verdicts count wherever recorded); not listed, so that
        # such a scenario failing on something else leaves this optional row unfailed.
        ("test_metrics.py", "test_heartbeats.py", "test_network.py", "test_load_smoke.py"),
        required=False,
    ),
)


VOCABULARY: frozenset[str] = frozenset(t.value for t in TERMS) | frozenset(
    getattr(_defaults, f.name) for f in dataclasses.fields(Names)
)
GROUPS: tuple[str, ...] = (GRPC, ENV, TEMPORAL, ACTIVITY, PLAN, ENVELOPE, SUMMARY, METRIC)


def digest() -> str:
    """SHA-256 of the contract as certified: its default names and every behaviour, so
    two certificates made against different contracts never look alike."""
    h = hashlib.sha256()
    for t in TERMS:
        h.update(f"{t.group}\0{t.side}\0{t.value}\0{t.required}\n".encode())
    for b in BEHAVIOURS:
        h.update(repr(dataclasses.astuple(b)).encode() + b"\n")
    return h.hexdigest()


def markdown() -> str:
    """The contract as Markdown: what a service must do (``BEHAVIOURS``), then one table
    per group of names (``TERMS``)."""
    out: list[str] = [
        "#### What a service must do",
        "",
        "| side | required | behaviour | judged by | scenarios |",
        "|---|---|---|---|---|",
    ]
    for b in BEHAVIOURS:
        checks = ", ".join(f"`{c}`" for c in b.checks) or "the scenarios' own assertions"
        specs = ", ".join("every scenario" if s == EVERY_SCENARIO else f"`{s}`" for s in b.specs)
        required = "yes" if b.required else "optional"
        out.append(f"| {b.side} | {required} | {b.does} | {checks} | {specs} |")
    out.append("")
    for group in GROUPS:
        out += [f"#### {group}", "", "| name | side | required | meaning |", "|---|---|---|---|"]
        for t in (t for t in TERMS if t.group == group):
            name = f"`{t.value}`" if t.value else '`""`'
            if t.setting:
                name += f" (rename: `{t.setting}`)"
            required = "yes" if t.required else "optional"
            out.append(f"| {name} | {t.side} | {required} | {t.meaning} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.contract", description=__doc__)
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the contract tables (docs/reference/contract.md)",
    )
    args = p.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown())
    else:
        for t in TERMS:
            print(f"{t.group}\t{t.side}\t{t.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
