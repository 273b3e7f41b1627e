"""Failures as Temporal records them, in structured form: the kind of every link of
the cause chain, the application failure type, retryability, the timeout type.

Checkers decide from these fields only. Every link keeps its ``message`` for the
person reading a report, never for a decision: services in other languages word
their messages differently (Go's SDK says "activity StartToClose timeout", Python's
"activity timeout"), and a team's own failure types are its own business.

The same structure comes from a Failure proto in a workflow history (``from_proto``)
and from the exception the Python client raises for a failed workflow
(``from_error``), so a recorded outcome and a history read agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import RetryState, TimeoutType
from temporalio.api.failure.v1 import Failure as FailureProto
from temporalio.converter import DataConverter

# Temporal's failure kinds: which ``failure_info`` a Failure proto carries.
APPLICATION = "application"  # raised by workflow or activity code (a type of its own)
TIMEOUT = "timeout"  # START_TO_CLOSE, HEARTBEAT, SCHEDULE_TO_CLOSE, SCHEDULE_TO_START
CANCELED = "canceled"
TERMINATED = "terminated"
SERVER = "server"
RESET_WORKFLOW = "reset_workflow"
ACTIVITY = "activity"  # wrapper: "this activity failed", its cause says why
CHILD_WORKFLOW = "child_workflow"
NEXUS_OPERATION = "nexus_operation"
NEXUS_HANDLER = "nexus_handler"
UNKNOWN = "unknown"  # a failure without failure_info (a bare message)

_KIND_OF_INFO = {
    "application_failure_info": APPLICATION,
    "timeout_failure_info": TIMEOUT,
    "canceled_failure_info": CANCELED,
    "terminated_failure_info": TERMINATED,
    "server_failure_info": SERVER,
    "reset_workflow_failure_info": RESET_WORKFLOW,
    "activity_failure_info": ACTIVITY,
    "child_workflow_execution_failure_info": CHILD_WORKFLOW,
    "nexus_operation_execution_failure_info": NEXUS_OPERATION,
    "nexus_handler_failure_info": NEXUS_HANDLER,
}
# Kinds that say something other than the workflow's own code decided to fail:
# an activity (or child) failed, time ran out, or someone cancelled or terminated it.
_NOT_OWN_CODE = frozenset(
    {TIMEOUT, CANCELED, TERMINATED, ACTIVITY, CHILD_WORKFLOW, NEXUS_OPERATION, NEXUS_HANDLER}
)


@dataclass(frozen=True)
class Link:
    """One failure of a cause chain."""

    kind: str
    type: str = ""  # application failures: the type the raising code gave it
    non_retryable: bool = False  # application failures
    timeout_type: str = ""  # timeout failures: START_TO_CLOSE, HEARTBEAT, ...
    activity_type: str = ""  # activity failures: which activity failed
    retry_state: str = ""  # activity / child failures: why retrying stopped
    message: str = ""  # for humans only: never judged


@dataclass(frozen=True)
class Failure:
    """A failure and its causes, outermost first; empty when there was none."""

    chain: tuple[Link, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.chain)

    @property
    def kind(self) -> str:
        return self.chain[0].kind if self.chain else ""

    @property
    def message(self) -> str:
        return self.chain[0].message if self.chain else ""

    def links(self, kind: str) -> list[Link]:
        return [link for link in self.chain if link.kind == kind]

    def has(self, kind: str) -> bool:
        return any(link.kind == kind for link in self.chain)

    @property
    def application(self) -> Link | None:
        """The outermost application failure: what the failing code itself raised."""
        found = self.links(APPLICATION)
        return found[0] if found else None

    @property
    def root_application(self) -> Link | None:
        """The innermost application failure: the original error under any wrapping."""
        found = self.links(APPLICATION)
        return found[-1] if found else None

    @property
    def type(self) -> str:
        app = self.application
        return app.type if app else ""

    @property
    def non_retryable(self) -> bool:
        app = self.application
        return app.non_retryable if app else False

    @property
    def timeout_type(self) -> str:
        """The timeout anywhere in the chain ("" if time did not run out)."""
        found = self.links(TIMEOUT)
        return found[0].timeout_type if found else ""

    @property
    def is_timeout(self) -> bool:
        return self.has(TIMEOUT)

    @property
    def raised_by_workflow(self) -> bool:
        """An application failure the workflow's own code raised, caused by no activity,
        child, timeout, cancellation or termination: e.g. a Zigflow refusing a result
        its activity completed with (crossed wires), whatever it names the failure."""
        return (
            bool(self.chain)
            and self.has(APPLICATION)
            and not any(link.kind in _NOT_OWN_CODE for link in self.chain)
        )

    def describe(self) -> str:
        """One line for a human: the kinds and types of the chain, then the message."""
        if not self.chain:
            return "no failure"
        parts = []
        for link in self.chain:
            detail = link.type or link.timeout_type or link.activity_type
            parts.append(f"{link.kind} {detail}".rstrip())
        return " <- ".join(parts) + f": {self.message[:160]}"

    def to_dict(self) -> dict[str, Any]:
        """For the history (JSON): the summary fields, the chain, the message."""
        return {
            "kind": self.kind,
            "type": self.type,
            "non_retryable": self.non_retryable,
            "timeout_type": self.timeout_type,
            "chain": [dataclasses.asdict(link) for link in self.chain],
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, value: Any) -> Failure:
        """The inverse of ``to_dict`` (anything else, e.g. an ok value: no failure)."""
        chain = value.get("chain") if isinstance(value, dict) else None
        if not isinstance(chain, list):
            return cls()
        fields = {f.name for f in dataclasses.fields(Link)}
        return cls(
            tuple(
                Link(**{k: v for k, v in link.items() if k in fields})
                for link in chain
                if isinstance(link, dict)
            )
        )


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:  # a value newer than this SDK's protos
        return str(value)


def _link(proto: FailureProto) -> Link:
    info = proto.WhichOneof("failure_info")
    kind = _KIND_OF_INFO.get(info or "", UNKNOWN)
    if kind == APPLICATION:
        app = proto.application_failure_info
        return Link(kind, type=app.type, non_retryable=app.non_retryable, message=proto.message)
    if kind == TIMEOUT:
        timeout = _enum_name(TimeoutType, proto.timeout_failure_info.timeout_type, "TIMEOUT_TYPE_")
        return Link(kind, timeout_type=timeout, message=proto.message)
    if kind == ACTIVITY:
        act = proto.activity_failure_info
        return Link(
            kind,
            activity_type=act.activity_type.name,
            retry_state=_enum_name(RetryState, act.retry_state, "RETRY_STATE_"),
            message=proto.message,
        )
    if kind == CHILD_WORKFLOW:
        child = proto.child_workflow_execution_failure_info
        return Link(
            kind,
            retry_state=_enum_name(RetryState, child.retry_state, "RETRY_STATE_"),
            message=proto.message,
        )
    return Link(kind, message=proto.message)


def from_proto(proto: FailureProto | None) -> Failure:
    """The chain of a Failure proto (as in a history event), outermost first."""
    chain: list[Link] = []
    while proto is not None and proto.ByteSize() > 0:
        chain.append(_link(proto))
        proto = proto.cause if proto.HasField("cause") else None
    return Failure(tuple(chain))


def from_error(err: BaseException, converter: DataConverter | None = None) -> Failure:
    """The chain of an exception the Temporal client raised (e.g. the cause of a
    WorkflowFailureError), through the SDK's own failure converter: the same fields a
    history holds, with messages the converter already decoded."""
    converter = converter or DataConverter.default
    proto = FailureProto()
    converter.failure_converter.to_failure(err, converter.payload_converter, proto)
    return from_proto(proto)
