"""Stigma whose calls by token wait on the server as long as it likes: a day-long
deadline (as good as none; "the server always answers"). A Temporal that answers a
token late or never (temporalio/temporal#4054) then holds the agent's result, and the
worker slot the completion activity runs in, until that activity's own StartToClose,
instead of the call being given up within the contract's bound and retried."""

from __future__ import annotations

import sys
from datetime import timedelta

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

activities.CALL_DEADLINE = timedelta(days=1)

if __name__ == "__main__":
    sys.exit(stigma.main())
