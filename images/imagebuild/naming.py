"""Finding the repository's Containerfiles and naming the image each one builds.

A Containerfile's image name comes from its directory's path in the repository, with the folders that
only group things dropped: conformance/handlers/python -> conformance-python,
examples/hello/python -> hello-python, examples/wordcount/ruby -> wordcount-ruby.
Every image is tagged localhost/taskdaemon-<name>:dev.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from imagebuild.sources import source_files

CONTAINERFILE = "Containerfile"
IMAGE_PREFIX = "localhost/taskdaemon-"
IMAGE_TAG = "dev"
# Path components that group directories without saying what an image is.
DROPPED_COMPONENTS = frozenset({"examples", "handlers"})
_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class NamingError(ValueError):
    """A Containerfile's path gives no usable image name, or two give the same one."""


@dataclass(frozen=True)
class ImageSpec:
    """One image to build: its name, its Containerfile and the directory its context comes from."""

    name: str
    containerfile: Path

    @property
    def context_dir(self) -> Path:
        return self.containerfile.parent

    @property
    def reference(self) -> str:
        return f"{IMAGE_PREFIX}{self.name}:{IMAGE_TAG}"


def image_name(relative_dir: PurePosixPath) -> str:
    """The image name for a Containerfile in `relative_dir` (relative to the repository root)."""
    parts = [part for part in relative_dir.parts if part not in DROPPED_COMPONENTS]
    name = "-".join(parts).lower()
    if not parts or not _VALID_NAME.match(name):
        msg = (
            f"cannot name an image after the directory '{relative_dir}': a Containerfile must live in a"
            " directory whose path (less 'examples' and 'handlers') is lowercase letters, digits, '.', '_'"
            " and '-'"
        )
        raise NamingError(msg)
    return name


def find_images(root: Path) -> list[ImageSpec]:
    """Every Containerfile in the repository at `root`, named, sorted by name."""
    specs: dict[str, ImageSpec] = {}
    for relative in source_files(root):
        if relative.name != CONTAINERFILE:
            continue
        name = image_name(PurePosixPath(relative.parent.as_posix()))
        if name in specs:
            msg = (
                f"{relative} and {specs[name].containerfile.relative_to(root)} would both build the image"
                f" '{name}': move one of them"
            )
            raise NamingError(msg)
        specs[name] = ImageSpec(name=name, containerfile=root / relative)
    return [specs[name] for name in sorted(specs)]
