"""JSON-lines logging with correlation ids and token fingerprints, never raw tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import sys
import time
from typing import Any

# The SDK core's rendering of a token field: TaskToken(<base64>).
_CORE_TOKEN = re.compile(r"TaskToken\(([A-Za-z0-9+/=_-]*)\)")


def token_fingerprint(token: bytes | None) -> str:
    """A short, non-reversible name for a task token (first 12 hex of SHA-256).

    A task token is a capability: whoever holds it can complete the activity.
    Logs carry this fingerprint instead, which is enough to correlate lines.
    """
    if not token:
        return "none"
    return hashlib.sha256(token).hexdigest()[:12]


class _JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        core = getattr(record, "temporal_log", None)
        if core is not None:  # forwarded from the SDK core (metrics.runtime_for)
            line.update({k: _without_tokens(v) for k, v in (core.fields or {}).items()})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def _without_tokens(value: Any) -> Any:
    """A core log field with every task token in it replaced by its fingerprint."""

    def named(match: re.Match[str]) -> str:
        try:
            raw = base64.b64decode(match.group(1) + "==", altchars=None)
        except (binascii.Error, ValueError):
            raw = match.group(1).encode()
        return f"TaskToken(sha256:{token_fingerprint(raw)})"

    text = value if isinstance(value, str) else str(value)
    return _CORE_TOKEN.sub(named, text) if "TaskToken(" in text else value


def core_logger() -> logging.Logger:
    """Where the SDK core's log lines go (formatted like ours, tokens fingerprinted)."""
    return logging.getLogger("temporal.core")


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class EventLog:
    """``log.event("start_agent.ack", workflow_id=..., token_fp=...)`` -> one JSON line."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def event(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        if "token" in fields:  # defence in depth: a raw token never reaches a log line
            fields["token_fp"] = token_fingerprint(fields.pop("token"))
        self._logger.log(level, event, extra={"fields": fields})

    def monotonic_ms(self) -> float:
        return time.monotonic() * 1000.0
