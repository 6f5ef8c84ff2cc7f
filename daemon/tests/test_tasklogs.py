"""Logs as text lines (``tasklogs.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

from taskdaemond.tasklogs import log_lines

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def log(message: str, attempt: int | None = 0) -> dict[str, object]:
    entry: dict[str, object] = {"event": "log", "level": "info", "message": message, "at": AT}
    if attempt is not None:
        entry["attempt"] = attempt
    return entry


def test_a_log_is_a_timestamp_and_its_message() -> None:
    assert log_lines([log("hello")]) == ["2026-01-02T03:04:05 hello"]


def test_progress_events_are_left_out() -> None:
    progress = {"event": "progress", "progress": 0.5, "at": AT, "attempt": 0}
    assert log_lines([progress, log("a")]) == ["2026-01-02T03:04:05 a"]


def test_each_retry_opens_with_a_separator() -> None:
    lines = log_lines([log("a", 0), log("b", 1), log("c", 1), log("d", 3)])
    assert lines == [
        "2026-01-02T03:04:05 a",
        "--- Retry 1 ---",
        "2026-01-02T03:04:05 b",
        "2026-01-02T03:04:05 c",
        "--- Retry 3 ---",
        "2026-01-02T03:04:05 d",
    ]


def test_a_log_stored_without_its_attempt_counts_as_the_first_run() -> None:
    assert log_lines([log("old", None)]) == ["2026-01-02T03:04:05 old"]
