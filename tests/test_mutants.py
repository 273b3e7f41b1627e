"""Each gate scenario fails against a service with the bug it guards against.

A scenario that passes against a broken service is worse than none, so this
runs the real scenario files (in a child pytest) against deliberately broken
services plugged in through the same --stigma-cmd / --zigflow-cmd options a
team uses for its own services, and expects a failure with the right reason.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator, Mapping

import pytest

from tests import child_reports
from tests.children import Child, RunsAhead, run_bounded

pytestmark = pytest.mark.mutant

ROOT = pathlib.Path(__file__).resolve().parent.parent

CASES = [
    # (scenario file, option, mutant module, text the failure must contain)
    (
        "test_success.py",
        "--zigflow-cmd",
        "zigflow_no_deadline",
        "start_agent_has_deadline: VIOLATED",
    ),
    (
        "test_success.py",
        "--zigflow-cmd",
        "zigflow_day_long_deadline",
        "start_agent_has_deadline: VIOLATED",
    ),
    (
        "test_network.py::test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal",
        "--zigflow-cmd",
        "zigflow_counts_attempts",
        "metrics_agree_with_history: VIOLATED",
    ),
    (
        "test_crash_points.py::test_a_start_temporal_refuses_is_never_acked_and_the_retry_runs_the_agent",
        "--stigma-cmd",
        "stigma_acks_before_start",
        "acked_after_durable_start: VIOLATED",
    ),
    (
        "test_fault_matrix.py::test_toxic_on_a_link_keeps_every_call_exactly_once"
        "[stigma_grpc-reset_peer-upstream]",
        "--zigflow-cmd",
        "zigflow_no_retry_on_unavailable",
        "resumed_once_with_agent_result: VIOLATED",
    ),
    (
        "test_success.py",
        "--stigma-cmd",
        "stigma_wrong_result",
        "resumed_once_with_agent_result: VIOLATED",
    ),
    (
        "test_failure.py",
        "--stigma-cmd",
        "stigma_retryable_failure",
        "agent_failure_propagated: VIOLATED",
    ),
    (
        "test_direct_call.py",
        "--stigma-cmd",
        "stigma_skips_direct",
        "direct_call_moves_on_at_ack: VIOLATED",
    ),
    ("test_direct_call.py", "--zigflow-cmd", "zigflow_waits_in_direct_mode", "no outcome within"),
    ("test_not_blocked.py", "--zigflow-cmd", "zigflow_blocking", "agent call(s) not yet pending"),
    (
        "test_timeout.py",
        "--stigma-cmd",
        "stigma_retries_not_found",
        "late_completion_recorded: VIOLATED",
    ),
    (
        "test_restarts.py::test_stigma_killed_after_ack_before_agent_starts_still_delivers_once",
        "--stigma-cmd",
        "stigma_token_in_memory",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_restarts.py::test_zigflow_killed_while_agents_pending_resumes_after_restart",
        "--zigflow-cmd",
        "zigflow_queue_per_process",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_heartbeats.py::test_heartbeats_keep_an_agent_alive_past_the_heartbeat_timeout",
        "--stigma-cmd",
        "stigma_no_heartbeats",
        "heartbeats_kept_alive: VIOLATED",
    ),
    (
        "test_heartbeats.py::test_dead_stigma_is_detected_within_the_heartbeat_timeout",
        "--zigflow-cmd",
        "zigflow_heartbeats_itself",
        "no outcome within",
    ),
    (
        "test_heartbeats.py::test_cancelling_zigflow_reaches_stigma_and_stops_the_agent",
        "--stigma-cmd",
        "stigma_ignores_cancel",
        "no outcome within",
    ),
    (
        "test_restarts.py::test_stigma_killed_before_the_ack_is_retried_with_a_new_token",
        "--zigflow-cmd",
        "zigflow_no_retry_on_unavailable",
        "resumed_once_with_agent_result: VIOLATED",
    ),
    (
        "test_restarts.py::test_stigma_killed_mid_agent_delivers_the_agents_result_once",
        "--stigma-cmd",
        "stigma_queue_per_process",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_restarts.py::test_stigma_killed_mid_agent_delivers_the_agents_result_once",
        "--stigma-cmd",
        "stigma_work_without_heartbeats",
        "agents_heartbeat_watched: VIOLATED",
    ),
    (
        "test_restarts.py::test_stigma_killed_mid_completion_completes_exactly_once",
        "--stigma-cmd",
        "stigma_completion_not_retried",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_network.py::test_stigma_unreachable_fails_fast_retries_and_succeeds_after_heal",
        "--zigflow-cmd",
        "zigflow_no_retry_on_unavailable",
        "to reach attempt 2",
    ),
    (
        "test_shutdown.py::test_stigma_stopped_with_calls_in_flight_loses_nothing_and_exits_in_bound",
        "--stigma-cmd",
        "stigma_waits_out_its_agents",
        "stopped_within_bound: VIOLATED",
    ),
    (
        "test_shutdown.py::test_stigma_stopped_with_calls_in_flight_loses_nothing_and_exits_in_bound",
        "--stigma-cmd",
        "stigma_fails_in_flight_on_shutdown",
        "in_flight_kept_over_shutdown: VIOLATED",
    ),
    (
        "test_shutdown.py::test_zigflow_stopped_with_result_pending_activities_resumes_them",
        "--zigflow-cmd",
        "zigflow_fails_pending_on_shutdown",
        "in_flight_kept_over_shutdown: VIOLATED",
    ),
    (
        "test_network.py::test_latency_jitter_and_slicing_on_every_link_keep_the_handshake_correct",
        "--zigflow-cmd",
        "zigflow_impatient",
        "no outcome within",
    ),
    (
        "test_network.py::test_zigflow_cut_off_from_temporal_resumes_after_heal",
        "--zigflow-cmd",
        "zigflow_exits_without_temporal",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_network.py::test_ack_lost_after_stigma_started_the_agent_one_run_reaches_the_live_attempt",
        "--stigma-cmd",
        "stigma_trusts_not_found",
        "has already finished; its result went to an earlier attempt",
    ),
    (
        "test_network.py::test_completion_link_down_past_the_sdk_retry_window_completes_once_after_heal",
        "--stigma-cmd",
        "stigma_completion_not_retried",
        "every_call_resolved: VIOLATED",
    ),
    (
        "test_network.py::test_completion_reply_lost_is_recognised_not_a_duplicate_or_a_false_failure",
        "--stigma-cmd",
        "stigma_trusts_not_found",
        "'token_dead'",
    ),
    (
        "test_network.py::test_calls_by_token_refused_past_the_client_retry_window_are_retried_and_delivered_once",
        "--stigma-cmd",
        "stigma_gives_up_on_unavailable",
        "completion outcome 'token_dead', expected 'delivered'",
    ),
    (
        "test_failure.py::test_a_failure_whose_reply_was_lost_is_recognised_as_delivered_not_a_dead_token",
        "--stigma-cmd",
        "stigma_forgets_lost_failures",
        "failure not delivered by token (completion 'token_dead')",
    ),
    (
        "test_token_corruption.py::test_swapped_tokens_are_detected_as_crossed_wires",
        "--zigflow-cmd",
        "zigflow_trusts_any_envelope",
        "crossed_wires_detected: VIOLATED",
    ),
    (
        "test_token_corruption.py::test_a_token_replayed_after_its_activity_completed_is_dead_not_retried",
        "--stigma-cmd",
        "stigma_retries_not_found",
        "was not recorded as dead",
    ),
    (
        "test_token_corruption.py::test_damaged_token_is_classified_and_the_activity_resolved",
        "--stigma-cmd",
        "stigma_retries_rejected_tokens",
        "neither Stigma nor Zigflow closed",
    ),
    # A Temporal that answers one token's calls late or never (temporalio/temporal#4054):
    # a call with a day-long deadline waits on it, holding the result; calls made one at
    # a time hold every other completion behind it.
    (
        "test_bounded_rejection.py::test_a_call_by_token_temporal_never_answers_is_given_up_retried_and_blocks_no_other",
        "--stigma-cmd",
        "stigma_waits_on_silent_server",
        "call_by_token_bounded: VIOLATED",
    ),
    (
        "test_bounded_rejection.py::test_a_damaged_token_the_server_is_slow_to_refuse_is_recorded_within_the_bound",
        "--stigma-cmd",
        "stigma_waits_on_silent_server",
        "deadline 86400 s, longer than 10 s",
    ),
    (
        "test_bounded_rejection.py::test_a_call_by_token_temporal_never_answers_is_given_up_retried_and_blocks_no_other",
        "--stigma-cmd",
        "stigma_one_completion_at_a_time",
        "other_completions_not_blocked: VIOLATED",
    ),
    (
        "test_handshake_model.py",
        "--stigma-cmd",
        "stigma_wrong_result",
        "model expected agent 0's output",
    ),
    (
        "test_bad_input.py::test_bad_requests_get_invalid_argument_start_nothing_and_stigma_keeps_serving",
        "--stigma-cmd",
        "stigma_no_validation",
        "code=<StatusCode.OK",
    ),
    (
        "test_bad_input.py::test_bad_requests_get_invalid_argument_start_nothing_and_stigma_keeps_serving",
        "--stigma-cmd",
        "stigma_vague_refusal",
        "the message does not name the field at fault",
    ),
    (
        "test_bad_input.py::test_bad_requests_get_invalid_argument_start_nothing_and_stigma_keeps_serving",
        "--stigma-cmd",
        "stigma_generated_deserializer",
        "StatusCode.UNKNOWN",
    ),
    # A service configured with a direct address: the faults never reach it, and the
    # chaos and corruption scenarios must error rather than pass.
    (
        "test_network.py::test_latency_jitter_and_slicing_on_every_link_keep_the_handshake_correct",
        "--zigflow-cmd",
        "zigflow_bypasses_proxies",
        "no StartAgent request went through the harness's relay during the scenario",
    ),
    (
        "test_token_corruption.py::test_other_handshakes_are_undisturbed_after_damaged_tokens",
        "--zigflow-cmd",
        "zigflow_bypasses_proxies",
        "no StartAgent request went through the harness's relay",
    ),
    # A token written to a log (Base64, "Log token (Base64)") by either service: the
    # scan after every scenario finds it, whatever the scenario.
    (
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
        "--stigma-cmd",
        "stigma_logs_token",
        "no_token_in_logs: VIOLATED",
    ),
    (
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
        "--zigflow-cmd",
        "zigflow_logs_token",
        "no_token_in_logs: VIOLATED",
    ),
    # Activity options judged from Zigflow's history: a 5-minute StartToClose is
    # caught on any scenario by the options check, and by the timeout spec by *when*
    # the timeout came; a retried permanent rejection by the rejection spec.
    (
        "test_success.py::test_zigflow_resumes_with_exactly_the_agents_result_once",
        "--zigflow-cmd",
        "zigflow_short_start_to_close",
        "agent_activity_options: VIOLATED",
    ),
    (
        "test_timeout.py",
        "--zigflow-cmd",
        "zigflow_short_start_to_close",
        "timed_out[START_TO_CLOSE]: VIOLATED",
    ),
    (
        "test_failure.py::test_a_request_stigma_refuses_fails_at_once_and_is_not_retried",
        "--zigflow-cmd",
        "zigflow_retries_rejected",
        "permanent_rejection_not_retried: VIOLATED",
    ),
    # A key started again as a new run on a retry: the newest run alone looks perfect,
    # every run of the execution id shows the second agent.
    (
        "test_retries.py",
        "--stigma-cmd",
        "stigma_restarts_on_retry",
        "at_most_one_agent_per_key: VIOLATED",
    ),
    (
        "test_metrics.py::test_metrics_agree_with_history",
        "--zigflow-cmd",
        "zigflow_pending_gauge_stuck",
        "gauges_back_to_baseline: VIOLATED",
    ),
    # A completion racing a retry (#22 item 3): the failure by the timed-out attempt's
    # token meets NOT_FOUND while the retry is in backoff; only this race shows that the
    # failure, unlike a result, is not handed on to the live attempt.
    (
        "test_retry_race.py::test_old_token_failure_during_the_retry_backoff_is_dead_and_the_retry_gets_it_once",
        "--stigma-cmd",
        "stigma_drops_failures_for_retries",
        "superseded_call_recorded: VIOLATED",
    ),
    (
        "test_retry_race.py::test_after_a_heartbeat_timeout_the_retry_is_kept_alive_and_gets_the_result_once",
        "--stigma-cmd",
        "stigma_stops_beating_for_retries",
        "heartbeats by the retry's token over",
    ),
    # A gauge leaking on the failure and cancel paths only: every counter agrees, the
    # gauges after those paths do not.
    (
        "test_failure.py::test_agent_failure_fails_zigflow_activity_with_its_type_and_message",
        "--stigma-cmd",
        "stigma_leaks_running_gauge",
        "stigma: stigma_workflows_running is 2 after the scenario, 0 before",
    ),
    (
        "test_heartbeats.py::test_cancelling_zigflow_reaches_stigma_and_stops_the_agent",
        "--stigma-cmd",
        "stigma_leaks_running_gauge",
        "gauges_back_to_baseline: VIOLATED",
    ),
    (
        "test_metrics.py::test_metrics_agree_with_history",
        "--stigma-cmd",
        "stigma_counts_deliveries_twice",
        "metrics_agree_with_history: VIOLATED",
    ),
    # Under load too: a Stigma without metrics is "not checked" (tests/test_not_certified.py),
    # one whose counters disagree with the handshakes still fails.
    (
        "test_load_smoke.py",
        "--stigma-cmd",
        "stigma_counts_deliveries_twice",
        "metrics_agree_with_history: VIOLATED",
    ),
    # Any flag of a heartbeat's answer taken for a cancellation: an operator's pause (or
    # reset) stops the agent and reports a cancellation the server refuses. Nobody
    # pauses in the other scenarios.
    (
        "test_pause_reset.py::test_a_paused_activity_keeps_its_agent_and_gets_the_result_once",
        "--stigma-cmd",
        "stigma_cancels_on_pause",
        "operator_pause_is_not_cancel: VIOLATED",
    ),
    (
        "test_blob_limit.py::test_results_and_failures_over_the_payload_limit_fail_typed_and_are_recorded_so",
        "--stigma-cmd",
        "stigma_ignores_blob_limit",
        "oversized_result_refused_typed: VIOLATED",
    ),
]


CHILD_BOUND_S = 240  # a bound on a hung child run, not a measurement


# Coverage's subprocess patch passes its configuration to every Python child through
# these: a child run against a deliberately broken service is not traced (coverage counts
# what the tests run against the services as they are; tracing a mutant's run costs its
# child and every service it starts half again their CPU).
COVERAGE_ENV = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def _child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    # Every fault-matrix cell is selectable by its node id (the gate's slice is drawn
    # from a random seed).
    return {
        **{k: v for k, v in (env or os.environ).items() if k not in COVERAGE_ENV},
        "HANDSHAKE_HYPOTHESIS_PROFILE": "mutant",
        "HANDSHAKE_FAULT_MATRIX": "full",
    }


def _run_child(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a child pytest, bounded (tests/children.py)."""
    return run_bounded(argv, bound_s=CHILD_BOUND_S, env=_child_env(env))


def child_argv(
    scenario: str, out: pathlib.Path, *options: str, call_timeout: str = "8"
) -> list[str]:
    """The child pytest that runs one scenario file or node with ``options``."""
    return [sys.executable, "-m", "pytest", f"scenarios/{scenario}", "-q", "-x",
            "-p", "no:cacheprovider", "-n", "0", "-p", "no:randomly", *options,
            "--call-timeout", call_timeout, "--handshake-out", str(out)]  # fmt: skip


def judge_failed(returncode: int | None, output: str, reason: str) -> None:
    """The child must have failed (exit 1) for ``reason``."""
    assert returncode == 1, (
        f"expected the scenario to fail (exit 1), got {returncode}:\n{output[-3000:]}"
    )
    assert reason in output, (
        f"failed, but not for the expected reason {reason!r}:\n{output[-3000:]}"
    )


def fails_for(
    scenario: str, reason: str, out: pathlib.Path, *options: str, call_timeout: str = "8"
) -> str:
    """Run one scenario file or node against a broken service (``options`` plug it in)
    in a child pytest; it must fail (exit 1) for ``reason``. Returns the output."""
    proc = _run_child(child_argv(scenario, out, *options, call_timeout=call_timeout))
    output = proc.stdout + proc.stderr
    judge_failed(proc.returncode, output, reason)
    return output


def test_temporal_restart_scenario_fails_on_a_server_that_loses_its_state(
    tmp_path: pathlib.Path,
) -> None:
    """The Temporal-restart scenario guards durability: on a dev server kept in memory
    the restart forgets the pending activities and their tokens, and it must say so."""
    proc = _run_child(
        [
            sys.executable,
            "-m",
            "pytest",
            "scenarios/test_restarts.py::test_temporal_restarted_mid_agent_accepts_the_token_issued_before",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "--call-timeout",
            "8",
            "--handshake-out",
            str(tmp_path),
        ],
        env={**os.environ, "HANDSHAKE_DEV_EPHEMERAL": "1"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"expected a failure, got {proc.returncode}:\n{output[-3000:]}"
    assert "every_call_resolved: VIOLATED" in output, output[-3000:]


# Every child waits 8 s for a call's outcome (child_argv), the kill specs of
# test_restarts.py too: the references and the mutants built on them move a task off a
# killed worker's sticky queue after 1 s (reference_services/common/tuning.py). With
# these child options the correct services' slowest recovery there (Stigma killed
# mid-completion: its completion activity's 3 s heartbeat timeout, then a 1 s backoff)
# took at most 4.1 s from the restart to the outcome, in 12 runs of the file (4 at a
# time, on 2 cores at load 12-14). The ~10 s once seen there was the Python SDK's default
# sticky schedule-to-start timeout, before the references set theirs. A mutant that
# loses the call waits the 8 s out, not 30.


Case = tuple[str, str, str, str]


def _group_key(case: Case) -> tuple[str, str, bool]:
    """The cases one child runs together: one mutant plugged in by one option, with the
    same need to run alone (one stack start for all its scenarios)."""
    scenario, option, mutant, _ = case
    return option, mutant, (mutant, scenario.split("::")[0]) in ALONE


def _scenario_tests(scenario: str, nodeid: str) -> bool:
    """Whether ``nodeid`` (a child's test) is one of the scenario file's or node's."""
    target = f"scenarios/{scenario}"
    return nodeid == target or nodeid.startswith((f"{target}::", f"{target}["))


def judge_case(
    returncode: int | None, output: str, reports: list[dict[str, str]], scenario: str, reason: str
) -> list[dict[str, str]]:
    """The child (which may have run other cases of the same mutant too) must have failed
    (exit 1), and ``scenario``'s own tests must have failed for ``reason``: judged by
    their own reports (tests/child_reports.py), never by another scenario's output.
    Returns the reports of the failures that name the reason."""
    assert returncode == 1, (
        f"expected the scenario to fail (exit 1), got {returncode}:\n{output[-3000:]}"
    )
    mine = [r for r in reports if _scenario_tests(scenario, r["nodeid"])]
    assert mine, f"no test of {scenario} ran in the child:\n{output[-3000:]}"
    failed = [r for r in mine if r["outcome"] == "failed"]
    assert failed, f"expected {scenario} to fail, but its tests passed:\n{output[-3000:]}"
    because = [r for r in failed if reason in r["text"]]
    texts = "\n".join(f"{r['nodeid']} ({r['when']}):\n{r['text'][-3000:]}" for r in failed)
    assert because, (
        f"{scenario} failed, but not for the expected reason {reason!r}:\n{texts[-6000:]}"
    )
    if ": VIOLATED" in reason:
        # A violated check is the test's failure, also one judged after the scenario's
        # body (no_token_in_logs, start_agent_has_deadline, ...): never a teardown
        # error, which dashboards that count failures read as green.
        assert any(r["when"] == "call" for r in because), texts[-6000:]
        errors = [f"{r['nodeid']} ({r['when']})" for r in failed if r["when"] != "call"]
        assert not errors, f"{scenario}: errors beside the failure: {errors}"
    return because


# Mutants caught by timing that the load of other child runs disturbs: seen to fail the
# scenario for another reason (the load run's few seconds of load) with other children
# running; they run with no other case of this module at the same time.
ALONE = {
    ("stigma_counts_deliveries_twice", "test_load_smoke.py"),
}


# Cases each xdist worker runs ahead of its tests (tests/children.py RunsAhead), besides
# the one its test runs: the children mostly wait. Two ahead (six children at a time
# under -n 2) still judged all 56 cases right on a loaded machine, but in the whole
# suite they share the 2 cores with the other test files' servers too, and the mutant
# cases whose catch depends on timing (a heartbeat timeout before a retry) want room.
AHEAD_THREADS = 1


@pytest.fixture(scope="session")
def mutant_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunsAhead]:
    """The selected cases' child runs (every worker of the run collects, and selects,
    the same ones), each run once in a directory every worker sees. The cases of one
    mutant (``_group_key``) run in one child, without -x: each is judged by its own
    tests' reports."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is a directory of the run's own: its parent.
    shared = (base.parent if hasattr(request.config, "workerinput") else base) / "mutant-runs"
    groups: dict[tuple[str, str, bool], list[Case]] = {}
    for item in request.session.items:
        if getattr(item, "originalname", "") == "test_scenario_fails_against_mutant" and hasattr(
            item, "callspec"
        ):
            p = item.callspec.params
            case = (p["scenario"], p["option"], p["mutant"], p["reason"])
            groups.setdefault(_group_key(case), []).append(case)
    children = {}
    for (option, mutant, alone), cases in groups.items():
        key = run_key(cases[0])
        scenarios = list(dict.fromkeys(c[0] for c in cases))
        argv = child_argv(
            scenarios[0],
            shared / key / "out",
            option,
            f"{sys.executable} -m tests.mutants.{mutant}",
        )
        # The other scenarios after the first; -x only for a child of one case (its
        # first failure is its verdict), else every case's scenario must run.
        at = argv.index(f"scenarios/{scenarios[0]}") + 1
        argv[at:at] = [f"scenarios/{s}" for s in scenarios[1:]]
        if len(cases) > 1:
            argv.remove("-x")
        reports = ["-p", "tests.child_reports", child_reports.OPTION, str(shared / key / REPORTS)]
        children[key] = Child([*argv, *reports], _child_env(), alone=alone)
    with RunsAhead(shared, children, bound_s=CHILD_BOUND_S, threads=AHEAD_THREADS) as runs:
        yield runs


REPORTS = "reports.jsonl"  # the child's test reports (tests/child_reports.py), in its directory


def run_key(case: Case) -> str:
    """The child run of ``case``: named after the first case of its group in CASES."""
    first = next(c for c in CASES if _group_key(c) == _group_key(case))
    return f"case{CASES.index(first):02d}"


@pytest.mark.parametrize(
    ("scenario", "option", "mutant", "reason"),
    CASES,
    ids=[f"{c[2]}@{c[0].split('::')[-1].split('[')[-1].rstrip(']')[:40]}" for c in CASES],
)
def test_scenario_fails_against_mutant(
    scenario: str, option: str, mutant: str, reason: str, mutant_runs: RunsAhead
) -> None:
    key = run_key((scenario, option, mutant, reason))
    returncode, output = mutant_runs.result(key)
    reports = child_reports.read(mutant_runs.shared / key / REPORTS)
    because = judge_case(returncode, output, reports, scenario, reason)
    text = "\n".join(r["text"] for r in because)
    out = mutant_runs.shared / key / "out"
    # The failure report shows the logs of the stack the scenario ran on (its run id
    # ends in the kind its marker asks for), not only the session's.
    stack_kind = {
        "test_network.py": "-chaos",
        "test_fault_matrix.py": "-chaos",
        "test_token_corruption.py": "-chaos",
    }.get(scenario.split("::")[0])
    if stack_kind:
        assert "service logs (tail): " in text, text[-3000:]
        assert stack_kind in text, text[-3000:]
    if reason.startswith("no_token_in_logs"):
        # The failure names the log file and line, and the token by its fingerprint
        # only: the log tails it shows (anywhere in the run's output) have the token
        # replaced too.
        assert ".log:" in text, text[-3000:]
        assert "written as base64" in text, text[-3000:]
        leaked = [line for line in output.splitlines() if "Log token (Base64): " in line]
        assert any("Log token (Base64): " in line for line in text.splitlines()), text[-3000:]
        assert all("<token sha256:" in line for line in leaked), leaked[:3]
    # A mutant must fail by its bug, not by crashing: a harness bug in the mutant
    # (e.g. an activity argument decoded as a dict) would otherwise pass for it. (The
    # logs of every scenario its child ran: all of the same mutant.)
    crashes = [
        f"{log.name}: {line[:200]}"
        for log in out.glob("logs/*/*.log")
        for line in log.read_text(errors="replace").splitlines()
        if any(e in line for e in ("AttributeError", "TypeError", "NameError", "ImportError"))
    ]
    assert not crashes, "the mutant service crashed instead of misbehaving:\n" + "\n".join(
        crashes[:5]
    )
