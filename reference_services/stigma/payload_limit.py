"""The cluster's payload limit (``limit.blobSize.error``, 2 MiB by default): Stigma never
sends Temporal a payload over it, because the server does not refuse such a call by
token: it answers OK and fails Zigflow's activity with a ServerError of its own
("Complete result exceeds size limit."), so Stigma would record "delivered" for a
result Zigflow never got. Instead Zigflow's activity is failed with a non-retryable
application failure of type ``ResultTooLarge`` naming the size and the limit, and
Stigma records ``result_too_large``.

Loaded inside the workflow sandbox: standard library and Temporal's own types only.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadConverter
from temporalio.exceptions import ApplicationError, ServerError

RESULT_TOO_LARGE = "ResultTooLarge"
DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024

# How an agent's own outcome comes back when it was already over the limit on its way
# into Stigma's workflow: the SDK worker refusing to upload it (Python's core answers
# with this application failure type), or the server failing the agent's activity with
# its fixed reasons (a worker that does not check).
SDK_REFUSAL_TYPES = frozenset({"PayloadsTooLarge"})
SERVER_REFUSALS = frozenset({"Complete result exceeds size limit.", "Failure exceeds size limit."})


def encoded_size(converter: PayloadConverter, *values: Any) -> int:
    """Bytes of ``values`` as Temporal measures them: the encoded Payloads message."""
    return Payloads(payloads=converter.to_payloads(list(values))).ByteSize()


def over_limit(size: int, limit: int) -> bool:
    return limit > 0 and size > limit


def refused_for_size(cause: BaseException | None) -> bool:
    """Whether the agent's activity failed because its own result or failure was over
    the payload limit (refused by its SDK or by the server), not by the agent's choice."""
    if isinstance(cause, ApplicationError):
        return (cause.type or "") in SDK_REFUSAL_TYPES
    if isinstance(cause, ServerError):
        return cause.message in SERVER_REFUSALS
    return False


def too_large_message(what: str, size: int | None, limit: int) -> str:
    measured = f"{size} bytes" if size is not None else "refused by Temporal"
    return (
        f"the agent's {what} ({measured}) is over the cluster's payload limit of {limit} "
        "bytes: not delivered"
    )
