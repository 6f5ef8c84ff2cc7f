"""The ``taskdaemond`` command's entry point: ``serve`` gets its allocator settings before any
import of weight (hugepages.py restarts the process), then the command line runs (cli.py)."""

from __future__ import annotations

import sys
from typing import NoReturn

from taskdaemond import hugepages


def main() -> NoReturn:
    if sys.argv[1:2] == ["serve"]:
        hugepages.restart_with_huge_pages()
    from taskdaemond.cli import main as run_command  # noqa: PLC0415 - after the restart

    run_command()
