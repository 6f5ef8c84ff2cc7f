"""Task: field checks, and log/progress events with their validation."""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum
from typing import Any

import pytest

from pysdk_support import check_event
from taskdaemon import Dependency, Task
from taskdaemon._task import connect_events


class Attempt(IntEnum):
    FIRST = 0
    SECOND = 1


def _recording_task(events: list[dict[str, Any]]) -> Task:
    task = Task("t1", "kind", {"a": 1}, 0)
    connect_events(task, events.append)
    return task


class TestFields:
    def test_a_task_built_by_hand_works(self) -> None:
        task = Task("t1", "kind", {"a": 1}, 2)
        assert (task.task_id, task.task_type, task.task_data, task.attempt) == (
            "t1",
            "kind",
            {"a": 1},
            2,
        )
        task.log("goes nowhere")
        task.progress(0.5)

    def test_the_event_sink_is_not_a_constructor_parameter(self) -> None:
        with pytest.raises(TypeError, match="_emit"):
            Task("t", "k", {}, 0, _emit=print)  # type: ignore[call-arg]

    def test_a_connected_task_keeps_its_repr_equality_and_hash(self) -> None:
        connected = Task("t", "k", {}, 0)
        connect_events(connected, print)
        assert repr(connected) == (
            "Task(task_id='t', task_type='k', task_data={}, attempt=0, tags={}, "
            "dependencies=mappingproxy({}))"
        )
        assert connected == Task("t", "k", {}, 0)

    @pytest.mark.parametrize(
        ("task_id", "task_type", "task_data", "attempt"),
        [
            ("tâche-1", "café", {}, 0),
            ("t", "k", OrderedDict(a=1), 0),
            ("t", "k", {}, Attempt.SECOND),
        ],
    )
    def test_fields_beyond_the_everyday_shape_are_accepted(
        self, task_id: str, task_type: str, task_data: dict[str, Any], attempt: int
    ) -> None:
        task = Task(task_id, task_type, task_data, attempt)
        assert (task.task_id, task.task_type, task.task_data, task.attempt) == (
            task_id,
            task_type,
            task_data,
            attempt,
        )

    @pytest.mark.parametrize(
        ("args", "exception", "match"),
        [
            ((1, "k", {}, 0), TypeError, "task_id must be a string, got integer"),
            (("", "k", {}, 0), ValueError, "task_id must not be empty"),
            (("t", None, {}, 0), TypeError, "task_type must be a string, got null"),
            (("t", "", {}, 0), ValueError, "task_type must not be empty"),
            (("t", "k", [], 0), TypeError, "task_data must be an object, got array"),
            (("t", "k", {}, -1), ValueError, "attempt must be >= 0, got -1"),
            (("t", "k", {}, True), TypeError, "attempt must be an integer, got boolean"),
            (("t", "k", {}, 1.0), TypeError, "attempt must be an integer, got number 1.0"),
            (("t\udc80", "k", {}, 0), ValueError, "task_id must be valid Unicode text"),
        ],
    )
    def test_bad_fields_are_refused_by_name(
        self, args: tuple[Any, ...], exception: type[Exception], match: str
    ) -> None:
        with pytest.raises(exception, match=match):
            Task(*args)


class TestTags:
    def test_tags_default_to_empty_and_are_kept(self) -> None:
        assert Task("t", "k", {}).tags == {}
        assert Task("t", "k", {}, 0, {"tenant": "acme"}).tags == {"tenant": "acme"}

    def test_tags_that_are_not_strings_are_refused(self) -> None:
        with pytest.raises(TypeError, match="tags must be an object"):
            Task("t", "k", {}, 0, ["a"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"tags\['n'\] must be a string"):
            Task("t", "k", {}, 0, {"n": 1})  # type: ignore[dict-item]


class TestDependencies:
    def test_dependencies_default_to_an_empty_read_only_mapping(self) -> None:
        dependencies = Task("t", "k", {}).dependencies
        assert dict(dependencies) == {}
        with pytest.raises(TypeError):
            dependencies["x"] = Dependency("a", "b")  # type: ignore[index]

    def test_given_dependencies_are_kept_as_a_read_only_copy(self) -> None:
        given = {"load": Dependency("t1", "fetch", {"rows": 42})}
        task = Task("t", "k", {}, 0, {}, given)
        given["other"] = Dependency("t2", "fetch")
        assert dict(task.dependencies) == {"load": Dependency("t1", "fetch", {"rows": 42})}
        assert task.dependencies["load"].result == {"rows": 42}
        with pytest.raises(TypeError):
            task.dependencies["x"] = Dependency("a", "b")  # type: ignore[index]
        with pytest.raises(AttributeError):
            task.dependencies["load"].result = 1  # type: ignore[misc]
        assert task == Task("t", "k", {}, 0, {}, {"load": Dependency("t1", "fetch", {"rows": 42})})

    def test_a_dependency_without_a_result_holds_none(self) -> None:
        assert Dependency("t1", "fetch").result is None

    def test_dependencies_that_are_not_dependency_objects_are_refused(self) -> None:
        with pytest.raises(TypeError, match="dependencies must be a mapping"):
            Task("t", "k", {}, 0, {}, ["a"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"dependencies\['load'\] must be a Dependency, got dict"):
            Task("t", "k", {}, 0, {}, {"load": {"task_id": "a"}})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="names must be strings"):
            Task("t", "k", {}, 0, {}, {1: Dependency("a", "b")})  # type: ignore[dict-item]

    def test_a_dependency_refuses_fields_the_protocol_does_not_allow(self) -> None:
        with pytest.raises(ValueError, match="task_id must not be empty"):
            Dependency("", "fetch")
        with pytest.raises(TypeError, match="task_type must be a string"):
            Dependency("t1", 3)  # type: ignore[arg-type]


class TestEvents:
    def test_log_emits_a_log_event(self) -> None:
        events: list[dict[str, Any]] = []
        task = _recording_task(events)
        task.log("hello")
        task.log("careful", level="warning")
        assert events == [
            {"event": "log", "task_id": "t1", "level": "info", "message": "hello"},
            {"event": "log", "task_id": "t1", "level": "warning", "message": "careful"},
        ]
        for event in events:
            check_event(event)

    def test_a_bad_level_names_the_allowed_ones(self) -> None:
        task = _recording_task([])
        with pytest.raises(ValueError, match="level must be one of debug, info, warning, error; got 'fatal'"):
            task.log("x", level="fatal")

    def test_a_log_message_must_be_text(self) -> None:
        with pytest.raises(TypeError, match="message must be a str, got int"):
            _recording_task([]).log(3)  # type: ignore[arg-type]

    def test_progress_emits_a_progress_event(self) -> None:
        events: list[dict[str, Any]] = []
        task = _recording_task(events)
        task.progress(0)
        task.progress(0.25, "a quarter")
        task.progress(1)
        assert events == [
            {"event": "progress", "task_id": "t1", "progress": 0},
            {"event": "progress", "task_id": "t1", "progress": 0.25, "message": "a quarter"},
            {"event": "progress", "task_id": "t1", "progress": 1},
        ]
        for event in events:
            check_event(event)

    @pytest.mark.parametrize("fraction", [-0.01, 1.01, float("nan"), float("inf")])
    def test_progress_outside_0_to_1_is_refused(self, fraction: float) -> None:
        with pytest.raises(ValueError, match="fraction must be a number from 0 to 1"):
            _recording_task([]).progress(fraction)

    @pytest.mark.parametrize("fraction", ["0.5", True, None])
    def test_progress_must_be_a_number(self, fraction: object) -> None:
        with pytest.raises(TypeError, match="fraction must be a number from 0 to 1"):
            _recording_task([]).progress(fraction)  # type: ignore[arg-type]

    def test_a_progress_message_must_be_text(self) -> None:
        with pytest.raises(TypeError, match="message must be a str or None, got int"):
            _recording_task([]).progress(0.5, 7)  # type: ignore[arg-type]
