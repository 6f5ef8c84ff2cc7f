"""news.py: changes fan out to the subscriptions that want them, bounded, and end at close."""

from __future__ import annotations

import asyncio

from taskdaemond import defaults
from taskdaemond.news import TaskNews


def test_a_change_reaches_every_reader_of_that_task_or_of_all() -> None:
    async def main() -> tuple[set[str], set[str], set[str]]:
        hub = TaskNews()
        one, other, every = hub.subscribe("a"), hub.subscribe("b"), hub.subscribe()
        hub.publish(["a", "c"])
        return await one.next(1), await other.next(0.01), await every.next(1)

    assert asyncio.run(main()) == ({"a"}, set(), {"a", "c"})


def test_a_reader_waiting_is_woken_by_a_change() -> None:
    async def main() -> tuple[set[str], float]:
        hub = TaskNews()
        reader = hub.subscribe()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, hub.publish, ["x"])
        started = loop.time()
        return await reader.next(10), loop.time() - started

    changed, waited = asyncio.run(main())
    assert changed == {"x"} and waited < 5


def test_changes_beyond_the_bound_are_reported_as_an_overflow() -> None:
    async def main() -> tuple[int, bool, bool]:
        hub = TaskNews()
        reader = hub.subscribe()
        hub.publish(str(n) for n in range(defaults.MAX_PENDING_CHANGES + 10))
        changed = await reader.next(1)
        return len(changed), reader.take_overflow(), reader.take_overflow()

    assert asyncio.run(main()) == (defaults.MAX_PENDING_CHANGES, True, False)


def test_close_wakes_readers_and_unsubscribed_readers_get_nothing() -> None:
    async def main() -> tuple[set[str], bool, int, int]:
        hub = TaskNews()
        reader, gone = hub.subscribe(), hub.subscribe()
        gone.close()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, hub.close)
        started = loop.time()
        changed = await reader.next(10)
        hub.publish(["late"])
        return changed, loop.time() - started < 5, hub.readers, len(await gone.next(0.01))

    assert asyncio.run(main()) == (set(), True, 1, 0)
