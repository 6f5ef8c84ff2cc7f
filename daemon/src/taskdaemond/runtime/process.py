"""The process runtime: a handler run as a local command with pipes."""

from __future__ import annotations

import os

from taskdaemond.config import HandlerConfig
from taskdaemond.runtime.spec import LaunchSpec


def process_launch(handler: HandlerConfig, instance_name: str) -> LaunchSpec:
    """argv, cwd and environment of one instance of a ``command`` handler.

    The handler inherits the daemon's environment, with the table's ``env`` on top.
    """
    if handler.command is None:
        raise ValueError(f"handler {handler.task_type!r} has no command")
    env = dict(os.environ)
    env.update(handler.env)
    env["TASKDAEMON_INSTANCE"] = instance_name
    return LaunchSpec(
        name=instance_name,
        argv=list(handler.command),
        cwd=str(handler.cwd) if handler.cwd is not None else None,
        env=env,
    )
