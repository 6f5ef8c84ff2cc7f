"""Task ids are version 7 UUIDs: time-ordered, so a new task's entry lands at the right edge
of the id index however many finished tasks the queue keeps."""

from __future__ import annotations

import uuid

from taskdaemond.queue.ids import new_task_id


def test_a_task_id_is_a_version_7_uuid_with_its_creation_time() -> None:
    now_ns = 1_796_000_000_123_456_789
    task_id = new_task_id(now_ns)
    parsed = uuid.UUID(task_id)
    assert task_id == str(parsed)  # the canonical form: lowercase, 8-4-4-4-12
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert parsed.int >> 80 == now_ns // 1_000_000


def test_ids_made_later_sort_after_and_ids_of_one_moment_differ() -> None:
    earlier, later = new_task_id(10**18), new_task_id(10**18 + 1_000_000)
    assert earlier < later
    assert len({new_task_id(10**18) for _ in range(1000)}) == 1000
