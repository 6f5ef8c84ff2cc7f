"""The SDK packages an image installs: built from the repository's own SDK sources, once per change.

Each SDK is built the way its users get it (a wheel, a .gem, an `npm pack` tarball). A build is cached
under a directory named after the hash of the SDK's source files, so an unchanged SDK is never rebuilt
and its package keeps the same bytes (which keeps the images' context hashes stable). Nothing is written
into the source tree: Python and TypeScript build from a copy of the sources, `gem build` writes its
output straight into the cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imagebuild.sources import source_files, tree_hash

# Makes the archives' timestamps fixed (2020-01-01), so a rebuild from the same sources gives the same bytes.
SOURCE_DATE_EPOCH = "1577836800"


class PackageError(RuntimeError):
    """An SDK package cannot be built (not packaged yet, a tool missing, or the build failed)."""


@dataclass(frozen=True)
class Sdk:
    """One SDK: the path component that marks an image as using it, and how to package it."""

    language: str
    directory: str  # relative to the repository root
    manifest_glob: str  # a file that must exist before the SDK can be packaged
    artifact_glob: str
    build: Callable[[Path, Path, Path], None]  # (sdk source dir, scratch dir, output dir)


def _run(argv: list[str], cwd: Path, what: str) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    try:
        completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        msg = f"{what}: '{argv[0]}' is not installed (run `make setup`)"
        raise PackageError(msg) from exc
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()[-3000:]
        msg = f"{what} failed (exit {completed.returncode}): {' '.join(argv)}\n{output}"
        raise PackageError(msg)


def _copy_sources(source: Path, destination: Path) -> None:
    for relative in source_files(source):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)


def python_interpreter(repo_root: Path) -> str:
    """The interpreter that runs `-m build`: the repository's virtualenv when there is one."""
    venv_python = repo_root / ".venv" / "bin" / "python"
    return os.environ.get("TASKDAEMON_PYTHON") or (str(venv_python) if venv_python.exists() else "python3")


def _build_wheel(source: Path, scratch: Path, output: Path) -> None:
    copy = scratch / "src"
    _copy_sources(source, copy)
    python = python_interpreter(source.parents[1])  # source is <repo>/sdks/python
    # Without isolation when the build backend is already installed: no network, a second faster.
    has_backend = (
        subprocess.run([python, "-c", "import hatchling"], capture_output=True, check=False).returncode == 0
    )
    isolation = ["--no-isolation"] if has_backend else []
    _run(
        [python, "-m", "build", "--wheel", *isolation, "--outdir", str(output), str(copy)],
        scratch,
        "building the Python wheel",
    )


def _build_gem(source: Path, _scratch: Path, output: Path) -> None:
    # In place (a gemspec may list its files with `git ls-files`), with the .gem written to the cache.
    gemspec = min(source.glob("*.gemspec"))
    # `gem build --output` takes the file name as given: make it the usual name-version.gem.
    target = output / f"{gemspec.stem}-{_gem_version(source, gemspec)}.gem"
    _run(["gem", "build", gemspec.name, "--output", str(target)], source, "building the Ruby gem")


def _gem_version(source: Path, gemspec: Path) -> str:
    completed = subprocess.run(
        ["ruby", "-e", "print Gem::Specification.load(ARGV[0]).version", gemspec.name],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        msg = f"cannot read the version from {gemspec}: {completed.stderr.strip()}"
        raise PackageError(msg)
    return completed.stdout.strip()


def _build_npm(source: Path, scratch: Path, output: Path) -> None:
    copy = scratch / "src"
    _copy_sources(source, copy)
    if (source / "node_modules").is_dir():
        # The SDK's own dev dependencies (the compiler) serve the copy's `prepack` build.
        (copy / "node_modules").symlink_to(source / "node_modules", target_is_directory=True)
    else:
        _run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            copy,
            "installing the TypeScript SDK's dev dependencies",
        )
    _run(["npm", "pack", "--silent", "--pack-destination", str(output)], copy, "packing the TypeScript SDK")


SDKS = (
    Sdk("python", "sdks/python", "pyproject.toml", "*.whl", _build_wheel),
    Sdk("ruby", "sdks/ruby", "*.gemspec", "*.gem", _build_gem),
    Sdk("typescript", "sdks/typescript", "package.json", "*.tgz", _build_npm),
)


def sdks_for(relative_dir: Path) -> list[Sdk]:
    """The SDKs an image in `relative_dir` installs: the one its path names, else all of them."""
    named = [sdk for sdk in SDKS if sdk.language in relative_dir.parts]
    return named or list(SDKS)


def cache_root() -> Path:
    configured = os.environ.get("TASKDAEMON_IMAGES_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskdaemon-images"


def package(sdk: Sdk, repo_root: Path) -> Path:
    """The SDK's package file, built now if its sources changed since the last build."""
    source = repo_root / sdk.directory
    if not any(source.glob(sdk.manifest_glob)):
        msg = f"the {sdk.language} SDK cannot be packaged yet: {sdk.directory} has no {sdk.manifest_glob}"
        raise PackageError(msg)
    files = source_files(source)
    digest = tree_hash(source, files, salt=sdk.language)[:16]
    cache = cache_root() / "packages"
    cached = cache / f"{sdk.language}-{digest}"
    artifacts = sorted(cached.glob(sdk.artifact_glob)) if cached.is_dir() else []
    if len(artifacts) == 1:
        return artifacts[0]
    # Scratch space next to the cache, so the finished output is moved into place by a rename.
    scratch_root = cache_root() / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"images: packaging the {sdk.language} SDK ({sdk.directory})", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix=f"{sdk.language}-", dir=scratch_root) as scratch_name:
        scratch = Path(scratch_name)
        output = scratch / "out"
        output.mkdir()
        sdk.build(source, scratch, output)
        built = sorted(output.glob(sdk.artifact_glob))
        if len(built) != 1:
            msg = f"the {sdk.language} package build made {len(built)} {sdk.artifact_glob} files, not one"
            raise PackageError(msg)
        shutil.rmtree(cached, ignore_errors=True)
        output.rename(cached)
    # Older builds of this SDK are never used again.
    for stale in cache.glob(f"{sdk.language}-*"):
        if stale != cached and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return next(cached.glob(sdk.artifact_glob))
