"""The few podman commands the image build needs, with errors that say what went wrong."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CONTEXT_HASH_LABEL = "org.taskdaemon.context-hash"
SOURCE_LABEL = "org.taskdaemon.containerfile"


class EngineError(RuntimeError):
    """podman is missing or refused a command."""


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("podman") is None:
        msg = "podman is not installed: run images/setup-podman.sh"
        raise EngineError(msg)
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


def image_id(reference: str) -> str | None:
    """The image's id, or None when there is no such image here."""
    completed = _podman("image", "inspect", "--format", "{{.Id}}", reference)
    return completed.stdout.strip() if completed.returncode == 0 else None


def image_label(reference: str, label: str) -> str | None:
    completed = _podman("image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', reference)
    if completed.returncode != 0:
        return None
    value = completed.stdout.strip()
    return None if value in {"", "<no value>"} else value


def build(
    *, containerfile: Path, context: Path, reference: str, build_args: dict[str, str], labels: dict[str, str]
) -> None:
    """`podman build` the context; on failure the error carries podman's output."""
    # No intermediate layer images: the context hash already decides when to rebuild, and on a machine
    # that keeps its images between runs, cached layers of every past build would pile up.
    argv = ["build", "--layers=false", "--file", str(containerfile), "--tag", reference]
    for key, value in sorted(build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    completed = _podman(*argv, str(context))
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        tail = "\n".join(output.splitlines()[-40:])
        msg = f"podman build of {reference} failed (exit {completed.returncode}):\n{tail}"
        raise EngineError(msg)


def remove_replaced_images() -> None:
    """Remove our images that lost their tag to a rebuild and were in use then (not other images)."""
    completed = _podman(
        "images", "--quiet", "--filter", "dangling=true", "--filter", f"label={CONTEXT_HASH_LABEL}"
    )
    for identifier in dict.fromkeys(completed.stdout.split()):
        _podman("rmi", identifier)  # fails harmlessly for an image a container still uses


def remove_if_unused(identifier: str) -> None:
    """Remove an image that a rebuild left without a tag; keep it if a container still uses it."""
    completed = _podman("image", "inspect", "--format", "{{len .RepoTags}}", identifier)
    if completed.returncode == 0 and completed.stdout.strip() == "0":
        _podman("rmi", identifier)
