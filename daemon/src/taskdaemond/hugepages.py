"""`taskdaemond serve` asks glibc's malloc for transparent huge pages, by starting itself again.

Why: a large task copies its payload into fresh buffers several times (the HTTP body, the task
line, the result line, the answer). glibc serves each buffer above its mmap threshold with new
pages, which the kernel faults in 4 KiB at a time: on the 2-core build machine a copy of 32 MiB
into a new buffer took 38 ms, and 6.5 ms with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (glibc
2.35 and later), which makes malloc ``madvise`` its memory for huge pages. A 16 MiB task there
and back got about 30% faster; the idle daemon holds 1.5 MiB more (bench/README.md).

glibc reads its tunables only when a process starts, so the daemon, started from the command
line, replaces itself (``execve``, same process id) with the same command and the tunable set,
once. A ``glibc.malloc.hugetlb`` already in GLIBC_TUNABLES is left as it is: set it to 0 to
keep the daemon on normal pages. Handler processes never get the variable (their environment
is a clean one, see runtime/process.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

VARIABLE = "GLIBC_TUNABLES"
TUNABLE = "glibc.malloc.hugetlb"
#: The first glibc with the tunable.
GLIBC_MINIMUM = (2, 35)
#: Where Linux says whether transparent huge pages can be had ("[never]" when they cannot).
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _glibc_version() -> tuple[int, ...] | None:
    try:  # "glibc 2.36"; no such name (ValueError) or None without glibc
        name = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None
    library, _, version = (name or "").partition(" ")
    if library != "glibc":
        return None
    try:
        return tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return None


def _huge_pages_possible() -> bool:
    try:
        return "[never]" not in THP_SETTING.read_text()
    except OSError:
        return False


def tuned_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` with the tunable added, or None when there is nothing to change: not Linux
    with a glibc that knows it, no transparent huge pages, or the tunable set already."""
    current = environ.get(VARIABLE, "")
    if TUNABLE in current or not sys.platform.startswith("linux"):
        return None
    version = _glibc_version()
    if version is None or version < GLIBC_MINIMUM or not _huge_pages_possible():
        return None
    setting = f"{TUNABLE}=1"
    return {**environ, VARIABLE: f"{current}:{setting}" if current else setting}


def restart_with_huge_pages() -> None:
    """Replace this process with its own command line and the tunable, when that changes
    anything. Called by the command's entry point (launch.py) before anything else is imported:
    what was loaded is loaded again."""
    arguments = sys.argv[1:]
    if arguments and sys.orig_argv[-len(arguments) :] != arguments:
        return  # not the command line this interpreter was started with
    environment = tuned_environment(os.environ)
    if environment is None or not sys.executable:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # the daemon then runs on, on normal pages
        os.execve(sys.executable, sys.orig_argv, environment)  # noqa: S606 - this very command, again
