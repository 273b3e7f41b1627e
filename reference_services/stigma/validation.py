"""StartAgentRequest validation: every problem named, nothing started on error."""

from __future__ import annotations

import json
import re

from stigma.v1 import stigma_service_pb2 as pb

MAX_TOKEN_BYTES = 8192
MAX_INPUT_BYTES = 1024 * 1024
MAX_KEY_CHARS = 512
AGENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def problems(request: pb.StartAgentRequest) -> list[str]:
    """Human-readable problems with a request; empty when it is valid."""
    found: list[str] = []
    if not request.agent_id:
        found.append("agent_id is required")
    elif not AGENT_ID.fullmatch(request.agent_id):  # fullmatch: "$" allows a trailing newline
        found.append("agent_id must be 1..128 characters of [A-Za-z0-9._-]")
    if len(request.input) > MAX_INPUT_BYTES:
        found.append(f"input is {len(request.input)} bytes, limit {MAX_INPUT_BYTES}")
    elif request.input:
        try:
            json.loads(request.input.decode("utf-8"))
        except UnicodeDecodeError:
            found.append("input is not valid UTF-8")
        except json.JSONDecodeError as err:
            found.append(f"input is not JSON: {err.msg} at position {err.pos}")
        except (ValueError, RecursionError) as err:
            # Valid-looking but unparseable here: nesting too deep, or an integer
            # over Python's digit limit. Still the caller's input problem.
            found.append(
                f"input is not JSON this service accepts: {type(err).__name__}: {str(err)[:120]}"
            )
    if len(request.callback_token) > MAX_TOKEN_BYTES:
        found.append(
            f"callback_token is {len(request.callback_token)} bytes, limit {MAX_TOKEN_BYTES}"
        )
    if request.callback_token and not request.idempotency_key:
        found.append("idempotency_key is required when callback_token is set")
    if request.HasField("heartbeat_timeout"):
        hb = request.heartbeat_timeout
        if hb.seconds < 0 or hb.nanos < 0 or (hb.seconds == 0 and hb.nanos < 100_000_000):
            found.append("heartbeat_timeout must be at least 100 ms")
    if len(request.idempotency_key) > MAX_KEY_CHARS:
        found.append(f"idempotency_key is longer than {MAX_KEY_CHARS} characters")
    return found
