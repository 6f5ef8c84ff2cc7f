"""Leases on a queue shared by several daemons: renew the claims this daemon holds, and put
back to pending the tasks of daemons that stopped renewing theirs (killed, host gone, cut off
from the database). Each runs every quarter of the lease, so a renewal can be late by up to
three quarters of it before another daemon reclaims the task."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from taskdaemond import defaults
from taskdaemond.periodic import Periodic
from taskdaemond.queue.base import TaskQueue

log = logging.getLogger("taskdaemond.leases")


class LeaseKeeper(Periodic):
    """Renews ``held()`` and reaps expired leases until stopped."""

    name = "lease-keeper"

    def __init__(
        self,
        queue: TaskQueue,
        held: Callable[[], Sequence[str]],
        on_reclaimed: Callable[[list[tuple[str, str]]], None],
    ) -> None:
        self._queue = queue
        self._held = held
        self._on_reclaimed = on_reclaimed
        self.interval = queue.lease_seconds / defaults.RENEWALS_PER_LEASE
        #: Leases this daemon found expired and put back (each such task runs again).
        self.reclaimed = 0
        #: Why the last pass failed (the database is unreachable), or None.
        self.last_error: str | None = None

    async def run_once(self) -> None:
        """One renewal and one reaper pass; failures are logged and tried again next time."""
        try:
            held = list(self._held())
            if held:
                await self._queue.renew(held)
            reclaimed = await self._queue.reclaim_expired(time.time())
        except Exception as exc:
            if self.last_error is None:
                log.warning("cannot renew leases or reclaim expired ones: %s", exc)
            self.last_error = str(exc)
            return
        if self.last_error is not None:
            log.info("leases renewed again")
            self.last_error = None
        if reclaimed:
            self.reclaimed += len(reclaimed)
            log.warning(
                "lease expired: reclaimed %d tasks (their daemon stopped renewing); they run again: %s",
                len(reclaimed),
                " ".join(task_id for task_id, _ in reclaimed),
            )
            self._on_reclaimed(reclaimed)
