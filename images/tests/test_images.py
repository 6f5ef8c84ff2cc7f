"""The images for real: built with images/build.sh on the local base image and run with podman.

Runs only where podman is set up (images/setup-podman.sh); elsewhere every test here is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

IMAGES_DIR = Path(__file__).resolve().parents[1]
BUILD = [str(IMAGES_DIR / "build.sh")]
HELLO_LANGUAGES = ["python", "ruby", "typescript"]
HELLO_TASK = {"task_id": "1", "task_type": "hello", "task_data": {"name": "Ada"}, "attempt": 0}
# Bounds every podman command (a first build of the base image takes about a minute).
COMMAND_TIMEOUT = 300


def _podman_ready() -> bool:
    if shutil.which("podman") is None:
        return False
    return subprocess.run(["podman", "info"], capture_output=True, check=False, timeout=60).returncode == 0


pytestmark = pytest.mark.skipif(not _podman_ready(), reason="podman is not set up (images/setup-podman.sh)")


def _run(argv: list[str], *, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT
    )


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    completed = _run([*BUILD, *args])
    assert completed.returncode == 0, completed.stderr
    return completed


def _image_names() -> set[str]:
    listed = _build("--list").stdout.splitlines()
    return {line.split("\t")[0] for line in listed}


def _image_id(reference: str) -> str:
    completed = _run(["podman", "image", "inspect", "--format", "{{.Id}}", reference])
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def _container_names() -> set[str]:
    completed = _run(["podman", "ps", "-a", "--format", "{{.Names}}"])
    assert completed.returncode == 0, completed.stderr
    return set(completed.stdout.split())


@pytest.fixture(scope="module")
def hello_images() -> dict[str, str]:
    """Builds the hello image of every language that has one listed; maps language -> image."""
    names = _image_names()
    present = {language: f"hello-{language}" for language in HELLO_LANGUAGES if f"hello-{language}" in names}
    if present:
        _build(*present.values())
    return {language: f"localhost/taskdaemon-{name}:dev" for language, name in present.items()}


@pytest.mark.parametrize("language", HELLO_LANGUAGES)
def test_hello_image_answers_tasks_and_leaves_no_container(
    hello_images: dict[str, str], language: str
) -> None:
    assert language in hello_images, (
        f"examples/hello/{language}/Containerfile is missing from build.sh --list"
    )
    container = f"taskdaemon-images-test-{uuid.uuid4().hex[:12]}"
    second = {**HELLO_TASK, "task_id": "2", "task_data": {}}
    tasks = f"{json.dumps(HELLO_TASK)}\n{json.dumps(second)}\n"
    completed = _run(
        ["podman", "run", "-i", "--rm", "--network=none", "--name", container, hello_images[language]],
        stdin=tasks,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    results = [line for line in lines if "status" in line]  # log and progress events may come first
    assert results == [
        {"status": "success", "result": {"message": "Hello, Ada!"}, "task_id": "1"},
        {"status": "success", "result": {"message": "Hello, World!"}, "task_id": "2"},
    ]
    assert container not in _container_names()


@pytest.fixture
def fixture_image(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A one-file image outside the repository (in a 'python' folder, so it gets the Python wheel)."""
    directory = tmp_path / "python"
    directory.mkdir()
    (directory / "Containerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nCOPY greeting.txt /greeting.txt\nCOPY _packages/ /packages/\n"
        'CMD ["sh", "-c", "cat /greeting.txt; ls /packages"]\n'
    )
    (directory / "greeting.txt").write_text("first\n")
    name = f"images-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield directory, name
    _run(["podman", "rmi", "--force", f"localhost/taskdaemon-{name}:dev"])


def test_an_image_is_rebuilt_only_when_its_context_changes(fixture_image: tuple[Path, str]) -> None:
    directory, name = fixture_image
    reference = f"localhost/taskdaemon-{name}:dev"
    args = ["--containerfile", str(directory / "Containerfile"), "--name", name]

    assert f"{reference}: built" in _build(*args).stderr
    first_id = _image_id(reference)
    assert f"{reference}: up to date" in _build(*args).stderr
    assert _image_id(reference) == first_id

    (directory / "greeting.txt").write_text("second\n")
    assert f"{reference}: built" in _build(*args).stderr
    assert _image_id(reference) != first_id
    completed = _run(["podman", "run", "--rm", "--network=none", reference])
    assert completed.returncode == 0, completed.stderr
    greeting, *packages = completed.stdout.split()
    assert greeting == "second"
    assert len(packages) == 1
    assert packages[0].startswith("taskdaemon-")
    assert packages[0].endswith(".whl")
    # The image the rebuild replaced was removed, not left behind untagged.
    assert _run(["podman", "image", "exists", first_id]).returncode != 0


def test_a_failing_build_names_the_image_and_shows_podmans_output(fixture_image: tuple[Path, str]) -> None:
    directory, name = fixture_image
    (directory / "Containerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN echo broken-step >&2; exit 3\n")
    completed = _run([*BUILD, "--containerfile", str(directory / "Containerfile"), "--name", name])
    assert completed.returncode == 1
    assert f"localhost/taskdaemon-{name}:dev: FAILED" in completed.stderr
    assert "broken-step" in completed.stderr


def test_an_image_replaced_while_in_use_is_removed_once_free(fixture_image: tuple[Path, str]) -> None:
    directory, name = fixture_image
    reference = f"localhost/taskdaemon-{name}:dev"
    args = ["--containerfile", str(directory / "Containerfile"), "--name", name]
    _build(*args)
    first_id = _image_id(reference)
    container = f"taskdaemon-images-test-{uuid.uuid4().hex[:12]}"
    started = _run(
        ["podman", "run", "-d", "--rm", "--network=none", "--name", container, reference, "sleep", "300"]
    )
    assert started.returncode == 0, started.stderr
    try:
        (directory / "greeting.txt").write_text("second\n")
        _build(*args)
        assert _run(["podman", "image", "exists", first_id]).returncode == 0  # still used: kept
    finally:
        _run(["podman", "rm", "--force", "--time", "0", container])
    assert f"{reference}: up to date" in _build(*args).stderr
    assert _run(["podman", "image", "exists", first_id]).returncode != 0
