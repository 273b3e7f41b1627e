"""Server kinds compared (issue 22, item 8): each scenario's observed outcome, made
from its record alone, per server kind; the differences, expected (declared by the
scenario, with its reason) or not; and how the report shows them."""

from __future__ import annotations

from typing import Any

import pytest

from harness import pytest_plugin
from harness.judge import checkers
from harness.observe.history import History
from harness.report import render
from harness.report.model import (
    CertificationReport,
    ObservedCall,
    ScenarioRecord,
)
from harness.report.verdict import (
    kind_differences,
    observed_outcome,
    parse_token_outcome,
)
from tests.unit.test_checkers import app_failure, failure, success
from tests.unit.test_report_html import synthetic_report

pytestmark = pytest.mark.unit

NODE = "scenarios/test_token_corruption.py::test_x"
OK_CHECKS = [{"checker": "every_call_resolved", "ok": True, "status": "ok", "checked": 1}]
DELIVERED = {"stigma": "delivered", "attempts": 1, "zigflow": "completed", "workflow": "completed"}
REJECTED_TS = {
    "stigma": "token_rejected",
    "code": "INTERNAL",
    "attempts": 1,
    "zigflow": "timed_out",
    "why": "START_TO_CLOSE",
    "workflow": "failed",
}
REJECTED_DEV = {**REJECTED_TS, "code": "INVALID_ARGUMENT"}


def record(
    target: str,
    *,
    node: str = NODE,
    calls: list[dict[str, Any]] | None = None,
    outcome: str = "passed",
    server: str | None = None,
    checks: list[dict[str, Any]] | None = None,
    measurements: dict[str, Any] | None = None,
    declared: list[dict[str, Any]] | None = None,
    duration_s: float = 1.0,
    pairing: str = "python-python",
) -> ScenarioRecord:
    """A record as ``verdict.reconcile`` labels it: id suffixed with its column."""
    return ScenarioRecord.model_validate(
        {
            "id": f"{node}[{target}]",
            "target": target,
            "pairing": pairing,
            "outcome": outcome,
            "server": server,
            "duration_s": duration_s,
            "calls": len(calls or [DELIVERED]),
            "checks": checks if checks is not None else OK_CHECKS,
            "measurements": measurements or {},
            "observed_calls": calls if calls is not None else [DELIVERED],
            "kinds_differ": declared or [],
        }
    )


# --- the observed outcome -----------------------------------------------------------


def test_observed_calls_hold_the_token_attempts_and_ends_never_an_id() -> None:
    h = History("calls")
    success(h, "zig-1")
    success(h, "zig-2", z_attempts=2)
    failed_call = failure(h, "zig-3", completion="delivered")
    assert failed_call.zigflow is not None
    failed_call.zigflow.failure = app_failure("AgentBoom", "it broke")
    success(h, "zig-4")

    found = checkers.observed_calls(h)

    text = repr(found)
    assert "zig-" not in text  # no call id
    assert "100." not in text  # no timestamp
    assert {"stigma": "delivered", "code": None, "attempts": 1, "zigflow": "completed",
            "why": None, "workflow": "completed", "workflow_failure": None,
            "count": 2} in found  # fmt: skip
    assert any(c["attempts"] == 2 and c["count"] == 1 for c in found)
    failed = next(c for c in found if c["zigflow"] == "failed")
    assert (failed["why"], failed["workflow"], failed["workflow_failure"]) == (
        "AgentBoom",
        "failed",
        "AgentBoom",
    )
    # The same calls in another order (other ids) give the same list.
    again = History("again")
    success(again, "zig-b", z_attempts=2)
    success(again, "zig-a")
    failed_again = failure(again, "zig-c", completion="delivered")
    assert failed_again.zigflow is not None
    failed_again.zigflow.failure = app_failure("AgentBoom", "other words")
    success(again, "zig-d")
    assert checkers.observed_calls(again) == found
    for c in found:  # each validates as the record's model
        ObservedCall.model_validate(c)


def test_token_outcome_lines_of_older_records_parse_into_the_same_fields() -> None:
    assert parse_token_outcome(
        "stigma: token_rejected (INTERNAL); zigflow: timed out START_TO_CLOSE"
    ) == ObservedCall(stigma="token_rejected", code="INTERNAL", zigflow="timed_out",
                      why="START_TO_CLOSE")  # fmt: skip
    assert parse_token_outcome(
        "stigma: delivered; zigflow: completed, workflow failed CrossedWires"
    ) == ObservedCall(stigma="delivered", zigflow="completed", workflow="failed",
                      workflow_failure="CrossedWires")  # fmt: skip
    assert parse_token_outcome(
        "stigma: not started (StartAgent refused); zigflow: failed StigmaRejected"
    ) == ObservedCall(stigma="not_started", zigflow="failed", why="StigmaRejected")
    assert parse_token_outcome("stigma: token_dead (NOT_FOUND)") == ObservedCall(
        stigma="token_dead", code="NOT_FOUND", zigflow="missing"
    )


def test_the_observed_outcome_leaves_out_timings_ids_seeds_and_counts_looked_at() -> None:
    a = record("time-skipping", duration_s=1.0, measurements={"chaos_seed": 1})
    b = record(
        "dev",
        duration_s=9.0,
        measurements={"chaos_seed": 2, "recovery_s": 3.0},
        checks=[{**OK_CHECKS[0], "checked": 7, "evidence": ["x"]}],
    )
    got_a, got_b = observed_outcome(a), observed_outcome(b)
    assert got_a.model_dump(exclude={"server"}) == got_b.model_dump(exclude={"server"})
    assert (got_a.server, got_b.server) == ("time-skipping", "dev")


def test_older_records_fall_back_to_their_corruption_examples_and_retries() -> None:
    old = record(
        "dev",
        calls=[],
        measurements={
            "corruption": [
                {"class": "c", "expected": "e", "server": "dev",
                 "observed": "stigma: token_rejected (INVALID_ARGUMENT); zigflow: timed out"},
            ] * 2,
            "observed_retries": [
                {"call": "zig-plan-1", "attempt": 2, "failure_type": "StigmaUnavailable"},
                {"call": "zig-plan-2", "attempt": 2, "failure_type": "StigmaUnavailable"},
            ],
        },
    )  # fmt: skip
    got = observed_outcome(old)
    assert [(t.stigma, t.code, t.count) for t in got.tokens] == [
        ("token_rejected", "INVALID_ARGUMENT", 2)
    ]
    assert [(r.attempt, r.failure_type, r.count) for r in got.retries] == [
        (2, "StigmaUnavailable", 2)
    ]


# --- the comparison -----------------------------------------------------------------


def test_a_difference_in_what_was_observed_is_found_though_both_passed() -> None:
    found = kind_differences(
        [
            record("time-skipping", calls=[DELIVERED]),
            record("dev", calls=[REJECTED_DEV]),
            record("time-skipping", node="scenarios/test_a.py::test_same"),
            record("dev", node="scenarios/test_a.py::test_same", duration_s=5.0),
        ],
        ["time-skipping", "dev"],
    )
    assert found is not None
    assert (found.kinds, found.compared) == (["time-skipping", "dev"], 2)
    [d] = found.differences
    assert (d.scenario, d.aspects, d.expected) == (NODE, ["tokens"], False)
    assert d.why == "not declared: tokens"
    assert list(d.observed) == ["time-skipping", "dev"]
    assert d.observed["dev"].tokens[0].code == "INVALID_ARGUMENT"
    assert found.unexpected == [d]


def test_outcomes_checks_calls_and_retries_are_compared_too() -> None:
    violated = [{**OK_CHECKS[0], "ok": False, "status": "violated"}]
    found = kind_differences(
        [
            record("time-skipping"),
            record(
                "dev",
                outcome="failed",
                checks=violated,
                calls=[DELIVERED, DELIVERED],
                measurements={"observed_retries": [{"attempt": 2, "failure_type": "X"}]},
            ),
        ]
    )
    assert found is not None
    assert found.differences[0].aspects == ["outcome", "calls", "checks", "tokens", "retries"]


def test_a_declared_difference_is_marked_expected_with_its_reason() -> None:
    why = "INTERNAL on the time-skipping server, INVALID_ARGUMENT on a real one"
    declared = [{"aspects": ["tokens"], "why": why}]
    found = kind_differences(
        [
            record("time-skipping", calls=[REJECTED_TS], declared=declared),
            record("dev", calls=[REJECTED_DEV], declared=declared),
        ]
    )
    assert found is not None
    [d] = found.differences
    assert (d.expected, d.why) == (True, why)
    assert found.unexpected == []


def test_a_difference_beyond_what_was_declared_is_unexpected_and_says_so() -> None:
    declared = [{"aspects": ["tokens"], "why": "codes differ"}]
    found = kind_differences(
        [
            record("time-skipping", calls=[REJECTED_TS], declared=declared),
            record("dev", calls=[REJECTED_DEV], declared=declared, outcome="failed"),
        ]
    )
    assert found is not None
    [d] = found.differences
    assert d.expected is False
    assert d.why == "not declared: outcome (declared: codes differ)"


def test_nothing_is_found_when_every_kind_observed_the_same() -> None:
    found = kind_differences([record("time-skipping"), record("dev", duration_s=30.0)])
    assert found is not None
    assert (found.compared, found.differences) == (1, [])


def test_same_server_rows_and_one_kind_runs_are_counted_not_compared() -> None:
    found = kind_differences(
        [
            # A kill scenario: a dev server in the time-skipping row too.
            record("time-skipping", server="dev", node="s.py::test_kill", calls=[DELIVERED]),
            record("dev", server="dev", node="s.py::test_kill", calls=[REJECTED_DEV]),
            record("time-skipping", node="s.py::test_real_only", outcome="skipped"),
            record("dev", node="s.py::test_real_only"),
            # Another pairing, on time-skipping only: nothing to compare with.
            record("python-java:time-skipping", pairing="python-java"),
        ]
    )
    assert found is not None
    assert (found.compared, found.same_server, found.one_kind) == (0, 1, 1)
    assert found.differences == []
    assert kind_differences([record("time-skipping")]) is None


# --- the marker, the report ---------------------------------------------------------


class _Mark:
    def __init__(self, *args: str, **kwargs: str) -> None:
        self.args, self.kwargs = args, kwargs


class _Item:
    nodeid = "s.py::test_x"

    def __init__(self, *marks: _Mark) -> None:
        self.marks = marks

    def iter_markers(self, name: str) -> Any:
        assert name == "server_kinds_differ"
        return iter(self.marks)


def test_the_marker_is_recorded_and_needs_its_reason() -> None:
    item = _Item(_Mark("tokens", why="no blob limit"))
    assert pytest_plugin.kinds_differ(item) == [  # type: ignore[arg-type]
        {"aspects": ["tokens"], "why": "no blob limit"}
    ]
    with pytest.raises(pytest.UsageError):
        pytest_plugin.kinds_differ(_Item(_Mark("tokens")))  # type: ignore[arg-type]
    with pytest.raises(pytest.UsageError, match="outcome, calls, checks, tokens, retries"):
        pytest_plugin.kinds_differ(_Item(_Mark("token", why="typo")))  # type: ignore[arg-type]


def _report_with(n_unexpected: int, n_expected: int) -> CertificationReport:
    records = []
    for i in range(n_unexpected):
        node = f"scenarios/test_u.py::test_{i}"
        records += [record("time-skipping", node=node), record("dev", node=node, calls=[])]
    declared = [{"aspects": ["tokens"], "why": "by design <b>"}]
    for i in range(n_expected):
        node = f"scenarios/test_e.py::test_{i}"
        records += [
            record("time-skipping", node=node, calls=[REJECTED_TS], declared=declared),
            record("dev", node=node, calls=[REJECTED_DEV], declared=declared),
        ]
    records += [
        record("time-skipping", node="s.py::test_same"),
        record("dev", node="s.py::test_same"),
    ]
    doc = CertificationReport.model_validate(synthetic_report())
    found = kind_differences(records, ["time-skipping", "dev"])
    return doc.model_copy(update={"server_kinds": found})


def test_the_markdown_shows_counts_and_the_first_few_the_html_all() -> None:
    doc = _report_with(7, 6)
    md = render.markdown(doc)
    start = md.index("## Server kinds disagree")
    section = md[start : md.index("\n## ", start + 1)]
    assert (
        "14 scenario(s) compared on time-skipping, dev: **7 unexpected difference(s)**, " in section
    )
    assert "6 expected by design" in section
    assert "`scenarios/test_u.py::test_4`" in section
    assert "test_u.py::test_5" not in section
    assert "... and 2 more unexpected" in section
    assert "- ... and 1 more expected" in section
    assert "1x delivered -> completed | none |" in section
    assert len(section) < 4000
    # Near the top: right after the verdict's reasons.
    assert md.index("- 1 scenario(s) failed: x") < start < md.index("## Scenarios")
    page = render.html(doc)
    kinds = page[page.index('<section id="server-kinds"') :]
    kinds = kinds[: kinds.index("</section>")]
    assert all(f"test_u.py::test_{i}</code>" in kinds for i in range(7))
    assert all(f"test_e.py::test_{i}</code>" in kinds for i in range(6))
    assert "expected: by design &lt;b&gt;" in kinds
    assert page.index('id="server-kinds"') < page.index('id="scenarios"')


def test_a_report_whose_kinds_agree_says_so_and_one_without_the_comparison_is_quiet() -> None:
    md = render.markdown(_report_with(0, 0))
    assert "## Server kinds agree" in md
    assert "0 unexpected difference(s)" in md
    plain = CertificationReport.model_validate(synthetic_report())
    assert "Server kinds" not in render.markdown(plain)
    assert 'id="server-kinds"' not in render.html(plain)


def test_attempts_are_compared_only_where_every_kind_recorded_them() -> None:
    # The time-skipping server records a StartToClose timeout without its started event.
    unknown = {**REJECTED_TS, "attempts": None}
    found = kind_differences(
        [
            record("time-skipping", calls=[unknown, unknown]),
            record("dev", calls=[{**REJECTED_TS, "attempts": 2}, REJECTED_TS]),
        ]
    )
    assert found is not None
    assert found.differences == []
    found = kind_differences(
        [
            record("time-skipping", calls=[REJECTED_TS]),
            record("dev", calls=[{**REJECTED_TS, "attempts": 2}]),
        ]
    )
    assert found is not None
    assert found.differences[0].aspects == ["tokens"]
