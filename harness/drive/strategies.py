"""Hypothesis strategies for bad input, each example paired with the StartAgentRequest
field at fault, and the judgement of Stigma's answer to one (``refusal_problems``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc
from hypothesis import Phase, settings
from hypothesis import strategies as st

from harness import wire
from harness.servers.probe import Answer

MAX_INPUT = 1024 * 1024


# The Hypothesis profile of the run (gate, nightly, mutant): the pytest plugin sets it
# from HANDSHAKE_HYPOTHESIS_PROFILE before the specs are imported (``use_profile``).
_profile = "gate"


def use_profile(name: str) -> None:
    global _profile
    _profile = name


def live(gate_examples: int, nightly_examples: int) -> settings:
    """Settings for properties whose every example runs real handshakes (seconds each):
    a few derandomized examples in the gate, many in the nightly profile; no
    "explain" phase, which re-runs a failing example many times on a live stack."""
    profile = _profile
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if profile != "mutant":
        phases.append(Phase.shrink)
    return settings(
        max_examples=nightly_examples if profile == "nightly" else gate_examples,
        phases=phases,
    )


MAX_TOKEN = 8192


@dataclass(frozen=True)
class BadRequest:
    kind: str
    body: bytes
    # The field at fault, by its proto field name ("" when the message as a whole
    # does not parse): the refusal's message must name it (in any language).
    field: str
    key: str  # the idempotency key carried, if any: nothing may start for it

    def __repr__(self) -> str:  # short, for Hypothesis' falsifying-example output
        return f"BadRequest({self.kind}, {len(self.body)} bytes, key={self.key!r})"


_good_id = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True).map(str.encode)
_noise = st.one_of(st.just(b""), st.integers(20, 500).map(lambda n: wire.field(n, b"x")))


def _key() -> bytes:
    return f"bad-{uuid.uuid4().hex}".encode()


@st.composite
def bad_requests(draw: st.DrawFn) -> BadRequest:
    kind = draw(
        st.sampled_from(
            [
                "missing_agent_id",
                "malformed_agent_id",
                "agent_id_invalid_utf8",
                "huge_input",
                "token_without_key",
                "absurd_token",
                "corrupt_framing",
            ]
        )
    )
    key = _key()
    token = draw(st.binary(min_size=1, max_size=64))
    extra = draw(_noise)  # unknown fields ride along: they must not make a bad request pass
    if kind == "missing_agent_id":
        body = wire.start_agent_request(token=token, key=key, extra=extra)
        field = "agent_id"
    elif kind == "malformed_agent_id":
        bad = draw(
            st.one_of(
                st.text(min_size=129, max_size=200, alphabet="ab"),
                st.text(min_size=1, max_size=20).filter(
                    lambda t: any(not (c.isascii() and (c.isalnum() or c in "._-")) for c in t)
                ),
            )
        )
        body = wire.start_agent_request(agent_id=bad.encode(), token=token, key=key, extra=extra)
        field = "agent_id"
    elif kind == "agent_id_invalid_utf8":
        body = wire.start_agent_request(
            agent_id=b"\xff\xfe" + draw(_good_id), token=token, key=key, extra=extra
        )
        field = ""
    elif kind == "huge_input":
        size = draw(st.integers(MAX_INPUT + 1, MAX_INPUT + 4096))
        body = wire.start_agent_request(
            agent_id=draw(_good_id), input_=b"1" * size, token=token, key=key, extra=extra
        )
        field = "input"
    elif kind == "token_without_key":
        body = wire.start_agent_request(agent_id=draw(_good_id), token=token, extra=extra)
        key = b""
        field = "idempotency_key"
    elif kind == "absurd_token":
        size = draw(st.sampled_from([MAX_TOKEN + 1, 64 * 1024, 2 * 1024 * 1024]))
        body = wire.start_agent_request(
            agent_id=draw(_good_id), token=b"t" * size, key=key, extra=extra
        )
        field = "callback_token"
    else:  # corrupt_framing: a length that runs past the end of the message
        body = wire.start_agent_request(agent_id=draw(_good_id), key=key) + b"\x12\xff\x01"
        field = ""
    return BadRequest(kind, body, field, key.decode())


# A body that is not a StartAgentRequest at all (bad framing, invalid UTF-8 in a string
# field) is refused by the gRPC framework before the service's code runs: grpc-go answers
# INTERNAL there, which is accepted. UNKNOWN is not (callers retry it): grpcio's (an
# exception's name) and grpc-java's ("Application error processing RPC", what its
# generated marshaller's parse error becomes, measured with grpc-java 1.85), so a Python
# or Java service refuses such a body itself (the references' decode_request, StigmaGrpc).
UNDECODABLE = frozenset({"agent_id_invalid_utf8", "corrupt_framing"})
UNDECODABLE_CODES = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL})


def refusal_problems(answer: Answer, kind: str = "", field: str = "") -> list[str]:
    """What is wrong with Stigma's answer to a bad request. The contract is the status
    code, INVALID_ARGUMENT (the caller must not retry; INTERNAL too for a body that does
    not parse), with a message for a person that names the field at fault by its proto
    name (``field``, when there is one); the rest of the wording and its language are
    Stigma's own and are not judged. The agent's input is opaque bytes: JSON is only
    the reference's convention, so input that is not JSON is not a bad request here."""
    problems = []
    allowed = UNDECODABLE_CODES if kind in UNDECODABLE else {grpc.StatusCode.INVALID_ARGUMENT}
    if answer.code not in allowed:
        names = " or ".join(sorted(c.name for c in allowed))
        problems.append(f"status {answer.code.name}, expected {names}")
    if not answer.details.strip():
        problems.append("no message saying what is wrong")
    elif field and answer.code != grpc.StatusCode.OK and field not in answer.details:
        problems.append(f"the message does not name the field at fault ({field})")
    return problems
