"""Stigma that counts each delivered completion twice (say, once when the call by token
is made and again when it succeeds): its dashboard shows twice the results Zigflow got,
though every handshake is correct. Its metrics disagree with the histories and with
the handshakes of a load run."""

from __future__ import annotations

import sys

from reference_services.common import metrics
from reference_services.stigma import __main__ as stigma

_real = metrics.completion_call


def _delivered_counted_twice(kind: str, outcome: str, code: str = "") -> None:
    _real(kind, outcome, code)
    if outcome == "delivered":
        _real(kind, outcome, code)  # the bug: the same delivery counted again


metrics.completion_call = _delivered_counted_twice

if __name__ == "__main__":
    sys.exit(stigma.main())
