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

from harness import tls
from harness.judge.checkers import Missing, Verdict
from harness.observe import token_scan
from harness.observe.token_scan import ScanReport

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


def no_raw_token(reports: Iterable[ScanReport]) -> Verdict:
    """Violated by any token in any log: each hit names the file and line, and the
    token by its fingerprint only (the report must not leak what the log did)."""
    done = list(reports)
    hits = [h for r in done for h in r.hits]
    return Verdict(
        token_scan.CHECKER,
        not hits,
        sum(r.tokens * r.logs for r in done),
        [str(h) for h in hits],
    )


SECRET_CHECKER = "no_secret_in_logs"


def no_secret_in_logs(connection: tls.Connection, logs: Iterable[pathlib.Path]) -> Verdict | None:
    """After a scenario on a cluster with an API key or a client key: no service log
    holds either (a service that logs its configuration or its request metadata would
    hand the cluster to whoever reads the logs). Evidence names the file and which
    secret, never its value. None when there is no secret to look for."""
    if not tls.secrets_of(connection):
        return None
    paths = [p for p in logs if p.is_file()]
    hits = tls.leaks(connection, paths)
    return Verdict(SECRET_CHECKER, not hits, len(paths), [f"{w}: the {what}" for w, what in hits])
