"""One error root for everything the harness raises on purpose."""

from __future__ import annotations


class HarnessError(Exception):
    """Root of the harness's own errors."""


class ConfigError(HarnessError):
    """A setting is missing or wrong; the message says what to fix."""


class NotReadyError(HarnessError):
    """A component did not become ready in time; the message names it and shows its log."""


class ComponentDied(NotReadyError):
    """A component exited while being waited for: waiting longer cannot help, so a
    wait re-raises this at once instead of polling until its timeout."""


class WaitTimeout(HarnessError):
    """A condition did not hold in time; the message names what is still pending."""


class ProcessError(HarnessError):
    """A managed process exited or misbehaved."""


class FaultNotReached(HarnessError):
    """A scenario's faults could not have reached the service under test (e.g. it was
    configured with a direct address and never went through the proxy or relay): the
    scenario proved nothing, so it errors instead of passing."""
