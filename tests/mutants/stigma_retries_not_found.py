"""Stigma that treats NOT_FOUND from a completion as transient and keeps retrying it."""

from __future__ import annotations

import sys

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

activities.DEAD = frozenset()  # NOT_FOUND falls through to "transient": retried with backoff

if __name__ == "__main__":
    sys.exit(stigma.main())
