"""The lease keeper against a real PostgreSQL queue: it renews what its daemon holds, reclaims
what a silent daemon held, and says once when it cannot reach the database."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from taskdaemond.leases import LeaseKeeper
from taskdaemond.queue import NewTask
from taskdaemond.queue.postgres import PostgresQueue
from tests.pghelpers import query

NEW = NewTask(task_type="echo", data_json="{}", priority=50, max_retries=3)


def lease_expiry(url: str, task_id: str) -> float:
    [(expires,)] = query(url, "SELECT lease_expires_at FROM tasks WHERE id = %s", (task_id,))
    return float(expires)


def test_a_pass_renews_every_lease_its_daemon_holds(postgres_url: str) -> None:
    async def main() -> tuple[float, float]:
        queue = PostgresQueue(postgres_url, lease_seconds=30)
        queue.bind("holder")
        await queue.open()
        try:
            [(task_id, _)] = await queue.submit([NEW], time.time())
            await queue.claim("echo", 1, time.time())
            keeper = LeaseKeeper(queue, lambda: [task_id], lambda reclaimed: None)
            before = lease_expiry(postgres_url, task_id)
            await asyncio.sleep(0.05)  # the database clock moves on, so a renewal shows
            await keeper.run_once()
            return before, lease_expiry(postgres_url, task_id)
        finally:
            await queue.close()

    before, after = asyncio.run(main())
    assert after > before


def test_a_pass_reclaims_the_tasks_of_a_daemon_that_stopped_renewing(postgres_url: str) -> None:
    async def main() -> tuple[list[list[tuple[str, str]]], int, str]:
        silent = PostgresQueue(postgres_url, lease_seconds=0.2)
        alive = PostgresQueue(postgres_url, lease_seconds=30)
        silent.bind("silent")
        alive.bind("alive")
        await silent.open()
        await alive.open()
        try:
            [(task_id, _)] = await silent.submit([NEW], time.time())
            await silent.claim("echo", 1, time.time())
            reported: list[list[tuple[str, str]]] = []
            keeper = LeaseKeeper(alive, list, reported.append)
            async with asyncio.timeout(20):  # until the database says the lease lapsed
                while not query(
                    postgres_url, "SELECT 1 FROM tasks WHERE lease_expires_at < extract(epoch FROM now())"
                ):
                    await asyncio.sleep(0.05)
            await keeper.run_once()
            return reported, keeper.reclaimed, task_id
        finally:
            await silent.close()
            await alive.close()

    reported, reclaimed, task_id = asyncio.run(main())
    assert reported == [[(task_id, "echo")]] and reclaimed == 1
    [(status, claimed_by)] = query(postgres_url, "SELECT status, claimed_by FROM tasks")
    assert (status, claimed_by) == ("pending", None)


def test_an_unreachable_queue_is_reported_once_and_its_recovery_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> tuple[str | None, str | None]:
        queue = PostgresQueue(postgres_url)
        queue.bind("d")
        keeper = LeaseKeeper(queue, lambda: ["some-task"], lambda reclaimed: None)
        await keeper.run_once()  # not open: every pass fails
        await keeper.run_once()
        failed = keeper.last_error
        await queue.open()
        try:
            await keeper.run_once()
        finally:
            await queue.close()
        return failed, keeper.last_error

    with caplog.at_level(logging.INFO, logger="taskdaemond.leases"):
        failed, recovered = asyncio.run(main())
    assert failed is not None and recovered is None
    assert caplog.text.count("cannot renew leases") == 1
    assert caplog.text.count("leases renewed again") == 1
