"""A background job that runs one pass every ``interval`` seconds until stopped: the lease
keeper and the pruner; the schedule loop, whose pause is the time to its next due run."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Periodic:
    """Subclasses set ``interval`` and ``name`` and implement ``run_once``, which must not raise
    for a failure it can try again next time."""

    interval: float
    name: str
    #: Run a pass at once when started (else the first comes after one interval).
    eager = False

    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self.eager:
            await self.run_once()
        while True:
            await asyncio.sleep(self.pause())
            await self.run_once()

    def pause(self) -> float:
        """Seconds to sleep before the next pass: ``interval`` unless a subclass knows better."""
        return self.interval

    async def run_once(self) -> Any:
        raise NotImplementedError
