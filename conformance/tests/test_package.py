"""The suite is a package anyone can use: built, installed in a fresh virtualenv outside the
repository, it lists and runs every case with no checkout (the cases ship in the wheel).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from taskdaemon_conformance.schemas import HARNESS_SCHEMAS, PROTOCOL_SCHEMAS

from support import CASES_DIR, CONFORMANCE

REPOSITORY = CONFORMANCE.parent
#: Seconds for a build, an install, or a run of the whole suite against the Python SDK.
STEP_TIMEOUT = 300


def _run(argv: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH or VIRTUAL_ENV from this run: the fresh virtualenv must stand on its own.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )
    if check:
        assert done.returncode == 0, (
            f"{shlex.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def _build(project: Path, out: Path) -> Path:
    """An sdist, then the wheel built from it (as PyPI users get it); --no-isolation: offline."""
    out.mkdir()
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(project)], cwd=out)
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the wheel, the fresh virtualenv's bin/, a scratch directory outside the repository)."""
    root = tmp_path_factory.mktemp("package")
    assert not root.resolve().is_relative_to(REPOSITORY)
    sdk_wheel = _build(REPOSITORY / "sdks" / "python", root / "sdk-dist")
    wheel = _build(CONFORMANCE, root / "dist")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    # The SDK first, from its wheel: `taskdaemon` on an index may be another project's.
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-index", str(sdk_wheel)], cwd=root)
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=root)
    scratch = root / "elsewhere"
    scratch.mkdir()
    return wheel, bin_dir, scratch


def test_the_wheel_carries_every_case_and_schema_byte_for_byte(installed: tuple[Path, Path, Path]) -> None:
    wheel, _bin, _scratch = installed
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted(CASES_DIR.glob("*.json")):
            assert archive.read(f"taskdaemon_conformance/cases/{path.name}") == path.read_bytes()
        packaged_cases = [n for n in archive.namelist() if n.startswith("taskdaemon_conformance/cases/")]
        assert len(packaged_cases) == len(list(CASES_DIR.glob("*.json")))
        for name in (*PROTOCOL_SCHEMAS, *HARNESS_SCHEMAS):
            assert archive.read(f"taskdaemon_conformance/schemas/{name}")


def test_the_installed_harness_lists_the_cases(installed: tuple[Path, Path, Path]) -> None:
    _wheel, bin_dir, scratch = installed
    listing = _run([str(bin_dir / "taskdaemon-conformance"), "list"], cwd=scratch).stdout
    ids = [json.loads(p.read_text(encoding="utf-8"))["cases"] for p in sorted(CASES_DIR.glob("*.json"))]
    cases = [case for file_cases in ids for case in file_cases]
    for case in cases:
        assert f"  {case['id']}" in listing
        assert case["description"] in listing
    assert listing.rstrip().endswith(f"{len(cases)} cases in {len(ids)} files")


def test_the_installed_harness_runs_every_case_against_a_command(installed: tuple[Path, Path, Path]) -> None:
    _wheel, bin_dir, scratch = installed
    handler = REPOSITORY / "conformance" / "handlers" / "python" / "handler.py"
    command = f"{shlex.quote(str(bin_dir / 'python'))} -u {shlex.quote(str(handler))}"
    report = scratch / "report.json"
    done = _run(
        [str(bin_dir / "taskdaemon-conformance"), "run", "--command", command, "--report", str(report)],
        cwd=scratch,
    )
    footer = json.loads(report.read_text(encoding="utf-8").splitlines()[-1])
    total = sum(len(json.loads(p.read_text(encoding="utf-8"))["cases"]) for p in CASES_DIR.glob("*.json"))
    assert (footer["passed"], footer["failed"]) == (total, 0), done.stdout
    assert f"{total} passed, 0 failed" in done.stdout


def test_sdk_outside_a_checkout_says_what_it_needs(installed: tuple[Path, Path, Path]) -> None:
    _wheel, bin_dir, scratch = installed
    done = _run([str(bin_dir / "taskdaemon-conformance"), "run", "--sdk", "python"], cwd=scratch, check=False)
    assert done.returncode == 2
    assert "--sdk runs the SDKs' conformance handlers from a TaskDaemon checkout" in done.stderr
    assert "pass --checkout DIR" in done.stderr
    given = [
        str(bin_dir / "taskdaemon-conformance"),
        "run",
        "--sdk",
        "python",
        "--checkout",
        str(REPOSITORY),
        "--case",
        "echo-object",
    ]
    assert "1 passed, 0 failed" in _run(given, cwd=scratch).stdout
