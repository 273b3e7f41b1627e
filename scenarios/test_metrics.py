"""Observability: the services' Prometheus metrics tell the same story as the histories."""

from __future__ import annotations

import asyncio
import os
import pathlib
from typing import Any

import pytest

from harness.drive.driver import Driver
from harness.drive.plan import DIRECT, call_agent, fails, plan, succeeds
from harness.judge import checkers, metrics_checks
from harness.judge.checkers import Verdict
from harness.judge.expect import holds
from harness.observe.history import History
from harness.servers import prometheus
from harness.waits import eventually

pytestmark = pytest.mark.scenario

PENDING_ALERT = "HandshakeActivitiesPendingHigh"
STUCK_ALERT = "HandshakeActivityStuckPending"
HELD = 3
ALERTS_CHECKER = "pending_and_stuck_alerts_fire"


async def test_metrics_agree_with_history(driver: Driver, history: History) -> None:
    # given: the services' metrics endpoints (the stack gives each a loopback port;
    # a service that exports none gets this check "not checked", never a skip)
    plans = [
        plan(call_agent("ok", succeeds(1))),
        plan(call_agent("ok", succeeds(2))),
        plan(call_agent("broken", fails("InvalidDocument", "page 3 unreadable"))),
        plan(call_agent("fire-and-forget", succeeds(3), mode=DIRECT)),
    ]
    # when: a mix of outcomes, with a snapshot of the metrics before and after
    observed = await metrics_checks.observe_from(history, driver.stack.metrics)
    started = [await driver.start(p) for p in plans]
    await driver.outcomes(started)
    await driver.agents_delivered(started[:3])
    verdict = await observed.judged()
    # then
    holds(
        history,
        checkers.every_call_resolved(history),
        verdict,
        await observed.gauges_settled(),
    )


@pytest.mark.slow(7)  # Prometheus applies its first targets after ~5 s (its discovery's throttle)
async def test_prometheus_fires_the_pending_and_stuck_alerts_on_held_agents(
    driver: Driver, history: History, tmp_path: pathlib.Path
) -> None:
    # given: a real Prometheus scraping both services, with the "pending past a
    # threshold" and "stuck pending" rules from alerts.yml at scenario-sized
    # thresholds and windows (seconds instead of minutes)
    missing = await metrics_checks.missing(driver.stack.metrics)
    if missing is not None:  # nothing for Prometheus to scrape: say so, do not skip
        holds(history, Verdict.not_checked(ALERTS_CHECKER, missing))
        return
    if prometheus.binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus missing: `make setup` installs Debian package prometheus")
        pytest.skip("prometheus not installed (make setup installs Debian package prometheus)")
    rules = prometheus.rule_variants(
        prometheus.ALERT_RULES.read_text(),
        {
            PENDING_ALERT: {"pending) > 500": f"pending) > {HELD - 1}", "for: 15m": "for: 1s"},
            STUCK_ALERT: {"[30m]": "[5s]", "for: 30m": "for: 1s"},
        },
    )
    async with prometheus.prometheus_server(driver.stack.metrics, rules, tmp_path) as server:
        # when: agents are held, so their Zigflow activities stay pending by token
        started = [await driver.start(plan(call_agent("held", succeeds(i, hold=True))))
                   for i in range(HELD)]  # fmt: skip
        await driver.wait_pending(started)

        # then: both alerts go pending, then firing, and link their runbook
        async def firing() -> dict[str, dict[str, Any]] | None:
            alerts = await asyncio.to_thread(server.alerts)
            fired = {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}
            return fired if {PENDING_ALERT, STUCK_ALERT} <= set(fired) else None

        fired = await eventually(
            firing,
            timeout_s=60,
            interval_s=0.5,
            pending=lambda: f"alerts {PENDING_ALERT} and {STUCK_ALERT} to fire",
        )
        history.measurements["alerts_fired"] = {n: a.get("value") for n, a in fired.items()}
        for name in (PENDING_ALERT, STUCK_ALERT):
            assert fired[name]["annotations"]["runbook_url"].endswith("activity-stuck-pending.md")
        holds(history, Verdict(ALERTS_CHECKER, True, checked=2))  # recorded for the report
        await driver.release(started)
        await driver.outcomes(started)
    holds(history, checkers.every_call_resolved(history))
