"""What it takes to start one handler instance, whatever the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from taskdaemond import defaults


@dataclass(frozen=True)
class LaunchSpec:
    """argv to start an instance; ``cleanup_argv`` runs after it stopped (containers)."""

    name: str
    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] | None = None
    cleanup_argv: list[str] | None = None
    #: Started through a container engine: its own exit codes (125-127) mean the engine failed.
    container: bool = False
    #: Bytes of the handler's stderr tail kept to explain a crash (the handler's stderr_tail_bytes).
    stderr_tail_bytes: int = defaults.DEFAULT_STDERR_TAIL_BYTES
