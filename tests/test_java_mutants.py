"""Each Java Stigma mutant fails the gate for the right reason (as tests/test_mutants.py
does for the Python services): a bug a team could ship, made from the Java reference's
own source. The reference stays clean: each mutant is one source file, copied, patched
(the patch must apply: a mutant that silently equals the reference would prove
nothing), compiled against .bin/stigma-java.jar and put first on the classpath."""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.test_mutants import fails_for

pytestmark = pytest.mark.mutant

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "reference_services/stigma_java/src/main/java/com/stigmer/stigma"
JAR = ROOT / ".bin/stigma-java.jar"

# name: (source file, reference text, mutant text[, reference text, mutant text ...])
MUTANTS = {
    # Reads only the outer exception: SDK 1.38's heartbeat wraps the cancellation in
    # ActivityCompletionFailureException, so Zigflow's cancel is taken for a transient
    # error and the agent is heartbeated forever.
    "java_cancel_outer_type_only": (
        "CallError.java",
        "for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {\n"
        "      if (t instanceof ActivityCanceledException) {",
        "for (Throwable t = error; t == error; t = null) {\n"
        "      if (t instanceof ActivityCanceledException) {",
    ),
    # An operator's pause or reset (a heartbeat answered activity_paused or
    # activity_reset, no cancel_requested) folded into the cancellation, as one catch of
    # the SDK's ActivityCompletionException family would: the agent is stopped and a
    # cancellation the server refuses (INVALID_ARGUMENT) is reported; the agent's work is
    # lost and Zigflow's activity waits for its timeout.
    "java_cancels_on_pause": (
        "CallError.java",
        "t instanceof ActivityResetException) {\n        return PAUSED_OR_RESET;",
        "t instanceof ActivityResetException) {\n        return CANCEL_REQUESTED;",
    ),
    # ACKs at once and starts the workflow in the background: quick, and fine until that
    # start fails (the agent is lost, Zigflow waits for nothing).
    "java_acks_before_start": (
        "StartAgentService.java",
        "      starter.start(workflowId, request); // durable before the ACK\n",
        "      if (!workflowId.isEmpty()) {\n"
        "        java.util.concurrent.CompletableFuture.runAsync(\n"
        "            () -> {\n"
        "              try {\n"
        "                starter.start(workflowId, request);\n"
        "              } catch (Exception lost) { // the ACK is gone: nobody to tell\n"
        "              }\n"
        "            });\n"
        "      } else {\n"
        "        starter.start(workflowId, request);\n"
        "      }\n",
    ),
    # NOT_FOUND taken for a transient error: a dead token is retried for the whole
    # completion window instead of being recorded once.
    "java_retries_not_found": (
        "CallError.java",
        "if (code == Status.Code.NOT_FOUND) {\n      return TOKEN_DEAD;",
        "if (code == Status.Code.NOT_FOUND) {\n      return TRANSIENT;",
    ),
    # Calls by token that wait on the server as long as it likes (a day-long deadline): a
    # Temporal that answers a token late or never holds the result that long.
    "java_waits_on_silent_server": (
        "SystemActivitiesImpl.java",
        "CALL_DEADLINE = Duration.ofSeconds(3);",
        "CALL_DEADLINE = Duration.ofDays(1);",
    ),
    # No SIGTERM handler (only SIGINT's, as a console-first service might have): a
    # deploy's SIGTERM takes the JVM's default, shutdown hooks then exit 143, with its
    # StartAgent server and worker never stopped: every deploy looks like a crash to the
    # supervisor, and the calls in flight are cut off instead of finished.
    "java_no_sigterm_handler": (
        "Main.java",
        'for (String name : new String[] {"TERM", "INT"}) {',
        'for (String name : new String[] {"INT"}) {',
    ),
    # Ignores the cluster's payload limit (as tests/mutants/stigma_ignores_blob_limit.py):
    # completes by token whatever the result's size, and passes the agent's own size
    # refusal on as the agent's failure; the server answers OK and fails Zigflow's
    # activity itself, so "delivered" is recorded for a result Zigflow never got.
    "java_ignores_blob_limit": (
        "PayloadLimit.java",
        "return limit > 0 && size > limit;",
        "return false;",
        "  public static boolean refusedForSize(Throwable cause) {\n",
        "  public static boolean refusedForSize(Throwable cause) {\n"
        "    if (cause != null) {\n      return false;\n    }\n",
    ),
}

CASES = [
    # (scenario, mutant, text the failure must contain)
    (
        "test_heartbeats.py::test_cancelling_zigflow_reaches_stigma_and_stops_the_agent",
        "java_cancel_outer_type_only",
        "no outcome within",
    ),
    (
        "test_pause_reset.py::test_a_paused_activity_keeps_its_agent_and_gets_the_result_once",
        "java_cancels_on_pause",
        "operator_pause_is_not_cancel: VIOLATED",
    ),
    ("test_timeout.py", "java_retries_not_found", "late_completion_recorded: VIOLATED"),
    (
        "test_crash_points.py::test_a_start_temporal_refuses_is_never_acked_and_the_retry_runs_the_agent",
        "java_acks_before_start",
        "acked_after_durable_start: VIOLATED",
    ),
    (
        "test_bounded_rejection.py::test_a_call_by_token_temporal_never_answers_is_given_up_retried_and_blocks_no_other",
        "java_waits_on_silent_server",
        "call_by_token_bounded: VIOLATED",
    ),
    (
        "test_shutdown.py::test_stigma_stopped_with_calls_in_flight_loses_nothing_and_exits_in_bound",
        "java_no_sigterm_handler",
        "stopped_within_bound: VIOLATED",
    ),
    (
        "test_blob_limit.py::test_results_and_failures_over_the_payload_limit_fail_typed_and_are_recorded_so",
        "java_ignores_blob_limit",
        "oversized_result_refused_typed: VIOLATED",
    ),
]


def _java_ready() -> None:
    missing = [n for n in ("java", "javac") if shutil.which(n) is None]
    if missing or not JAR.exists():
        why = f"{' and '.join(missing) or JAR} missing (make stigma-java builds the jar)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def build_mutant(name: str, out: pathlib.Path) -> str:
    """Compile the mutant's patched file into ``out``; return its command line."""
    source, *patches = MUTANTS[name]
    text = (SRC / source).read_text()
    for reference, mutant in zip(patches[::2], patches[1::2], strict=True):
        assert text.count(reference) == 1, f"{name}: the patch no longer applies to {source}"
        text = text.replace(reference, mutant)
    patched = out / "src" / source
    patched.parent.mkdir(parents=True)
    patched.write_text(text)
    classes = out / "classes"
    subprocess.run(
        ["javac", "-nowarn", "-cp", str(JAR), "-d", str(classes), str(patched)],
        check=True,
        capture_output=True,
        text=True,
    )
    jvm = ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
    return shlex.join([*jvm, "-cp", f"{classes}:{JAR}", "com.stigmer.stigma.Main"])


@pytest.fixture(scope="module")
def java_mutant(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """``java_mutant(name)``: its command line, compiled on first use in this process
    (the test that compiles them all and a case on the same worker share the build)."""
    _java_ready()
    work = tmp_path_factory.mktemp("java-mutants")
    built: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in built:
            built[name] = build_mutant(name, work / name)
        return built[name]

    return get


def test_every_mutant_patch_applies_and_compiles(java_mutant: Callable[[str], str]) -> None:
    for name in MUTANTS:
        assert "com.stigmer.stigma.Main" in java_mutant(name)


def test_every_java_mutant_is_exercised() -> None:
    assert {c[1] for c in CASES} == set(MUTANTS)


@pytest.mark.parametrize(("scenario", "mutant", "reason"), CASES, ids=[c[1] for c in CASES])
def test_scenario_fails_against_java_mutant(
    scenario: str,
    mutant: str,
    reason: str,
    java_mutant: Callable[[str], str],
    tmp_path: pathlib.Path,
) -> None:
    fails_for(scenario, reason, tmp_path / "out", "--stigma-cmd", java_mutant(mutant))
    # A mutant must fail by its bug, not by crashing (a class that no longer links).
    crashes = [
        f"{log.name}: {line[:200]}"
        for log in (tmp_path / "out").glob("logs/*/stigma*.log")
        for line in log.read_text(errors="replace").splitlines()
        if any(e in line for e in ("NoSuchMethodError", "NoClassDefFoundError", "LinkageError"))
    ]
    assert not crashes, "the mutant crashed instead of misbehaving:\n" + "\n".join(crashes[:5])
