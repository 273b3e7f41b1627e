"""Hand-built protobuf wire bytes, so a test can send what no generated client would:
invalid UTF-8 in string fields, corrupt framing, unknown fields, absurd sizes."""

from __future__ import annotations

VARINT, LEN = 0, 2


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at ``data[i:]``: (value, index after it)."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3 | VARINT) + varint(payload)
    return varint(number << 3 | LEN) + varint(len(payload)) + payload


def start_agent_request(
    *,
    agent_id: bytes = b"",
    input_: bytes = b"",
    token: bytes = b"",
    key: bytes = b"",
    extra: bytes = b"",
) -> bytes:
    """StartAgentRequest fields 1-4 as raw bytes (empty fields omitted, as proto3 does)."""
    body = b""
    for number, value in ((1, agent_id), (2, input_), (3, token), (4, key)):
        if value:
            body += field(number, value)
    return body + extra
