"""The public surface: what `import taskdaemon` offers, and that the package ships its types."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
from importlib import metadata, resources
from typing import get_args, get_origin

import taskdaemon
import taskdaemon.testing
from taskdaemon.exceptions import TaskDaemonError


def test_the_public_names_are_exported() -> None:
    assert sorted(taskdaemon.__all__) == sorted(
        [
            "LOG_LEVELS",
            "Dependency",
            "Error",
            "Handler",
            "HandlerFunction",
            "HandlerResult",
            "Success",
            "Task",
            "__version__",
            "run",
        ],
    )
    assert sorted(taskdaemon.testing.__all__) == sorted(
        ["HandlerExited", "HandlerProcess", "HandlerTimeout", "Outcome", "call", "task"],
    )


def test_each_public_name_is_the_documented_object() -> None:
    assert list(inspect.signature(taskdaemon.run).parameters) == ["handler"]
    assert [field.name for field in dataclasses.fields(taskdaemon.Task) if field.init] == [
        "task_id",
        "task_type",
        "task_data",
        "attempt",
        "tags",
        "dependencies",
    ]
    assert [field.name for field in dataclasses.fields(taskdaemon.Dependency)] == [
        "task_id",
        "task_type",
        "result",
    ]
    assert taskdaemon.Success(1).to_message() == {"status": "success", "result": 1}
    assert isinstance(taskdaemon.Error("no"), taskdaemon.Error)
    assert not issubclass(taskdaemon.Error, BaseException)  # a result, not an exception
    assert taskdaemon.LOG_LEVELS == ("debug", "info", "warning", "error")
    assert set(get_args(taskdaemon.HandlerResult)) == {
        taskdaemon.Success,
        taskdaemon.Error,
        type(None),
    }
    assert get_origin(taskdaemon.HandlerFunction) is collections.abc.Callable
    assert set(get_args(taskdaemon.Handler)) == {
        taskdaemon.HandlerFunction,
        collections.abc.Mapping[str, taskdaemon.HandlerFunction],
    }


def test_each_testing_name_is_the_documented_object() -> None:
    testing = taskdaemon.testing
    assert list(inspect.signature(testing.call).parameters)[:2] == ["handler", "task_data"]
    assert testing.call(lambda _task: None).message == {
        "status": "success",
        "result": None,
        "task_id": "test-task",
    }
    assert testing.task("kind", {"a": 1})["task_data"] == {"a": 1}
    assert "dependencies" not in testing.task("kind")
    parent = taskdaemon.Dependency("t1", "fetch", [1])
    assert testing.task("kind", dependencies={"load": parent})["dependencies"] == {
        "load": {"task_id": "t1", "task_type": "fetch", "result": [1]},
    }
    assert inspect.isclass(testing.HandlerProcess)
    assert [field.name for field in dataclasses.fields(testing.Outcome)] == [
        "result",
        "message",
        "events",
        "output",
    ]
    for exception in (testing.HandlerExited, testing.HandlerTimeout):
        assert issubclass(exception, TaskDaemonError)


def test_the_version_matches_the_distribution() -> None:
    assert taskdaemon.__version__ == metadata.version("taskdaemon")


def test_the_distribution_has_no_dependencies() -> None:
    requirements = metadata.requires("taskdaemon") or []
    assert [req for req in requirements if "extra ==" not in req] == []


def test_the_package_is_typed() -> None:
    assert resources.files("taskdaemon").joinpath("py.typed").is_file()
