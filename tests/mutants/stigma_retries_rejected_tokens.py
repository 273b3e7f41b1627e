"""Stigma that treats a rejected token (INVALID_ARGUMENT / INTERNAL) as transient and
keeps retrying the completion with backoff instead of recording it."""

from __future__ import annotations

import sys

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

activities.REJECTED = frozenset()

if __name__ == "__main__":
    sys.exit(stigma.main())
