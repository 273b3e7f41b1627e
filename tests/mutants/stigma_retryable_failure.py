"""Stigma that fails the Zigflow activity as retryable: Zigflow retries a failed agent."""

from __future__ import annotations

import sys
from typing import Any

from temporalio.exceptions import ApplicationError

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import activities

_real_init = ApplicationError.__init__


def _init(self: ApplicationError, *args: Any, **kwargs: Any) -> None:
    kwargs["non_retryable"] = False
    _real_init(self, *args, **kwargs)


ApplicationError.__init__ = _init  # type: ignore[method-assign]
del activities

if __name__ == "__main__":
    sys.exit(stigma.main())
