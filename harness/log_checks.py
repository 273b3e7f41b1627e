"""What the services' logs say, judged only where they say it: optional evidence.

The contract asks one thing of a log, in any format: a token is named by its
fingerprint (the first 12 hex digits of its SHA-256, ``harness.tokens.fingerprint``),
never by its bytes. A service whose logs name no fingerprint at all gives no log
evidence, and the check says "not checked"; one that names other tokens' fingerprints
but not this one's is violated.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable

from harness.checkers import Missing, Verdict

AREA = "logs"
CHECKER = "token_named_by_fingerprint"


def fingerprint_logged(
    log_paths: Iterable[pathlib.Path], fingerprint: str, known: Iterable[str]
) -> Verdict:
    """``fingerprint`` appears in the logs; ``known`` are fingerprints of every token the
    service was handed in this run (the harness's relay saw them)."""
    text = "\n".join(p.read_text(errors="replace") for p in log_paths if p.exists())
    others = {fp for fp in known if fp and fp != "none"}
    if not any(fp in text for fp in others | {fingerprint}):
        return Verdict.not_checked(
            CHECKER,
            Missing(
                AREA,
                "stigma's logs name no token by fingerprint (first 12 hex digits of its SHA-256)",
            ),
        )
    if fingerprint in text:
        return Verdict(CHECKER, True, 1)
    return Verdict(
        CHECKER, False, 1, [f"no log line names the token with fingerprint {fingerprint}"]
    )
