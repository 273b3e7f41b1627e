"""Stigma that takes any flag of a heartbeat's answer for a cancellation: the SDK raises
one error (AsyncActivityCancelledError) for cancel_requested, activity_paused and
activity_reset alike. An operator's pause or reset of Zigflow's activity then stops the
agent and reports a cancellation the server refuses (INVALID_ARGUMENT: none was
requested), and Zigflow's activity waits for its timeout while the agent's work is lost.
(The reference Python Stigma did this before its heartbeat read the error's details.)
Nobody pauses or resets in the other scenarios, so every one of them passes."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities


def cancel_requested(err: Any) -> bool:
    return True


activities.cancel_requested = cancel_requested

if __name__ == "__main__":
    sys.exit(stigma.main())
