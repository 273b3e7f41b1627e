"""An agent that never finishes: Zigflow's 24 h StartToClose fires, in seconds of wall time,
and the agent's late completion is recorded as a dead token, not retried forever."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness.drive.driver import Driver, agent_finished
from harness.drive.plan import call_agent, plan, succeeds
from harness.judge import checkers, metrics_checks
from harness.judge.expect import holds
from harness.observe.history import History

pytestmark = pytest.mark.scenario

DAY_S = 24 * 3600.0


async def test_stuck_agent_times_out_at_start_to_close_and_late_completion_is_dead(
    driver: Driver, history: History
) -> None:
    # given: an agent that will not finish by itself; Zigflow waits 24 h, one attempt.
    # Without time skipping (dev server, a cluster) the same spec runs with a 3 s timeout.
    timeout_s = DAY_S if driver.clock.can_skip else 3.0
    history.measurements["start_to_close_s"] = timeout_s
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    started = await driver.start(
        plan(
            call_agent(
                "stuck", succeeds("too late", hold=True), start_to_close_s=timeout_s, max_attempts=1
            )
        )
    )
    await driver.wait_pending([started])
    # when: the whole StartToClose passes (on a real clock by itself, from the
    # activity's start: the outcome wait sees it pass)
    if driver.clock.can_skip:
        report = await driver.clock.advance(timedelta(seconds=timeout_s + 60.0))
        history.measurements.update(
            virtual_skipped_s=round(report.virtual_s, 1), clock_wall_s=round(report.wall_s, 2)
        )
    op = await driver.outcome(started)
    # and then the agent finishes after all
    await driver.release([started])
    await agent_finished(driver, started)
    # then
    assert op.type == "fail", op.value
    holds(
        history,
        checkers.every_call_resolved(history),
        checkers.timed_out(history, "START_TO_CLOSE"),
        checkers.late_completion_recorded(history),
    )
    # timed_out counted once, the dead token counted, the timed-out agent no longer
    # counted running or pending (or: metrics not checked)
    holds(history, await observed.judged(), await observed.gauges_settled())
