"""How one handler instance is started, fed and stopped: local process or container."""

from taskdaemond.runtime.instance import HandlerInstance, launch_spec
from taskdaemond.runtime.outcomes import (
    Aborted,
    Crashed,
    HandlerFailed,
    InstanceFate,
    Outcome,
    ProtocolViolation,
    Succeeded,
    TimedOut,
)
from taskdaemond.runtime.spec import LaunchSpec

__all__ = [
    "Aborted",
    "Crashed",
    "HandlerFailed",
    "HandlerInstance",
    "InstanceFate",
    "LaunchSpec",
    "Outcome",
    "ProtocolViolation",
    "Succeeded",
    "TimedOut",
    "launch_spec",
]
