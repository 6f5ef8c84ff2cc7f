"""The group writer over a real SQLite queue: outcomes committed in groups, and a failed commit
that loses nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from taskdaemond import defaults
from taskdaemond.queue import NewTask, TaskEvent, Transition
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus
from taskdaemond.writer import GroupWriter


def new_task() -> NewTask:
    return NewTask(task_type="echo", data_json="{}", priority=50, max_retries=3)


def completed(task_id: str) -> Transition:
    return Transition(task_id, TaskStatus.COMPLETED, result_json='"ok"', task_type="echo")


def test_outcomes_and_events_added_together_are_committed_and_reported(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], list[list[str]], list[TaskStatus], int]:
        queue = SqliteQueue(tmp_path / "q.db")
        await queue.open()
        committed: list[list[str]] = []
        writer = GroupWriter(queue, lambda ts: committed.append([t.task_id for t in ts]))
        writer.start()
        ids = [task_id for task_id, _ in await queue.submit([new_task() for _ in range(5)], time.time())]
        await queue.claim("echo", 5, time.time())
        writer.add_event(TaskEvent(ids[0], time.time(), {"event": "log", "level": "info", "message": "hi"}))
        for task_id in ids:
            writer.add(completed(task_id))
        await writer.flush()
        records = [await queue.get(task_id) for task_id in ids]
        await writer.close()
        await queue.close()
        assert records[0] is not None
        return ids, committed, [r.status for r in records if r is not None], len(records[0].logs)

    ids, committed, statuses, logs = asyncio.run(main())
    assert statuses == [TaskStatus.COMPLETED] * 5 and logs == 1
    assert sorted(task_id for group in committed for task_id in group) == sorted(ids)  # each reported once


def test_a_failed_commit_is_logged_reports_nothing_and_loses_no_task(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The commit really fails (the connection is made read-only): the task stays processing,
    the next start recovers it, and the writer goes on committing once the queue works again."""

    async def main() -> tuple[list[Sequence[Transition]], TaskStatus | None, int, TaskStatus | None]:
        queue = SqliteQueue(tmp_path / "q.db")
        await queue.open()
        reported: list[Sequence[Transition]] = []
        writer = GroupWriter(queue, reported.append)
        writer.start()
        [(lost, _), (later, _)] = await queue.submit([new_task(), new_task()], time.time())
        await queue.claim("echo", 2, time.time())
        await queue._call(lambda: queue.db.execute("PRAGMA query_only = ON"))
        writer.add(completed(lost))
        await writer.flush()
        after_failure = await queue.get(lost)
        await queue._call(lambda: queue.db.execute("PRAGMA query_only = OFF"))
        writer.add(completed(later))
        await writer.flush()
        await writer.close()
        await queue.close()
        reopened = SqliteQueue(tmp_path / "q.db")
        recovered = await reopened.open()
        again = await reopened.get(lost)
        await reopened.close()
        return (
            reported,
            after_failure.status if after_failure else None,
            recovered,
            again.status if again else None,
        )

    with caplog.at_level(logging.ERROR, logger="taskdaemond.writer"):
        reported, after_failure, recovered, again = asyncio.run(main())
    assert "could not record 1 outcomes" in caplog.text and "readonly" in caplog.text
    assert [[t.task_id for t in group] for group in reported] == [[reported[0][0].task_id]]
    assert reported[0][0].status is TaskStatus.COMPLETED
    assert after_failure is TaskStatus.PROCESSING  # not lost: still held, run again at the next start
    assert (recovered, again) == (1, TaskStatus.PENDING)


def test_an_outcome_is_committed_at_once_when_no_other_task_is_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit window (here an hour) holds a group open only while tasks are running: a
    one-at-a-time client's result is committed as soon as it arrives, every time."""
    monkeypatch.setattr(defaults, "GROUP_COMMIT_WINDOW", 3600.0)

    async def main() -> tuple[list[str], list[list[str]]]:
        queue = SqliteQueue(tmp_path / "q.db")
        await queue.open()
        committed: list[list[str]] = []
        writer = GroupWriter(queue, lambda ts: committed.append([t.task_id for t in ts]), in_flight=lambda: 0)
        writer.start()
        ids = [task_id for task_id, _ in await queue.submit([new_task() for _ in range(3)], time.time())]
        await queue.claim("echo", 3, time.time())
        for task_id in ids:  # one after another, each right after the previous commit
            writer.add(completed(task_id))
            await asyncio.wait_for(writer.flush(), 60)  # an hour's window would fail here
        await writer.close()
        await queue.close()
        return ids, committed

    ids, committed = asyncio.run(main())
    assert committed == [[task_id] for task_id in ids]  # each committed alone, before the next came


def test_records_of_waited_tasks_are_read_with_the_commit_and_handed_over_first(tmp_path: Path) -> None:
    """SQLite reads them on its thread right after the commit: the waiters need no read of their own."""

    async def main() -> tuple[list[str], list[str]]:
        queue = SqliteQueue(tmp_path / "q.db")
        await queue.open()
        seen: list[str] = []
        [(waited, _), (other, _)] = await queue.submit([new_task(), new_task()], time.time())
        writer = GroupWriter(
            queue,
            lambda ts: seen.extend(f"committed {t.task_id}" for t in ts),
            waited=lambda ts: [t.task_id for t in ts if t.task_id == waited],
            on_records=lambda records: seen.extend(
                f"record {r.id} {r.status.value} {r.result}" for r in records
            ),
        )
        writer.start()
        await queue.claim("echo", 2, time.time())
        writer.add(completed(waited))
        writer.add(completed(other))
        await writer.flush()
        await writer.close()
        await queue.close()
        return seen, [waited, other]

    seen, (waited, other) = asyncio.run(main())
    assert seen == [f"record {waited} completed ok", f"committed {waited}", f"committed {other}"]
