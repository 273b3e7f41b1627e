"""Task tokens are capabilities: the harness names them by fingerprint only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any


def fingerprint(token: bytes | None) -> str:
    """First 12 hex digits of the token's SHA-256 (same rule as the services' logs)."""
    if not token:
        return "none"
    return hashlib.sha256(token).hexdigest()[:12]


TOKEN_KEYS = frozenset({"token_b64", "callback_token", "task_token", "taskToken", "token"})


def _redact_value(key: str, value: Any) -> Any:
    if key in TOKEN_KEYS and isinstance(value, str) and value:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = value.encode()
        return f"<token sha256:{fingerprint(raw)}>"
    return redact(value)


def redact(node: Any) -> Any:
    """A copy of a JSON-like tree with every token replaced by its fingerprint.

    Looks inside Temporal payloads too (base64 JSON under "data"), because a
    workflow history carries Stigma's input and signals, which hold tokens.
    """
    if isinstance(node, list):
        return [redact(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _redact_value(k, v) for k, v in node.items()}
    data = out.get("data")
    if "metadata" in out and isinstance(data, str):
        try:
            decoded = json.loads(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return out
        cleaned = redact(decoded)
        if cleaned != decoded:
            out["data"] = base64.b64encode(json.dumps(cleaned).encode()).decode()
    return out
