"""TaskService.cancel when the handler answers first: the race a cancel can lose."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest

from taskdaemond.dispatch import Dispatcher
from taskdaemond.errors import NotCancelled
from taskdaemond.metrics import DaemonMetrics
from taskdaemond.queue.base import TaskQueue
from taskdaemond.queue.models import TaskRecord
from taskdaemond.service import TaskService
from taskdaemond.statuses import TaskStatus
from tests.helpers import handler_table, make_config


class RacingQueue:
    """The task is processing when the cancel looks, and completed once the cancel has acted."""

    def __init__(self, final: TaskStatus) -> None:
        self.final = final

    async def cancel_pending(self, task_id: str, now: float) -> TaskStatus:
        return TaskStatus.PROCESSING

    async def get(self, task_id: str) -> TaskRecord:
        return TaskRecord(task_id, "echo", self.final, {}, 50, 1, 3, 0.0, 0.0, 0.0)

    async def get_if_final(self, task_id: str) -> TaskRecord:
        return await self.get(task_id)


class StoppingDispatcher:
    def cancel(self, task_id: str) -> bool:
        return True  # the instance is being stopped, but its result was already read


def service(tmp_path: Path, final: TaskStatus) -> TaskService:
    config = make_config(tmp_path, {"echo": handler_table("behave")})
    return TaskService(
        config,
        cast(TaskQueue, RacingQueue(final)),
        cast(Dispatcher, StoppingDispatcher()),
        cast(Any, DaemonMetrics()),
        daemon_id="d1",
    )


def test_a_cancel_that_loses_to_completion_raises_not_cancelled(tmp_path: Path) -> None:
    with pytest.raises(NotCancelled) as raised:
        asyncio.run(service(tmp_path, TaskStatus.COMPLETED).cancel("t1"))
    assert raised.value.status == "completed" and "t1 was not cancelled: it is completed" in str(raised.value)


def test_a_cancel_that_wins_returns_the_cancelled_task(tmp_path: Path) -> None:
    record = asyncio.run(service(tmp_path, TaskStatus.CANCELLED).cancel("t1"))
    assert record.status is TaskStatus.CANCELLED
