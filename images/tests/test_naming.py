"""Image names come from the Containerfile's path; two Containerfiles may not claim one name."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from imagebuild.naming import NamingError, find_images, image_name


@pytest.mark.parametrize(
    ("directory", "name"),
    [
        ("conformance/handlers/python", "conformance-python"),
        ("examples/hello/python", "hello-python"),
        ("examples/wordcount/ruby", "wordcount-ruby"),
        ("examples/primes/typescript", "primes-typescript"),
        ("sdks/python", "sdks-python"),
    ],
)
def test_name_is_the_path_without_grouping_folders(directory: str, name: str) -> None:
    assert image_name(PurePosixPath(directory)) == name


@pytest.mark.parametrize("directory", [".", "examples", "examples/Hello World"])
def test_a_path_that_gives_no_valid_name_is_refused(directory: str) -> None:
    with pytest.raises(NamingError, match="cannot name an image"):
        image_name(PurePosixPath(directory))


def _containerfile(root: Path, directory: str) -> None:
    (root / directory).mkdir(parents=True)
    (root / directory / "Containerfile").write_text("FROM scratch\n")


def test_every_containerfile_is_found_and_build_output_is_not(tmp_path: Path) -> None:
    _containerfile(tmp_path, "examples/hello/python")
    _containerfile(tmp_path, "conformance/handlers/ruby")
    _containerfile(tmp_path, "sdks/typescript/node_modules/somedep")  # a dependency's, not ours
    found = {spec.name: spec.containerfile for spec in find_images(tmp_path)}
    assert found == {
        "conformance-ruby": tmp_path / "conformance/handlers/ruby/Containerfile",
        "hello-python": tmp_path / "examples/hello/python/Containerfile",
    }
    assert {spec.reference for spec in find_images(tmp_path)} == {
        "localhost/taskdaemon-conformance-ruby:dev",
        "localhost/taskdaemon-hello-python:dev",
    }


def test_two_containerfiles_with_one_name_are_refused(tmp_path: Path) -> None:
    _containerfile(tmp_path, "examples/hello/python")
    _containerfile(tmp_path, "hello/python")
    with pytest.raises(NamingError, match="would both build the image 'hello-python'"):
        find_images(tmp_path)
