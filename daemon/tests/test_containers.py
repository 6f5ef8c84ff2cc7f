"""The container runtime against real podman containers and the images `make images` builds.

Tests marked ``containers`` need podman and the images (make test-containers runs images/build.sh
first, then ``pytest -m containers tests/test_containers.py``; a missing image makes the daemon
exit saying which and how to build it). The others need no engine: the errors a user gets where
none is installed, build hints, removal commands, exit descriptions; they run with the rest of the
suite (``pytest -m "not containers"``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskdaemond.runtime.container import build_hint, describe_exit, remove_argv
from tests.helpers import PYTHON, Daemon, wait_until, write_config

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES_WITH_IMAGES = REPOSITORY / "examples" / "handlers.images.toml"
#: The Python SDK's conformance handler: its task types sleep, exit, echo, ... (conformance/README.md).
CONFORMANCE_IMAGE = "localhost/taskdaemon-conformance-python:dev"
PREFIX = "taskdaemon-"

needs_podman = pytest.mark.skipif(
    shutil.which("podman") is None, reason="podman is not installed (make setup-podman, then make images)"
)


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=60, check=False)


def taskdaemon_containers() -> set[str]:
    """Names of every container, running or not, that the daemon may have started."""
    listing = podman("ps", "--all", "--format", "{{.Names}}")
    assert listing.returncode == 0, listing.stderr
    return {name for name in listing.stdout.split() if name.startswith(PREFIX)}


def container_id(name: str) -> str | None:
    """The full id of the container called ``name``, or None if there is none."""
    found = podman("container", "inspect", "--format", "{{.Id}}", name)
    return found.stdout.strip() if found.returncode == 0 else None


def all_container_ids() -> set[str]:
    return set(podman("ps", "--all", "--no-trunc", "--format", "{{.ID}}").stdout.split())


def inspect(name: str, template: str) -> str:
    found = podman("container", "inspect", "--format", template, name)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def slots(daemon: Daemon, task_type: str) -> list[dict[str, Any]]:
    pools = httpx.get(f"{daemon.url}/health", timeout=10).json()["pools"]
    result: list[dict[str, Any]] = pools[task_type]["slots"]
    return result


def running_container(daemon: Daemon, task_type: str, index: int = 0, other_than: str | None = None) -> str:
    """The id of the container slot ``index`` runs, once it runs (and is not ``other_than``)."""

    def current() -> str | None:
        name = slots(daemon, task_type)[index]["name"]
        if name is None:
            return None
        found = container_id(name)
        if found is None or found == other_than:
            return None
        return found if inspect(name, "{{.State.Status}}") == "running" else None

    found: str = wait_until(current, timeout=30, what=f"a running container for {task_type}-{index}")
    return found


def finished(client: httpx.Client, task_id: str, seconds: float = 60) -> dict[str, Any]:
    """The task once it is final, long-polling at most ``seconds``."""
    task: dict[str, Any] = client.get(f"/api/tasks/{task_id}", params={"wait": seconds}).json()
    assert task["status"] in ("completed", "failed"), task
    return task


def submit(client: httpx.Client, task_type: str, data: dict[str, Any]) -> str:
    response = client.post("/queue", json={"type": task_type, "data": data})
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    """Daemons a test starts; each is stopped (SIGTERM, by pid) at the end whatever happened."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def start_daemon(daemons: list[Daemon], config: Path, tmp_path: Path) -> Daemon:
    daemon = Daemon(
        config, tmp_path / f"daemon-{len(daemons)}.log", {"DAEMON_DB_PATH": str(tmp_path / "queue.db")}
    )
    daemons.append(daemon)
    return daemon.start()


# -- the examples, end to end ---------------------------------------------------------------

#: A task of every type in examples/handlers.images.toml and the result it must get.
EXAMPLE_TASKS: dict[str, tuple[dict[str, Any], Any]] = {
    "hello": ({"name": "Ada"}, {"message": "Hello, Ada!"}),
    "hello-ruby": ({"name": "Ada"}, {"message": "Hello, Ada!"}),
    "hello-typescript": ({"name": "Ada"}, {"message": "Hello, Ada!"}),
    "wordcount": (
        {"text": "the cat and the hat", "top": 2},
        {"total": 5, "distinct": 4, "top": [{"word": "the", "count": 2}, {"word": "and", "count": 1}]},
    ),
    "primes": ({"limit": 30}, {"count": 10, "largest": 29, "primes": [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]}),
}


@pytest.mark.containers
@needs_podman
def test_every_example_completes_through_containers_and_shutdown_leaves_none(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """examples/handlers.images.toml: each task type is answered by its image's named
    containers, run with their memory limit; SIGTERM to the daemon removes every one."""
    before = taskdaemon_containers()
    daemon = start_daemon(daemons, EXAMPLES_WITH_IMAGES, tmp_path)
    with daemon.client() as client:
        ids = {task_type: submit(client, task_type, data) for task_type, (data, _) in EXAMPLE_TASKS.items()}
        for task_type, task_id in ids.items():
            task = finished(client, task_id)
            assert (task["status"], task["result"]) == ("completed", EXAMPLE_TASKS[task_type][1]), task

    # Every instance is a running container named after its type and slot.
    names = {slot["name"] for task_type in EXAMPLE_TASKS for slot in slots(daemon, task_type)}
    assert len(names) == 8  # instances: 2 + 1 + 2 + 1 + 2
    assert all(name.startswith(PREFIX) for name in names)
    wait_until(lambda: names <= taskdaemon_containers(), timeout=30, what=f"containers {sorted(names)}")
    hello = slots(daemon, "hello")[0]["name"]
    assert hello.startswith("taskdaemon-hello-0-")
    assert inspect(hello, "{{.HostConfig.Memory}}") == str(64 * 1024 * 1024)  # memory_limit = "64m"
    assert inspect(hello, "{{.HostConfig.NetworkMode}}") == "none"

    assert daemon.stop() == 0
    assert not names & taskdaemon_containers(), "containers left behind after SIGTERM"
    assert taskdaemon_containers() == before


# -- timeouts, crashes, limits --------------------------------------------------------------


def conformance_handlers(**settings: Any) -> dict[str, dict[str, Any]]:
    """Task types of the conformance image: `sleep` (timeout 1 s, with limits and env) and `exit`."""
    common = {"image": CONFORMANCE_IMAGE, "instances": 1, "retries": 0, "network": "none"}
    return {
        "sleep": {**common, "timeout": 1, "memory_limit": "48m", "env": {"GREETING": "hi there"}, **settings},
        "exit": {**common},
    }


@pytest.fixture(scope="module")
def conformance_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the tests below (each uses its own task type), stopped at the end."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (make setup-podman, then make images)")
    tmp_path = tmp_path_factory.mktemp("containers")
    started: list[Daemon] = []
    try:
        yield start_daemon(
            started, write_config(tmp_path / "handlers.toml", conformance_handlers()), tmp_path
        )
    finally:
        for daemon in started:
            daemon.stop()


@pytest.mark.containers
def test_containers_get_their_limits_and_env(conformance_daemon: Daemon) -> None:
    """memory_limit -> --memory, env -> -e, network -> --network, as the engine applied them."""
    running_container(conformance_daemon, "sleep")
    name = slots(conformance_daemon, "sleep")[0]["name"]
    assert name.startswith("taskdaemon-sleep-0-")
    assert inspect(name, "{{.HostConfig.Memory}}") == str(48 * 1024 * 1024)
    assert inspect(name, "{{.HostConfig.NetworkMode}}") == "none"
    env = json.loads(inspect(name, "{{json .Config.Env}}"))
    assert "GREETING=hi there" in env
    assert f"TASKDAEMON_INSTANCE={name}" in env


@pytest.mark.containers
def test_timed_out_container_is_killed_removed_and_replaced(conformance_daemon: Daemon) -> None:
    daemon = conformance_daemon
    old = running_container(daemon, "sleep")
    restarts = slots(daemon, "sleep")[0]["restarts"]
    with daemon.client() as client:
        task = finished(client, submit(client, "sleep", {"ms": 60_000}))
        assert task["status"] == "failed"
        assert task["last_error"].startswith("Timeout:"), task
        new = running_container(daemon, "sleep", other_than=old)
        assert old not in all_container_ids(), "the timed-out container is still there"
        assert new in all_container_ids()
        # The replacement serves the next task.
        assert finished(client, submit(client, "sleep", {"ms": 1}))["result"] == {"slept_ms": 1}
    slot = slots(daemon, "sleep")[0]
    assert slot["restarts"] == restarts + 1
    assert slot["last_error"].startswith("Timeout:")


@pytest.mark.containers
def test_crashed_container_is_replaced(conformance_daemon: Daemon) -> None:
    daemon = conformance_daemon
    old = running_container(daemon, "exit")
    restarts = slots(daemon, "exit")[0]["restarts"]
    with daemon.client() as client:
        task = finished(client, submit(client, "exit", {"code": 3}))
    assert task["status"] == "failed"
    assert "exited with code 3" in task["last_error"], task
    new = running_container(daemon, "exit", other_than=old)
    assert old not in all_container_ids(), "the crashed container is still there"
    assert new in all_container_ids()
    slot = slots(daemon, "exit")[0]
    assert (slot["restarts"], slot["last_exit_code"]) == (restarts + 1, 3)


@pytest.mark.containers
@needs_podman
def test_shutdown_with_a_task_in_flight_leaves_no_container(tmp_path: Path, daemons: list[Daemon]) -> None:
    before = taskdaemon_containers()
    config = write_config(
        tmp_path / "handlers.toml", conformance_handlers(timeout=60), {"shutdown_grace": 0.5}
    )
    daemon = start_daemon(daemons, config, tmp_path)
    running_container(daemon, "sleep")
    names = {slots(daemon, task_type)[0]["name"] for task_type in ("sleep", "exit")}
    with daemon.client() as client:
        task_id = submit(client, "sleep", {"ms": 60_000})
        wait_until(
            lambda: client.get(f"/api/tasks/{task_id}").json()["status"] == "processing",
            what="the task running",
        )
    assert daemon.stop() == 0
    assert not names & taskdaemon_containers(), "containers left behind after SIGTERM"
    assert taskdaemon_containers() == before


# -- errors a user can hit ------------------------------------------------------------------


def test_the_repository_images_are_built_with_make_images_others_by_hand() -> None:
    assert build_hint("localhost/taskdaemon-wordcount-ruby:dev") == (
        "build it with `make images` (or only this one: `images/build.sh wordcount-ruby`)"
    )
    assert build_hint("registry.example/resize:2") == (
        "build it (`podman build -t registry.example/resize:2 DIR`) or pull it from its registry"
    )


def test_podman_removes_at_once_and_docker_rm_force_already_does() -> None:
    assert remove_argv("podman", "taskdaemon-x-0-a") == [
        "podman",
        "rm",
        "--force",
        "--time",
        "0",
        "taskdaemon-x-0-a",
    ]
    assert remove_argv("docker", "taskdaemon-x-0-a") == ["docker", "rm", "--force", "taskdaemon-x-0-a"]


def test_an_engine_exit_code_is_told_apart_from_the_handlers() -> None:
    refused = describe_exit(125, ["Error: unable to find network"], container=True)
    assert refused == (
        "the container engine refused to start the container (exit code 125); stderr:\nError: unable to find network"
    )
    assert describe_exit(125, [], container=False) == "the handler exited with code 125"
    assert describe_exit(3, ["boom"], container=True) == "the handler exited with code 3; stderr:\nboom"
    assert describe_exit(-9, [], container=True) == "the handler was killed by signal 9"


def taskdaemond(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess (with PATH replaced when given), bounded in time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAEMON_") and k != "HANDLER_CONFIG"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [PYTHON, "-m", "taskdaemond", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def image_config(tmp_path: Path, **table: Any) -> Path:
    handlers = {"resize": {"image": CONFORMANCE_IMAGE, "instances": 1, "retries": 0, **table}}
    return write_config(tmp_path / "handlers.toml", handlers, {"db_path": str(tmp_path / "queue.db")})


def test_no_engine_installed_stops_serve_with_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH with neither podman nor docker
    result = taskdaemond("serve", "--config", str(image_config(tmp_path)), path=str(empty))
    assert result.returncode == 2, result.stderr
    assert "handlers.resize.engine: neither podman nor docker is installed" in result.stderr
    assert "apt-get install podman" in result.stderr
    # check validates the file all the same, and warns.
    checked = taskdaemond("check", str(image_config(tmp_path)), path=str(empty))
    assert checked.returncode == 0, checked.stderr
    assert "warning: handlers.resize.engine: neither podman nor docker is installed" in checked.stdout


def test_chosen_engine_not_installed_names_it_and_the_installed_one(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_podman = bin_dir / "podman"  # only found on PATH, never run: serve stops before
    fake_podman.write_text("#!/bin/sh\nexit 1\n")
    fake_podman.chmod(0o755)
    result = taskdaemond("serve", "--config", str(image_config(tmp_path, engine="docker")), path=str(bin_dir))
    assert result.returncode == 2, result.stderr
    assert "the container engine 'docker' is not installed" in result.stderr
    assert 'set engine = "podman" (installed)' in result.stderr


@pytest.mark.containers
@needs_podman
def test_missing_image_is_named_with_its_build_command_before_any_container_starts(tmp_path: Path) -> None:
    before = taskdaemon_containers()
    config = image_config(tmp_path, image="localhost/taskdaemon-no-such-handler:dev")
    for command in (["serve", "--config", str(config)], ["check", str(config)]):
        result = taskdaemond(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "image 'localhost/taskdaemon-no-such-handler:dev' not found by podman" in result.stderr
        assert "`make images`" in result.stderr
        assert "`images/build.sh no-such-handler`" in result.stderr
    other = taskdaemond("check", str(image_config(tmp_path, image="example.org/resize:1")))
    assert other.returncode == 2
    assert "build it (`podman build -t example.org/resize:1 DIR`) or pull it" in other.stderr
    assert taskdaemon_containers() == before


@pytest.mark.containers
@needs_podman
def test_engine_refusal_shows_its_stderr_in_the_pool_state_and_the_task_error(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    before = taskdaemon_containers()
    daemon = start_daemon(daemons, image_config(tmp_path, network="no-such-network"), tmp_path)

    def refusal() -> str | None:
        error: str | None = slots(daemon, "resize")[0]["last_error"]
        return error

    error = wait_until(refusal, timeout=30, what="the engine's refusal in /health")
    assert error.startswith("the container engine refused to start the container (exit code 125)"), error
    assert "no-such-network" in error  # podman's own words
    with daemon.client() as client:
        task = finished(client, submit(client, "resize", {}))
    assert task["status"] == "failed"
    assert (
        "HandlerCrashed: the container engine refused to start the container (exit code 125)"
        in task["last_error"]
    )
    assert "no-such-network" in task["last_error"]
    assert daemon.stop() == 0
    assert taskdaemon_containers() == before
