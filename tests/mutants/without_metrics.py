"""A service that exports no metrics: the reference service given as argument, started
without ZIGFLOW_METRICS_LISTEN / STIGMA_METRICS_LISTEN (like a team's service that
ignores them). Not a broken service: metrics are optional evidence, so the scenarios
must pass on the rest and say that metrics are not checked, never skip to green.

    python -m tests.mutants.without_metrics reference_services.zigflow [ARGS...]
"""

from __future__ import annotations

import os
import sys

ENDPOINTS = ("ZIGFLOW_METRICS_LISTEN", "STIGMA_METRICS_LISTEN")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.mutants.without_metrics MODULE [ARGS...]")
    env = {k: v for k, v in os.environ.items() if k not in ENDPOINTS}
    # exec, not a child: the harness signals and waits on this very pid.
    os.execve(sys.executable, [sys.executable, "-m", *sys.argv[1:]], env)


if __name__ == "__main__":
    main()
