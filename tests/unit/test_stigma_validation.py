"""validation.problems(): every problem named, none for valid requests, never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stigma.v1 import stigma_service_pb2 as pb

from reference_services.stigma import validation

pytestmark = pytest.mark.unit

TOKEN = b"\n$opaque-task-token"


def handshake(**overrides: object) -> pb.StartAgentRequest:
    fields: dict[str, object] = {
        "agent_id": "summarize.v2_beta-1",
        "input": b'{"doc": "hello"}',
        "callback_token": TOKEN,
        "idempotency_key": "zig-42/run-1/0-summarize",
        "correlation": pb.Correlation(zigflow_workflow_id="zig-42", zigflow_attempt=1),
    }
    fields.update(overrides)
    return pb.StartAgentRequest(**fields)


def only_problem(request: pb.StartAgentRequest) -> str:
    found = validation.problems(request)
    assert len(found) == 1, found
    return found[0]


def test_valid_handshake_request_has_no_problems() -> None:
    assert validation.problems(handshake()) == []


@pytest.mark.parametrize(
    "request_",
    [
        pb.StartAgentRequest(agent_id="summarize", input=b'{"doc": "x"}'),
        pb.StartAgentRequest(agent_id="summarize"),  # empty input is allowed
        pb.StartAgentRequest(agent_id="a", input=b"null", idempotency_key="k"),
    ],
    ids=["direct", "direct-no-input", "direct-with-key"],
)
def test_valid_direct_requests_have_no_problems(request_: pb.StartAgentRequest) -> None:
    assert validation.problems(request_) == []


def test_limits_are_inclusive() -> None:
    assert validation.problems(handshake(agent_id="a" * 128)) == []
    assert validation.problems(handshake(callback_token=b"t" * 8192)) == []
    assert validation.problems(handshake(idempotency_key="k" * 512)) == []
    exactly_1_mib = b'"' + b"x" * (validation.MAX_INPUT_BYTES - 2) + b'"'
    assert validation.problems(handshake(input=exactly_1_mib)) == []


def test_missing_agent_id() -> None:
    assert "agent_id is required" in only_problem(handshake(agent_id=""))


@pytest.mark.parametrize("agent_id", ["has space", "slash/id", "ünïcode", "a" * 129, "tab\tid"])
def test_bad_agent_id(agent_id: str) -> None:
    assert "agent_id must be 1..128 characters" in only_problem(handshake(agent_id=agent_id))


def test_agent_id_with_trailing_newline_is_rejected() -> None:
    assert "agent_id must be" in only_problem(handshake(agent_id="summarize\n"))


def test_input_over_one_mib() -> None:
    big = b'"' + b"x" * validation.MAX_INPUT_BYTES + b'"'
    message = only_problem(handshake(input=big))
    assert f"input is {len(big)} bytes, limit {validation.MAX_INPUT_BYTES}" in message


def test_input_not_utf8() -> None:
    assert "input is not valid UTF-8" in only_problem(handshake(input=b'{"x": "\xff\xfe"}'))


def test_input_not_json() -> None:
    message = only_problem(handshake(input=b"{not json"))
    assert message.startswith("input is not JSON:")
    assert "at position 1" in message


def test_token_over_8192_bytes() -> None:
    message = only_problem(handshake(callback_token=b"t" * 8193))
    assert "callback_token is 8193 bytes, limit 8192" in message


def test_token_without_idempotency_key() -> None:
    message = only_problem(handshake(idempotency_key=""))
    assert "idempotency_key is required when callback_token is set" in message


def test_idempotency_key_over_512_chars() -> None:
    message = only_problem(handshake(idempotency_key="k" * 513))
    assert "idempotency_key is longer than 512 characters" in message


def test_idempotency_key_limit_counts_characters_not_bytes() -> None:
    # 512 three-byte characters: 1536 UTF-8 bytes, still 512 characters.
    assert validation.problems(handshake(idempotency_key="€" * 512)) == []


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = validation.problems(
        pb.StartAgentRequest(
            agent_id="bad id", input=b"\xff", callback_token=b"t" * 9000, idempotency_key=""
        )
    )
    assert len(found) == 4, found
    joined = "; ".join(found)
    for fragment in (
        "agent_id must be",
        "UTF-8",
        "callback_token is 9000 bytes",
        "idempotency_key",
    ):
        assert fragment in joined


def test_deeply_nested_input_is_a_problem_not_a_crash() -> None:
    assert "input is not JSON" in only_problem(handshake(input=b"[" * 100_000))


def test_huge_json_integer_is_a_problem_not_a_crash() -> None:
    assert "input is not JSON" in only_problem(handshake(input=b"1" * 5000))


@settings(derandomize=True, max_examples=300, deadline=None, database=None)
@given(
    agent_id=st.text(max_size=200),
    input_=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    token=st.binary(max_size=10_000),
    key=st.text(max_size=600),
)
def test_problems_never_raises(agent_id: str, input_: bytes, token: bytes, key: str) -> None:
    request = pb.StartAgentRequest(
        agent_id=agent_id, input=input_, callback_token=token, idempotency_key=key
    )
    found = validation.problems(request)
    assert isinstance(found, list)
    assert all(isinstance(p, str) and p for p in found)
    if len(token) > validation.MAX_TOKEN_BYTES:
        assert any(p.startswith("callback_token is") for p in found)
    if not agent_id:
        assert "agent_id is required" in found
