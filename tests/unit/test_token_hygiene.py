"""Recorded evidence never carries a raw task token, only its fingerprint."""

from __future__ import annotations

import base64
import json

import pytest

from harness.tokens import fingerprint, redact

pytestmark = pytest.mark.unit

TOKEN = b"\x0a\x24secret-task-token-bytes\xff\x00"


def _payload(value: object) -> dict[str, object]:
    return {
        "metadata": {"encoding": "anNvbi9wbGFpbg=="},
        "data": base64.b64encode(json.dumps(value).encode()).decode(),
    }


def test_tokens_inside_payloads_are_replaced_by_their_fingerprint() -> None:
    b64 = base64.b64encode(TOKEN).decode()
    history = {
        "events": [
            {
                "workflowExecutionStartedEventAttributes": {
                    "input": {
                        "payloads": [
                            _payload({"agent_id": "a", "token": {"token_b64": b64, "attempt": 2}})
                        ]
                    }
                }
            }
        ]
    }
    text = json.dumps(redact(history))
    inner = json.loads(
        base64.b64decode(
            redact(history)["events"][0]["workflowExecutionStartedEventAttributes"]["input"][
                "payloads"
            ][0]["data"]
        )
    )
    assert b64 not in text
    assert inner["token"]["token_b64"] == f"<token sha256:{fingerprint(TOKEN)}>"
    assert inner["token"]["attempt"] == 2
    assert inner["agent_id"] == "a"


def test_payloads_without_tokens_are_left_byte_for_byte() -> None:
    history = {"payloads": [_payload({"output": 42})], "other": [1, "x", None]}
    assert redact(history) == history


def test_fingerprint_is_short_and_stable() -> None:
    assert fingerprint(TOKEN) == fingerprint(TOKEN)
    assert len(fingerprint(TOKEN)) == 12
    assert fingerprint(b"") == "none"
