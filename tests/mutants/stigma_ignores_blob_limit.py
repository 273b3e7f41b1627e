"""Stigma that ignores the cluster's payload limit (the reference before it knew it):
it completes by token whatever the result's size, passes on the agent's own
size refusal as the agent's failure, and so records "delivered" where Zigflow's
activity got no result (or, just under the limit, never leaves its own workflow)."""

from __future__ import annotations

import sys

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import payload_limit

payload_limit.over_limit = lambda size, limit: False  # type: ignore[assignment]
payload_limit.refused_for_size = lambda cause: False  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(stigma.main())
