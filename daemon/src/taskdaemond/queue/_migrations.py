"""Versioned SQL migrations, shared by the engines: each engine's ``*_migrations`` package
holds ``NNNN_name.sql`` files, applied in order, each once. Never edit a released file: add
the next one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def load(package: str) -> list[Migration]:
    """Every migration shipped in ``package``, oldest first; numbered 1..n without gaps."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations in {package} are not numbered 1..n without gaps: {versions}")
    return found
