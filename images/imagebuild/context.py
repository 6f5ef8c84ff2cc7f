"""A build context in a temporary directory, and the hash that says whether an image is up to date.

The convention every Containerfile follows: its context is its own directory (the files git would
track) plus the SDK packages it installs, staged into `_packages/` (taskdaemon-<version>-py3-none-any.whl,
taskdaemon-<version>.gem, taskdaemon-<version>.tgz). The source tree is never written to.
A .containerignore or .dockerignore is left out: the staged context already holds only source files, and
an ignore list written for another layout would hide `_packages/` from the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from imagebuild.sources import source_files, tree_hash

PACKAGES_DIR = "_packages"
IGNORE_FILES = frozenset({".containerignore", ".dockerignore"})


class ContextError(ValueError):
    """A Containerfile's directory cannot be turned into a build context."""


def stage(context_dir: Path, packages: list[Path], destination: Path) -> list[Path]:
    """Copy the directory's source files and the packages into `destination`; return what was staged."""
    files = [relative for relative in source_files(context_dir) if relative.as_posix() not in IGNORE_FILES]
    if any(relative.parts[0] == PACKAGES_DIR for relative in files):
        msg = (
            f"{context_dir / PACKAGES_DIR} exists, but the SDK packages are staged under that name: rename it"
        )
        raise ContextError(msg)
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(context_dir / relative, target)
    staged_packages = destination / PACKAGES_DIR
    staged_packages.mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copy2(package, staged_packages / package.name)
        files.append(Path(PACKAGES_DIR, package.name))
    return sorted(files)


def context_hash(
    destination: Path, files: list[Path], *, base_image_id: str, build_args: dict[str, str]
) -> str:
    """What an image is built from: the staged files, the base image and the build arguments."""
    salt = "\0".join([f"base={base_image_id}", *(f"{k}={v}" for k, v in sorted(build_args.items()))])
    return tree_hash(destination, files, salt=salt)
