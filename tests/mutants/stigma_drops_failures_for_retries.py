"""Stigma that hands a newer Zigflow attempt its agent's *result*, but not its agent's
*failure*: when a fail-by-token call meets NOT_FOUND because Zigflow's attempt timed out
and its retry is pending (in backoff, or started and not yet at Stigma), the failure is
recorded as a dead token and the execution closes; the retry then finds it finished and
the agent's failure never reaches the live attempt. Results still go there, so every
earlier scenario passes."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_real = activities.SystemActivities._explain_not_found


async def _no_retry_for_failures(self: Any, completion: Any, outcome: Any) -> Any:
    explained = await _real(self, completion, outcome)
    if completion.error_type:  # a failure: "nobody waits for a failure"
        explained.retry_pending = False
    return explained


activities.SystemActivities._explain_not_found = _no_retry_for_failures  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(stigma.main())
