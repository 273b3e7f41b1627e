"""Task tokens are capabilities: the harness names them by fingerprint only."""

from __future__ import annotations

import hashlib


def fingerprint(token: bytes | None) -> str:
    """First 12 hex digits of the token's SHA-256 (same rule as the services' logs)."""
    if not token:
        return "none"
    return hashlib.sha256(token).hexdigest()[:12]
