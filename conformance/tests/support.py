"""Paths and targets the tests share: the case suite, the bundled Python handler, the broken fakes."""

from __future__ import annotations

import sys
from pathlib import Path

from taskdaemon_conformance.replay import Target

CONFORMANCE = Path(__file__).resolve().parents[1]
CASES_DIR = CONFORMANCE / "cases"
BROKEN = Path(__file__).resolve().parent / "broken"


def python_handler() -> Target:
    """The Python SDK's conformance handler, run with this interpreter (which has the SDK)."""
    return Target("python", (sys.executable, "-u", "handler.py"), cwd=CONFORMANCE / "handlers" / "python")


def broken(name: str) -> Target:
    """One of the broken fake handlers in tests/broken/."""
    return Target(name, ("sh", str(BROKEN / f"{name}.sh")))
