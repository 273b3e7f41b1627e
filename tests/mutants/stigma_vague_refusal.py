"""Stigma that refuses bad requests with the right code but a message that names no
field ("bad request"): the caller cannot tell what to fix."""

from __future__ import annotations

import sys
from typing import Any

from reference_services.stigma import __main__ as stigma
from reference_services.stigma import validation

_problems = validation.problems


def problems(request: Any) -> list[str]:
    return ["bad request"] if _problems(request) else []


validation.problems = problems

if __name__ == "__main__":
    sys.exit(stigma.main())
