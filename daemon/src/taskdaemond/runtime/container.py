"""The container runtime: ``podman|docker run -i --rm`` with one named container per instance.

Also what the daemon asks the engine before it starts a pool (is each image there?) and how an
engine's own failure is told apart from the handler's.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence

from taskdaemond import defaults
from taskdaemond.config import Config, HandlerConfig
from taskdaemond.errors import ConfigError
from taskdaemond.runtime.spec import LaunchSpec

_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_.-]")

#: Prefix of every container the daemon starts (and of the images `make images` builds).
CONTAINER_PREFIX = "taskdaemon-"
#: The tag images/build.sh gives the repository's images: localhost/taskdaemon-<name>:dev.
_REPOSITORY_IMAGE = re.compile(r"^localhost/taskdaemon-(?P<name>[a-z0-9][a-z0-9_.-]*):dev$")
#: Exit codes with which ``podman run`` / ``docker run`` report their own failure rather than the
#: handler's: 125 the engine failed (bad option, unknown network, name in use, no such image),
#: 126 the image's command cannot be invoked, 127 it was not found.
ENGINE_EXIT_CODES = {
    125: "the container engine refused to start the container",
    126: "the image's command cannot be invoked",
    127: "the image's command was not found",
}


def container_name(task_type: str, index: int, daemon_id: str) -> str:
    """A container name unique per daemon and instance, valid for both engines."""
    return _UNSAFE_NAME.sub("-", f"{CONTAINER_PREFIX}{task_type}-{index}-{daemon_id}")


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


def remove_argv(engine: str, name: str, engine_executable: str | None = None) -> list[str]:
    """Remove the container ``name`` at once, running or not, and succeed if it is already gone.

    podman's ``rm -f`` first asks the container to stop and waits 10 s: ``--time 0`` kills it
    at once (the daemon has already given the handler its grace). docker's ``rm -f`` kills at once.
    """
    executable = engine_executable or engine
    if engine == "podman":
        return [executable, "rm", "--force", "--time", "0", name]
    return [executable, "rm", "--force", name]


def engine_environment(daemon_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of the engine client (``podman run``): the daemon's, without its own
    DAEMON_* settings (the token, the database URL). The engine needs its own variables, which
    cannot be listed (XDG_RUNTIME_DIR, CONTAINER_HOST, DOCKER_HOST, DOCKER_CONFIG, ...), and it
    passes none of them into the container: the container gets only the ``-e`` of the table's env."""
    return {name: value for name, value in daemon_env.items() if not name.startswith("DAEMON_")}


def container_launch(handler: HandlerConfig, name: str, engine_executable: str | None = None) -> LaunchSpec:
    """How to start the instance and, once stopped, remove whatever container is left.

    ``--rm`` removes the container when it exits normally; the removal afterwards covers the
    engine client having been killed while the container ran on.
    """
    assert handler.engine is not None
    return LaunchSpec(
        name=name,
        argv=container_argv(handler, name, engine_executable),
        env=engine_environment(os.environ),
        cleanup_argv=remove_argv(handler.engine, name, engine_executable),
        container=True,
    )


def build_hint(image: str) -> str:
    """How to get ``image``: the repository's build command for its own images."""
    match = _REPOSITORY_IMAGE.match(image)
    if match is not None:
        return f"build it with `make images` (or only this one: `images/build.sh {match['name']}`)"
    return f"build it (`podman build -t {image} DIR`) or pull it from its registry"


def image_exists_argv(engine: str, image: str) -> list[str]:
    """A command that exits 0 exactly when ``engine`` has ``image`` locally (it never pulls)."""
    if engine == "podman":
        return [engine, "image", "exists", image]
    return [engine, "image", "inspect", "--format", "{{.Id}}", image]


def check_images(config: Config) -> None:
    """Raise ConfigError naming the first image handler whose image the engine does not have,
    with the command that builds it. Run before the pools start: without it, ``run`` would try
    to pull the image and each instance would fail over and over."""
    asked: set[tuple[str, str]] = set()
    for handler in config.handlers.values():
        if handler.image is None or handler.engine is None or (handler.engine, handler.image) in asked:
            continue
        asked.add((handler.engine, handler.image))
        argv = image_exists_argv(handler.engine, handler.image)
        try:
            found = subprocess.run(
                argv, capture_output=True, timeout=defaults.IMAGE_CHECK_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(
                str(config.path or "configuration"),
                f"handlers.{handler.task_type}.image",
                f"cannot ask {handler.engine} whether image {handler.image!r} exists: {exc}",
            ) from None
        if found.returncode != 0:
            raise ConfigError(
                str(config.path or "configuration"),
                f"handlers.{handler.task_type}.image",
                f"image {handler.image!r} not found by {handler.engine}; {build_hint(handler.image)}",
            )


def describe_exit(code: int | None, stderr_tail: Sequence[str], *, container: bool) -> str:
    """Why an instance ended, for the pool state: the engine's refusal (with its stderr) or the
    handler's exit (with its last stderr lines)."""
    if container and code in ENGINE_EXIT_CODES:
        what = f"{ENGINE_EXIT_CODES[code]} (exit code {code})"
    elif code is not None and code < 0:
        what = f"the handler was killed by signal {-code}"
    else:
        what = f"the handler exited with code {code}"
    if stderr_tail:
        return f"{what}; stderr:\n" + "\n".join(stderr_tail)
    return what
