"""News of tasks for live readers (the Server-Sent Events streams): which tasks changed.

A change is only a task id: a reader re-reads the task from the queue and sends what is new, so
news from this daemon (a commit, a submit, a cancel) and from other daemons on a shared queue
(PostgreSQL NOTIFY) are handled alike, and nothing is lost when news are coalesced. Each
subscription holds a bounded set of changed ids; past the bound it only remembers that it
overflowed (the reader then starts over from the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from taskdaemond import defaults


class Subscription:
    """The changes one reader has not read yet, of one task (``task_id``) or of all."""

    def __init__(self, news: TaskNews, task_id: str | None) -> None:
        self._news = news
        self.task_id = task_id
        self._changed: set[str] = set()
        self.overflowed = False
        self._wake = asyncio.Event()

    def _add(self, task_ids: Iterable[str]) -> None:
        for task_id in task_ids:
            if self.task_id is not None and task_id != self.task_id:
                continue
            if len(self._changed) >= defaults.MAX_PENDING_CHANGES:
                self.overflowed = True
                break
            self._changed.add(task_id)
        if self._changed or self.overflowed:
            self._wake.set()

    def _close(self) -> None:
        self._wake.set()

    async def next(self, timeout: float) -> set[str]:
        """The ids changed since the last call, waiting at most ``timeout`` seconds for one
        (an empty set: nothing changed, or the news closed)."""
        if not self._changed and not self.overflowed and not self._news.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        changed, self._changed = self._changed, set()
        return changed

    def take_overflow(self) -> bool:
        """True once after changes were dropped for want of room."""
        overflowed, self.overflowed = self.overflowed, False
        return overflowed

    def close(self) -> None:
        self._news.unsubscribe(self)


class TaskNews:
    """Fan-out of task changes to the subscriptions of this daemon's live readers."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        #: Set when the daemon stops: every stream ends instead of holding the shutdown up.
        self.closed = False

    def subscribe(self, task_id: str | None = None) -> Subscription:
        subscription = Subscription(self, task_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def readers(self) -> int:
        return len(self._subscriptions)

    def publish(self, task_ids: Iterable[str]) -> None:
        """These tasks changed (committed, submitted, cancelled...): tell every reader."""
        if not self._subscriptions:
            return
        ids = list(task_ids)
        for subscription in list(self._subscriptions):
            subscription._add(ids)

    def close(self) -> None:
        """The daemon is stopping: wake every reader so that its stream ends."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription._close()
