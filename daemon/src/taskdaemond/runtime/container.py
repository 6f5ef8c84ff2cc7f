"""The container runtime: ``podman|docker run -i --rm`` with one named container per instance."""

from __future__ import annotations

import os
import re

from taskdaemond.config import HandlerConfig
from taskdaemond.runtime.spec import LaunchSpec

_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(task_type: str, index: int, daemon_id: str) -> str:
    """A container name unique per daemon and instance, valid for both engines."""
    return _UNSAFE_NAME.sub("-", f"taskdaemon-{task_type}-{index}-{daemon_id}")


def container_argv(handler: HandlerConfig, name: str, engine_executable: str | None = None) -> list[str]:
    """``<engine> run -i --rm --name NAME [--memory M] [--network N] [-e K=V ...] IMAGE``."""
    if handler.image is None or handler.engine is None:
        raise ValueError(f"handler {handler.task_type!r} has no image or engine")
    argv = [engine_executable or handler.engine, "run", "-i", "--rm", "--name", name]
    if handler.memory_limit is not None:
        argv += ["--memory", handler.memory_limit]
    if handler.network is not None:
        argv += ["--network", handler.network]
    for key, value in sorted(handler.env.items()):
        argv += ["-e", f"{key}={value}"]
    argv += ["-e", f"TASKDAEMON_INSTANCE={name}"]
    argv.append(handler.image)
    return argv


def container_launch(handler: HandlerConfig, name: str, engine_executable: str | None = None) -> LaunchSpec:
    """How to start the instance and, once stopped, remove whatever container is left.

    ``--rm`` removes the container when it exits normally; ``rm -f`` afterwards covers the
    engine client having been killed while the container ran on.
    """
    engine = engine_executable or handler.engine
    assert engine is not None
    return LaunchSpec(
        name=name,
        argv=container_argv(handler, name, engine_executable),
        env=dict(os.environ),
        cleanup_argv=[engine, "rm", "-f", name],
    )
