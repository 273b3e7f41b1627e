"""What each scenario needs of a target, and what a target provides.

On the harness's own stack everything is provided: it spawns the services, owns the
Temporal server, puts Toxiproxy and its relays in every path. A deployed target
provides what its profile gives (hooks, an external Toxiproxy's proxies, Stigma's
address). A scenario whose needs are not all provided is *not certified on this
target: needs X*: listed as such in the report, never skipped to green, never passed.

The vocabulary is small and each word is something a target either has or has not;
``SCENARIOS`` says, for every test of ``scenarios/``, which words it needs (read from
the spec: the fixtures it takes and the faults it injects). A unit test fails when a
scenario file or test has no entry, so a new spec cannot slip onto a target unjudged.

Not wired into pytest collection yet: ``assess`` is what the plan (dry run) prints
and what a run on a target will use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.target.profile import LINKS, SERVICES, Profile

# Each need, and how a target provides it.
NEEDS: dict[str, str] = {
    "spawned_processes": "the harness starts the services itself (its own local stack)",
    "own_temporal": "a Temporal server the harness runs (it restarts it, or registers a "
    "second namespace on it)",
    "virtual_clock": "Temporal's time-skipping server (time moves when the harness says)",
    "real_clock": "a real Temporal server (heartbeats, a killed worker's sticky queue)",
    **{
        f"link:{link}": f"the {link} link through a Toxiproxy proxy the harness drives "
        "(an external Toxiproxy: toxiproxy.proxies." + link + " in the profile)"
        for link in LINKS
    },
    "relay:start_agent": "the harness's gRPC relay between Zigflow and Stigma (ACKs seen, "
    "lost, tokens damaged in transit): only on the harness's own stack today",
    "relay:completion": "the harness's relay between Stigma and Temporal (completions and "
    "starts parked, refused): only on the harness's own stack today",
    "stigma_address": "Stigma's gRPC address, reachable by the harness (stigma-address)",
    **{
        f"kill:{s}": f"{s} killed and brought back: spawned processes, or the {s} hooks "
        "kill and start (or restart) with a readiness check, and a grpc.health.v1 address "
        "whose Watch shows the kill land (ready-grpc-health"
        + ("; else stigma-address)" if s == "stigma" else ")")
        for s in SERVICES
    },
    **{
        f"pause:{s}": f"{s} frozen and thawed: spawned processes, or the {s} hooks pause and "
        "resume, and a grpc.health.v1 address that goes unanswered while it is frozen "
        "(ready-grpc-health" + ("; else stigma-address)" if s == "stigma" else ")")
        for s in SERVICES
    },
    "zigflow_slots": "the Zigflow worker's activity slots known (the harness starts it with "
    "2; a deployed one: zigflow-max-concurrent-activities)",
}


# What only the harness's own stack can give, never a deployment: a scenario needing one
# is certified by a local run of the same programs (``handshake certify``), and a
# deployment's certificate says so rather than counting it against the target.
LOCAL_ONLY = frozenset(
    {"spawned_processes", "own_temporal", "virtual_clock", "relay:start_agent", "relay:completion"}
)


# Checkers that judge only what a harness relay saw: without that relay in the path
# they give no verdict at all, so a behaviour judged only by them is not certified by
# the scenarios that ran (they did not look), however many passed.
CHECKER_NEEDS: dict[str, str] = {
    "start_agent_has_deadline": "relay:start_agent",
    "acked_after_durable_start": "relay:completion",
    # Heartbeats by token and their answers' flags, as the relay in front of Temporal saw them.
    "operator_pause_is_not_cancel": "relay:completion",
}


@dataclass(frozen=True)
class Needs:
    """One test's needs, and the faults it injects (for the plan)."""

    needs: frozenset[str] = frozenset()
    toxics: tuple[str, ...] = ()  # "LINK: toxic" as the plan prints them
    note: str = ""

    def hooks(self) -> list[str]:
        """The hooks this test would invoke on a deployed target: ``stigma.kill`` ..."""
        found = []
        for need in sorted(self.needs):
            kind, _, service = need.partition(":")
            if kind == "kill":
                found += [f"{service}.kill", f"{service}.start|restart", f"{service}.ready"]
            elif kind == "pause":
                found += [f"{service}.pause", f"{service}.resume"]
        return found


def _n(*needs: str, toxics: Iterable[str] = (), note: str = "") -> Needs:
    unknown = set(needs) - set(NEEDS)
    if unknown:  # a typo in the table below: at import, not in a run
        raise ValueError(f"needs not in the vocabulary: {sorted(unknown)}")
    return Needs(frozenset(needs), tuple(toxics), note)


NOTHING = _n()
EVERY_LINK = tuple(f"link:{link}" for link in LINKS)

# scenarios/FILE -> test function -> its needs. Read from the specs: the stack marker
# (none: any target; real_clock: a real server; chaos with network: the links it
# faults; chaos with tamper: the StartAgent relay), the faults (killed, paused:
# process control; relay.hold/refuse_starts: the completion relay; lose_acks: the
# StartAgent relay), direct probes of Stigma (StigmaProbe: its address).
SCENARIOS: dict[str, dict[str, Needs]] = {
    "test_bad_input.py": {
        "test_bad_requests_get_invalid_argument_start_nothing_and_stigma_keeps_serving": _n(
            "stigma_address"
        ),
        "test_unknown_fields_on_a_valid_request_are_ignored_not_refused": _n("stigma_address"),
        "test_handshakes_still_work_after_the_bad_requests": NOTHING,
    },
    "test_blob_limit.py": {
        "test_results_and_failures_over_the_payload_limit_fail_typed_and_are_recorded_so": _n(
            "real_clock",
            note="payloads sized from the cluster's limit: HANDSHAKE_PAYLOAD_LIMIT_BYTES",
        ),
        "test_a_start_agent_input_over_the_limits_is_refused_and_stigma_keeps_serving": _n(
            "real_clock", "stigma_address"
        ),
    },
    "test_bounded_rejection.py": {
        "test_a_call_by_token_temporal_never_answers_is_given_up_retried_and_blocks_no_other": (
            _n("relay:completion")
        ),
        "test_a_damaged_token_the_server_is_slow_to_refuse_is_recorded_within_the_bound": _n(
            "relay:start_agent", "relay:completion"
        ),
    },
    "test_crash_points.py": {
        "test_stigma_killed_before_its_start_is_durable_loses_nothing": _n(
            "real_clock", "relay:completion", "kill:stigma"
        ),
        "test_stigma_killed_after_its_durable_start_before_the_ack_runs_the_agent_once": _n(
            "real_clock", "relay:completion", "kill:stigma"
        ),
        "test_a_start_temporal_refuses_is_never_acked_and_the_retry_runs_the_agent": _n(
            "relay:completion"
        ),
    },
    "test_direct_call.py": {
        "test_direct_call_moves_on_at_ack_and_agent_still_runs_to_its_end": NOTHING,
    },
    "test_failure.py": {
        "test_agent_failure_fails_zigflow_activity_with_its_type_and_message": NOTHING,
        "test_a_request_stigma_refuses_fails_at_once_and_is_not_retried": NOTHING,
        "test_a_failure_whose_reply_was_lost_is_recognised_as_delivered_not_a_dead_token": _n(
            "relay:completion"
        ),
    },
    "test_fault_matrix.py": {
        "test_toxic_on_a_link_keeps_every_call_exactly_once": _n(
            *EVERY_LINK,
            toxics=[f"{link}: each toxic, each direction (a cell per run)" for link in LINKS],
            note="each cell needs only its own link; listed here for the whole matrix",
        ),
    },
    "test_handshake_model.py": {
        "test_the_handshake_behaves_like_its_model": _n(
            "relay:start_agent",
            "link:stigma_temporal",
            "kill:stigma",
            toxics=["stigma_temporal: down"],
            note="the kill rule runs on real servers only",
        ),
    },
    "test_heartbeats.py": {
        "test_heartbeats_keep_an_agent_alive_past_the_heartbeat_timeout": _n("real_clock"),
        "test_dead_stigma_is_detected_within_the_heartbeat_timeout": _n(
            "real_clock",
            "kill:stigma",
            note="Stigma must stay dead (every replica) until Zigflow's heartbeat timeout",
        ),
        "test_cancelling_zigflow_reaches_stigma_and_stops_the_agent": _n("real_clock"),
    },
    "test_load_smoke.py": {
        "test_locust_run_makes_successful_handshakes": _n(
            "spawned_processes", note="load on a deployment is the game day (not built yet)"
        ),
    },
    "test_metrics.py": {
        # Without metrics endpoints both record "not checked": evidence, not a need.
        "test_metrics_agree_with_history": NOTHING,
        "test_prometheus_fires_the_pending_and_stuck_alerts_on_held_agents": NOTHING,
    },
    "test_network.py": {
        "test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal": _n(
            "link:stigma_grpc", toxics=["stigma_grpc: down"]
        ),
        "test_latency_jitter_and_slicing_on_every_link_keep_the_handshake_correct": _n(
            *EVERY_LINK,
            toxics=[f"{link}: latency (both ways), slicer (downstream)" for link in LINKS],
        ),
        "test_zigflow_cut_off_from_temporal_resumes_after_heal": _n(
            "link:zigflow_temporal", toxics=["zigflow_temporal: down"]
        ),
        "test_ack_lost_after_stigma_started_the_agent_one_run_reaches_the_live_attempt": _n(
            "link:stigma_grpc", toxics=["stigma_grpc: timeout (downstream)", "stigma_grpc: down"]
        ),
        "test_completion_link_down_past_the_sdk_retry_window_completes_once_after_heal": _n(
            "relay:completion", "link:stigma_temporal", toxics=["stigma_temporal: down"]
        ),
        "test_completion_reply_lost_is_recognised_not_a_duplicate_or_a_false_failure": _n(
            "relay:completion",
            "link:stigma_temporal",
            toxics=["stigma_temporal: timeout (downstream)"],
        ),
        "test_calls_by_token_refused_past_the_client_retry_window_are_retried_and_delivered_once": (
            _n("relay:completion")
        ),
    },
    "test_not_blocked.py": {
        "test_fifty_pending_agents_do_not_block_a_two_slot_worker": _n("zigflow_slots"),
    },
    "test_overhead.py": {
        "test_sequential_handshakes_are_measured": NOTHING,
    },
    "test_restarts.py": {
        "test_stigma_killed_after_ack_before_agent_starts_still_delivers_once": _n(
            "real_clock", "kill:stigma"
        ),
        "test_zigflow_killed_while_agents_pending_resumes_after_restart": _n(
            "real_clock", "kill:zigflow"
        ),
        "test_zigflow_killed_before_stigma_had_the_token_retries_after_heartbeat_timeout": _n(
            "real_clock", "kill:zigflow", "relay:start_agent"
        ),
        "test_temporal_restarted_mid_agent_accepts_the_token_issued_before": _n(
            "real_clock", "own_temporal"
        ),
        "test_stigma_killed_before_the_ack_is_retried_with_a_new_token": _n(
            "real_clock", "pause:stigma", "kill:stigma"
        ),
        "test_stigma_killed_mid_agent_delivers_the_agents_result_once": _n(
            "real_clock", "kill:stigma"
        ),
        "test_stigma_killed_mid_completion_completes_exactly_once": _n(
            "real_clock", "relay:completion", "kill:stigma"
        ),
    },
    "test_retries.py": {
        "test_a_retry_after_a_lost_ack_reattaches_and_runs_no_second_agent": _n(
            "relay:start_agent"
        ),
    },
    "test_pause_reset.py": {
        # An operator's PauseActivity / UnpauseActivity / ResetActivity: a real server
        # (the time-skipping one answers UNIMPLEMENTED); Stigma's heartbeats and their
        # answers seen at the completion relay, the call's tokens at the StartAgent relay.
        **{
            f"test_{what}_activity_keeps_its_agent_and_gets_the_result_once": _n(
                "real_clock", "relay:start_agent", "relay:completion"
            )
            for what in ("a_paused", "an_unpaused", "a_reset")
        },
    },
    "test_retry_race.py": {
        # Wall-time timeouts (1 s StartToClose): no virtual clock needed.
        "test_old_token_call_after_the_retry_started_is_dead_and_the_retry_gets_it_once": _n(
            "relay:start_agent"
        ),
        "test_old_token_call_landing_after_the_retry_attached_is_dead_and_the_retry_gets_it": _n(
            "relay:start_agent", "relay:completion"
        ),
        "test_old_token_failure_during_the_retry_backoff_is_dead_and_the_retry_gets_it_once": (
            NOTHING
        ),
        "test_after_a_heartbeat_timeout_the_retry_is_kept_alive_and_gets_the_result_once": _n(
            "real_clock", "relay:start_agent", "relay:completion"
        ),
    },
    "test_shutdown.py": {
        # A graceful stop timed from SIGTERM to exit: only a process the harness started.
        "test_stigma_stopped_with_calls_in_flight_loses_nothing_and_exits_in_bound": _n(
            "real_clock", "relay:completion", "spawned_processes"
        ),
        "test_zigflow_stopped_with_result_pending_activities_resumes_them": _n(
            "real_clock", "relay:start_agent", "relay:completion", "spawned_processes"
        ),
    },
    "test_success.py": {
        "test_zigflow_resumes_with_exactly_the_agents_result_once": NOTHING,
        "test_plan_continues_after_each_handshake": NOTHING,
    },
    "test_timeout.py": {
        # Its real-clock variant (a 3 s StartToClose) runs where time cannot skip.
        "test_stuck_agent_times_out_at_start_to_close_and_late_completion_is_dead": NOTHING,
    },
    "test_token_corruption.py": {
        "test_damaged_token_is_classified_and_the_activity_resolved": _n("relay:start_agent"),
        "test_other_handshakes_are_undisturbed_after_damaged_tokens": _n("relay:start_agent"),
        "test_swapped_tokens_are_detected_as_crossed_wires": _n("relay:start_agent"),
        "test_a_stale_attempts_token_is_dead_and_the_live_attempt_resolves": _n(
            "relay:start_agent"
        ),
        "test_a_token_replayed_after_its_activity_completed_is_dead_not_retried": _n(
            "relay:start_agent", "stigma_address"
        ),
        "test_a_result_over_the_payload_limit_is_classified_and_the_activity_resolved": _n(
            "relay:start_agent"
        ),
        "test_a_token_of_another_namespace_is_rejected_and_the_activity_resolved": _n(
            "relay:start_agent",
            "own_temporal",
            note="registers a second namespace on a real server",
        ),
    },
}


def provided(profile: Profile) -> set[str]:
    """What a deployed target described by ``profile`` provides."""
    found = {"real_clock"}  # a deployed cluster is a real server
    if profile.toxiproxy is not None:
        found |= {f"link:{link}" for link in profile.toxiproxy.proxies}
    if profile.stigma_address:
        found.add("stigma_address")
    if profile.zigflow_max_concurrent_activities:
        found.add("zigflow_slots")
    for service in SERVICES:
        if profile.can_kill(service):
            found.add(f"kill:{service}")
        if profile.can_pause(service):
            found.add(f"pause:{service}")
    return found


def provided_locally(*, virtual_clock: bool) -> set[str]:
    """What the harness's own stack provides: everything; the virtual clock only on the
    time-skipping server (its real-clock specs then run on a dev server it starts)."""
    return set(NEEDS) - (set() if virtual_clock else {"virtual_clock"})


def missing(needs: Iterable[str], have: Iterable[str]) -> list[str]:
    """The needs ``have`` does not cover, sorted."""
    return sorted(set(needs) - set(have))


@dataclass(frozen=True)
class Assessment:
    """One test on one target: runs, or is not certified there and why."""

    test: str  # FILE::FUNCTION
    needs: Needs
    missing: list[str] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return not self.missing

    @property
    def local_only(self) -> bool:
        """Not run for want of what no deployment gives (``LOCAL_ONLY``) alone."""
        return bool(self.missing) and set(self.missing) <= LOCAL_ONLY

    def reason(self) -> str:
        """``not certified on this target: needs kill:stigma, relay:completion``."""
        return "not certified on this target: needs " + ", ".join(self.missing)


def assess(have: Iterable[str]) -> list[Assessment]:
    """Every scenario test, with what ``have`` lacks for it, in file order."""
    have = set(have)
    return [
        Assessment(f"{file}::{test}", needs, missing(needs.needs, have))
        for file, tests in SCENARIOS.items()
        for test, needs in tests.items()
    ]
