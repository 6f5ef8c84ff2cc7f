"""Task: field checks, and log/progress events with their validation."""

from __future__ import annotations

from typing import Any

import pytest

from pysdk_support import check_event
from taskdaemon import Task


def _recording_task(events: list[dict[str, Any]]) -> Task:
    return Task("t1", "kind", {"a": 1}, 0, _emit=events.append)


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

    def test_the_emitter_is_not_part_of_repr_or_equality(self) -> None:
        assert "_emit" not in repr(Task("t", "k", {}, 0, _emit=print))
        assert Task("t", "k", {}, 0, _emit=print) == Task("t", "k", {}, 0)

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
        with pytest.raises(
            ValueError, match="level must be one of debug, info, warning, error; got 'fatal'"
        ):
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
