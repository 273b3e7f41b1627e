"""Virtual time on a stack that earlier scenarios left executions open on.

The scenarios a worker runs share its stack and its time-skipping server; the server
skips only when every lock is released, and an execution an earlier scenario left
running (a Stigma execution retrying, or waiting for a retry's token) holds locks of its
own. A later scenario's clock must release those too, or the server never skips (seen:
a damaged-token spec's hop hung until the connection gave up, after such a leftover).
"""

from __future__ import annotations

from datetime import timedelta

from harness.drive.driver import Driver
from harness.drive.plan import call_agent, plan, succeeds
from harness.observe.history import History


async def test_a_scenarios_clock_moves_past_an_earlier_scenarios_open_execution(
    driver: Driver, history: History
) -> None:
    assert driver.clock.can_skip, "runs on the time-skipping server (the suite's default)"
    # given: an earlier scenario's call left pending on this stack (its agent held,
    # so Zigflow's activity and Stigma's agent activity hold their locks)
    earlier = Driver(driver.stack, History("earlier scenario"), timeout_s=driver.timeout_s)
    left = await earlier.start(plan(call_agent("left", succeeds("late", hold=True))))
    await earlier.wait_pending([left])
    try:
        # when: this scenario's own clock moves virtual time past the held agent's
        # heartbeat timeout (Stigma's), for a call of its own
        mine = await driver.start(plan(call_agent("mine", succeeds("now"))))
        await driver.outcome(mine)
        report = await driver.clock.advance(timedelta(minutes=12))
        # then: the server skipped
        assert report.virtual_s >= 12 * 60 - 1, report
    finally:
        await earlier.release([left])
    await earlier.outcome(left)
