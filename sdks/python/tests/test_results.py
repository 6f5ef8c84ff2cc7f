"""Success and Error: validation of their arguments and their wire form."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from taskdaemon import Error, Success


class TestSuccess:
    def test_wire_form_has_status_result_and_task_id(self) -> None:
        assert Success({"a": 1}).to_message("t") == {
            "status": "success",
            "result": {"a": 1},
            "task_id": "t",
        }

    def test_result_defaults_to_null_and_task_id_is_optional(self) -> None:
        assert Success().to_message() == {"status": "success", "result": None}

    def test_metadata_is_sent_when_given(self) -> None:
        message = Success(1, metadata={"ms": 3}).to_message("t")
        assert message == {"status": "success", "result": 1, "task_id": "t", "metadata": {"ms": 3}}

    def test_metadata_must_be_a_dict(self) -> None:
        with pytest.raises(TypeError, match="metadata must be a dict or None, got list"):
            Success(1, metadata=[1])  # type: ignore[arg-type]

    def test_is_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            Success(1).result = 2  # type: ignore[misc]


class TestError:
    def test_retryable_is_always_written(self) -> None:
        assert Error("no").to_message("t") == {
            "status": "error",
            "error": "no",
            "retryable": False,
            "task_id": "t",
        }

    def test_every_optional_field_is_written_in_wire_order(self) -> None:
        error = Error(
            "busy",
            retryable=True,
            error_type="Busy",
            retry_after=0,
            metadata={"n": 1},
            traceback="tb",
        )
        message = error.to_message("t")
        assert list(message) == [
            "status",
            "error",
            "retryable",
            "task_id",
            "error_type",
            "retry_after",
            "traceback",
            "metadata",
        ]
        assert message["retry_after"] == 0

    @pytest.mark.parametrize(
        ("kwargs", "exception", "match"),
        [
            ({"error": 5}, TypeError, "error must be a str, got int"),
            ({"error": "x", "retryable": "yes"}, TypeError, "retryable must be a bool, got str"),
            ({"error": "x", "retryable": 1}, TypeError, "retryable must be a bool, got int"),
            ({"error": "x", "error_type": ""}, ValueError, "error_type must not be empty"),
            (
                {"error": "x", "error_type": 3},
                TypeError,
                "error_type must be a str or None, got int",
            ),
            (
                {"error": "x", "retry_after": -1},
                ValueError,
                "retry_after must be a finite number of seconds >= 0, got -1",
            ),
            (
                {"error": "x", "retry_after": float("nan")},
                ValueError,
                "retry_after must be a finite",
            ),
            (
                {"error": "x", "retry_after": float("inf")},
                ValueError,
                "retry_after must be a finite",
            ),
            (
                {"error": "x", "retry_after": "5"},
                TypeError,
                "retry_after must be a number of seconds or None, got str",
            ),
            (
                {"error": "x", "retry_after": True},
                TypeError,
                "retry_after must be a number of seconds or None, got bool",
            ),
            (
                {"error": "x", "metadata": "m"},
                TypeError,
                "metadata must be a dict or None, got str",
            ),
            ({"error": "x", "traceback": 1}, TypeError, "traceback must be a str or None, got int"),
        ],
    )
    def test_bad_arguments_are_refused_by_name(
        self, kwargs: dict[str, Any], exception: type[Exception], match: str
    ) -> None:
        with pytest.raises(exception, match=match):
            Error(**kwargs)

    def test_a_result_is_not_equal_to_the_other_kind(self) -> None:
        assert Error("x") != Success("x")  # type: ignore[comparison-overlap]
        assert Error("x", retryable=True) == Error("x", retryable=True)
