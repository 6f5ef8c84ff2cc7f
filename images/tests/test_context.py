"""The staged build context: the directory's files plus _packages/, and a hash that tracks all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebuild.context import ContextError, context_hash, stage
from imagebuild.packages import SDKS, sdks_for


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "Containerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    (source / "handler.py").write_text("print('hi')\n")
    (source / ".containerignore").write_text("*\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    return source


def _package(tmp_path: Path, content: bytes = b"wheel") -> Path:
    package = tmp_path / "taskdaemon-0.1.0-py3-none-any.whl"
    package.write_bytes(content)
    return package


def _hash(source: Path, package: Path, destination: Path, base: str = "sha256:base") -> str:
    files = stage(source, [package], destination)
    return context_hash(destination, files, base_image_id=base, build_args={"BASE": "b"})


def test_context_holds_the_sources_and_the_packages_only(tmp_path: Path) -> None:
    destination = tmp_path / "context"
    files = stage(_source(tmp_path), [_package(tmp_path)], destination)
    expected = [
        Path("Containerfile"),
        Path("_packages/taskdaemon-0.1.0-py3-none-any.whl"),
        Path("handler.py"),
    ]
    assert files == expected
    assert sorted(p.relative_to(destination) for p in destination.rglob("*") if p.is_file()) == expected
    assert (destination / "_packages/taskdaemon-0.1.0-py3-none-any.whl").read_bytes() == b"wheel"


def test_a_packages_folder_in_the_sources_is_refused(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "_packages").mkdir()
    (source / "_packages" / "old.whl").write_bytes(b"")
    with pytest.raises(ContextError, match="_packages exists"):
        stage(source, [], tmp_path / "context")


def test_hash_is_stable_and_follows_every_input(tmp_path: Path) -> None:
    source, package = _source(tmp_path), _package(tmp_path)
    first = _hash(source, package, tmp_path / "c1")
    assert _hash(source, package, tmp_path / "c2") == first
    assert _hash(source, package, tmp_path / "c3", base="sha256:other") != first
    (source / "handler.py").chmod(0o755)
    assert _hash(source, package, tmp_path / "c4") != first
    (source / "handler.py").chmod(0o644)
    (source / "handler.py").write_text("print('changed')\n")
    assert _hash(source, package, tmp_path / "c5") != first
    (source / "handler.py").write_text("print('hi')\n")
    assert _hash(source, _package(tmp_path, b"new wheel"), tmp_path / "c6") != first
    assert _hash(source, _package(tmp_path), tmp_path / "c7") == first


@pytest.mark.parametrize(
    ("directory", "languages"),
    [
        ("examples/hello/python", ["python"]),
        ("conformance/handlers/ruby", ["ruby"]),
        ("examples/primes/typescript", ["typescript"]),
        ("examples/mixed", [sdk.language for sdk in SDKS]),
    ],
)
def test_an_image_gets_the_sdk_its_path_names(directory: str, languages: list[str]) -> None:
    assert [sdk.language for sdk in sdks_for(Path(directory))] == languages
