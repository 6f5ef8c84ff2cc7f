"""`images/build.sh`: build every image in the repository, skipping those whose context has not changed.

Usage: build_images.py [--base IMAGE] [--force] [--list] [NAME ...]
       build_images.py --containerfile PATH --name NAME [--base IMAGE] [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from imagebuild import podman
from imagebuild.context import context_hash, stage
from imagebuild.naming import ImageSpec, find_images, image_name
from imagebuild.packages import PackageError, cache_root, package, sdks_for

DEFAULT_BASE = "localhost/taskdaemon-base:bookworm"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _log(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="images/build.sh",
        description="Build the repository's handler images, tagged localhost/taskdaemon-<name>:dev.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="only these images (default: all; see --list)"
    )
    parser.add_argument(
        "--base",
        default=os.environ.get("TASKDAEMON_BASE_IMAGE", DEFAULT_BASE),
        help=f"the BASE build argument (default: {DEFAULT_BASE}; or an official image: python:3.12-slim)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even when the context hash is unchanged"
    )
    parser.add_argument(
        "--list", action="store_true", help="print each image's name and Containerfile, build nothing"
    )
    parser.add_argument(
        "--containerfile", type=Path, help="build this Containerfile instead of the repository's"
    )
    parser.add_argument("--name", help="the image name for --containerfile")
    args = parser.parse_args(argv)
    if (args.containerfile is None) != (args.name is None):
        parser.error("--containerfile and --name go together")
    if args.containerfile is not None and args.names:
        parser.error("give either --containerfile or image names, not both")
    return args


def _select(args: argparse.Namespace) -> list[ImageSpec]:
    if args.containerfile is not None:
        path = args.containerfile.resolve()
        if not path.is_file():
            msg = f"--containerfile {args.containerfile}: no such file"
            raise SystemExit(msg)
        image_name(PurePosixPath(args.name))  # validates the name
        return [ImageSpec(name=args.name, containerfile=path)]
    specs = find_images(REPO_ROOT)
    if not args.names:
        return specs
    known = {spec.name: spec for spec in specs}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        msg = f"no Containerfile builds {', '.join(unknown)}; known images: {', '.join(known) or 'none'}"
        raise SystemExit(msg)
    return [known[name] for name in args.names]


def _shown(path: Path) -> str:
    """A path as the user knows it: relative to the repository when inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _packages_for(spec: ImageSpec) -> list[Path]:
    try:
        relative = spec.context_dir.relative_to(REPO_ROOT)
    except ValueError:
        relative = Path(spec.context_dir.name)
    return [package(sdk, REPO_ROOT) for sdk in sdks_for(relative)]


def build_one(spec: ImageSpec, base: str, *, force: bool) -> str:
    """Build one image unless it is up to date; return what happened ('built' or 'up to date')."""
    build_args = {"BASE": base}
    packages = _packages_for(spec)
    base_id = podman.image_id(base) or base  # an official image not pulled yet: its name stands in
    with tempfile.TemporaryDirectory(prefix=f"taskdaemon-image-{spec.name}-") as scratch:
        context = Path(scratch)
        files = stage(spec.context_dir, packages, context)
        digest = context_hash(context, files, base_image_id=base_id, build_args=build_args)
        if not force and podman.image_label(spec.reference, podman.CONTEXT_HASH_LABEL) == digest:
            return "up to date"
        previous = podman.image_id(spec.reference)
        labels = {podman.CONTEXT_HASH_LABEL: digest, podman.SOURCE_LABEL: _shown(spec.containerfile)}
        podman.build(
            containerfile=context / spec.containerfile.name,
            context=context,
            reference=spec.reference,
            build_args=build_args,
            labels=labels,
        )
    if previous is not None and previous != podman.image_id(spec.reference):
        podman.remove_if_unused(previous)
    return "built"


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    specs = _select(args)
    if args.list:
        for spec in specs:
            print(f"{spec.name}\t{spec.reference}\t{_shown(spec.containerfile)}")
        return 0
    if not specs:
        _log("no Containerfile found in the repository: nothing to build")
        return 0
    with _exclusive_lock():
        return _build_all(specs, args.base, force=args.force)


@contextlib.contextmanager
def _exclusive_lock() -> Iterator[None]:
    """Serialises concurrent builds (two test suites building at once share the package cache)."""
    lock_path = cache_root() / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build_all(specs: list[ImageSpec], base: str, *, force: bool) -> int:
    started = time.monotonic()
    failures: list[str] = []
    for spec in specs:
        one_started = time.monotonic()
        try:
            outcome = build_one(spec, base, force=force)
        except (PackageError, podman.EngineError, ValueError) as exc:
            failures.append(spec.name)
            _log(f"{spec.reference}: FAILED\n{exc}")
            continue
        _log(f"{spec.reference}: {outcome} ({time.monotonic() - one_started:.1f} s)")
    podman.remove_replaced_images()
    total = time.monotonic() - started
    if failures:
        _log(f"{len(failures)} of {len(specs)} images failed ({', '.join(failures)}) in {total:.1f} s")
        return 1
    _log(f"{len(specs)} images ready in {total:.1f} s")
    return 0
