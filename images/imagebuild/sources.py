"""Which files make up a directory's source, and a content hash over them.

The repository's .gitignore decides: tracked files plus untracked ones git would not ignore, so build
output (node_modules, dist, __pycache__, .venv) never leaks into a package build or a build context.
Outside a git checkout a fixed list of build-output names is skipped instead.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

# Used only when the directory is not inside a git checkout.
SKIPPED_NAMES = frozenset(
    {
        ".git",
        "node_modules",
        "__pycache__",
        ".venv",
        "dist",
        "build",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
)


def source_files(directory: Path) -> list[Path]:
    """The files under `directory` (relative to it, sorted) that belong to its source."""
    listed = _git_files(directory)
    if listed is None:
        listed = _walked_files(directory)
    # git lists tracked files that were deleted from the working tree: keep only what exists.
    return sorted(p for p in listed if (directory / p).is_file())


def _git_files(directory: Path) -> list[Path] | None:
    try:
        completed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=directory,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if completed.returncode != 0:
        return None
    names = completed.stdout.decode().split("\0")
    return [Path(name) for name in dict.fromkeys(names) if name]


def _walked_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in SKIPPED_NAMES]
        found.extend(Path(current, name).relative_to(directory) for name in files)
    return found


def tree_hash(directory: Path, files: list[Path], *, salt: str = "") -> str:
    """A sha256 over the files' relative paths, executable bits and contents (and a salt)."""
    digest = hashlib.sha256()
    digest.update(f"tree v1\0{salt}\0".encode())
    for relative in sorted(files):
        path = directory / relative
        executable = os.access(path, os.X_OK)
        digest.update(f"{relative.as_posix()}\0{int(executable)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
