"""The certification's fixed terms, shared by the verdict's rules (harness.report.report)
and the pages (harness.report.render), which import them from here rather than from each
other: the budget (how many agents in flight, how many ms at p99, how many samples a p99
needs) and the token-hygiene sentence both the verdict's reasons and the page print.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.report.model import TokenHygiene

# The scenarios a --target run skipped as not for its target, written by the pytest
# plugin beside the records (harness.report.records) and read by the verdict: here, so
# that writing records does not import the verdict's rules and pages.
OFF_TARGET_FILE = "not-on-target.json"

# The budget applies with this many agents in flight (the plan: "10+ concurrent
# agents", overhead under 100 ms): judged on the open loop's row (agents working while
# handshakes arrive at a fixed rate), else the closed loop's (that many handshakes at
# once with zero-work agents: a saturation figure, stricter than the plan asks).
BUDGET_LEVEL = 10
BUDGET_MS = 100.0  # the plan's overhead budget per handshake
# A p99 from fewer samples is an upper order statistic of too few values (below 100 it
# is the maximum or less): not enough to say the budget holds.
MIN_BUDGET_SAMPLES = 100


class DeployedBudget(NamedTuple):
    """A deployed target's budget figure: the overhead p99 of its game day's baseline
    window (None: not measured), over how many handshakes, and where it comes from.
    Judged by the same rules as the budget run's row (MIN_BUDGET_SAMPLES included)."""

    p99: float | None
    n: int
    source: str


def token_hygiene_line(scan: TokenHygiene) -> str:
    """One sentence for the verdict's reasons and the report's section."""
    if not scan.scanned:
        return "token hygiene: the services' logs were not scanned for tokens"
    return (
        f"token hygiene: logs scanned after {scan.scenarios_scanned} scenario(s) for every "
        f"token handed to Stigma ({scan.token_x_logs} token x log pairs, "
        f"{scan.bytes / 1e6:.1f} MB, {scan.seconds:.2f} s): {scan.hits} hit(s)"
    )
