"""Dependencies between tasks, against every queue: waiting until every dependency completed,
results in the claim, failures failing or cancelling dependents transitively, redrive reviving
them, workflows' records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from taskdaemond.dependencies import UnknownDependencies
from taskdaemond.queue import AttemptError, NewTask, TaskQueue, Transition
from taskdaemond.queue.memory import MemoryQueue
from taskdaemond.queue.models import DependentChanges, NewWorkflow
from taskdaemond.queue.sqlite import SqliteQueue
from taskdaemond.statuses import TaskStatus
from tests.queue.test_queue import NOW, QueueFactory, new, run


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> QueueFactory:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    def make(selection: str = "fifo") -> TaskQueue:
        if request.param == "memory":
            return MemoryQueue(selection)
        if request.param == "postgres":
            from taskdaemond.queue.postgres import PostgresQueue

            return PostgresQueue(url, selection)
        return SqliteQueue(tmp_path / "q.db", selection)

    return make


def after(*ids: str, **kw: Any) -> NewTask:
    return new(dependencies=tuple((i, i) for i in ids), **kw)


async def status(q: TaskQueue, task_id: str) -> TaskStatus:
    record = await q.get(task_id)
    assert record is not None
    return record.status


async def claim_one(q: TaskQueue, task_id: str, now: float) -> None:
    """Claim ``task_id`` (the other tasks claimed with it go back)."""
    claimed = [t.id for t in await q.claim("echo", 100, now)]
    assert task_id in claimed
    await q.release([i for i in claimed if i != task_id])


async def complete(q: TaskQueue, task_id: str, result: Any, now: float = NOW) -> None:
    await claim_one(q, task_id, now)
    await q.record([Transition(task_id, TaskStatus.COMPLETED, result_json=json.dumps(result))], [], now)


async def fail(q: TaskQueue, task_id: str, now: float = NOW) -> None:
    await claim_one(q, task_id, now)
    error = AttemptError(0, "boom", "Boom", retryable=False)
    await q.record([Transition(task_id, TaskStatus.FAILED, error=error)], [], now)


def test_a_dependent_waits_then_runs_with_its_dependencies_results(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        seen: list[DependentChanges] = []
        q.watch_dependents(seen.append)
        [(a, _), (b, _)] = await q.submit([new(), new()], NOW)
        [(c, _)] = await q.submit([after(a, b)], NOW)
        assert await status(q, c) is TaskStatus.WAITING
        await complete(q, a, {"n": 1})
        assert await status(q, c) is TaskStatus.WAITING  # b has not completed
        await complete(q, b, [2])
        assert await status(q, c) is TaskStatus.PENDING
        assert seen[-1].released == [(c, "echo")]
        [claimed] = await q.claim("echo", 10, NOW)
        assert claimed.id == c
        assert claimed.dependencies_json is not None
        assert json.loads(claimed.dependencies_json) == {
            a: {"task_id": a, "task_type": "echo", "result": {"n": 1}},
            b: {"task_id": b, "task_type": "echo", "result": [2]},
        }
        record = await q.get(c)
        assert record is not None
        assert sorted(record.depends_on or []) == sorted([a, b])

    run(make_queue("fifo"), scenario)


def test_a_waiting_task_is_never_claimed(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        await q.submit([after(a)], NOW)
        assert [t.id for t in await q.claim("echo", 10, NOW)] == [a]
        assert await q.claim("echo", 10, NOW) == []
        assert (await q.counts())["waiting"] == 1

    run(make_queue("fifo"), scenario)


def test_unknown_dependencies_refuse_the_whole_submit(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        with pytest.raises(UnknownDependencies, match="no-such-id"):
            await q.submit([new(), after(a, "no-such-id")], NOW)
        page = await q.list(status=None, task_type=None, limit=10, cursor=None)
        assert [t.id for t in page.tasks] == [a]

    run(make_queue("fifo"), scenario)


def test_a_dependency_already_completed_leaves_the_dependent_pending(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        await complete(q, a, "done")
        [(b, _)] = await q.submit([after(a)], NOW)
        assert await status(q, b) is TaskStatus.PENDING

    run(make_queue("fifo"), scenario)


def test_a_submit_claims_a_dependent_its_completed_dependency_released_with_its_data(
    make_queue: QueueFactory,
) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        await complete(q, a, "done")
        answers, claimed = await q.submit_and_claim(
            [after(a, data='{"step":"b"}'), new(data='{"step":"c"}')], NOW, "echo", 5
        )
        assert [(c.id, c.data_json) for c in claimed] == [
            (answers[0][0], '{"step":"b"}'),
            (answers[1][0], '{"step":"c"}'),
        ]
        assert json.loads(claimed[0].dependencies_json or "{}")[a]["result"] == "done"

    run(make_queue("fifo"), scenario)


def test_a_failure_fails_dependents_transitively_naming_it(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        [(b, _)] = await q.submit([after(a)], NOW)
        [(c, _)] = await q.submit([after(b, on_dependency_failure="cancel")], NOW)
        await fail(q, a)
        rb, rc = await q.get(b), await q.get(c)
        assert rb is not None
        assert rc is not None
        assert rb.status is TaskStatus.FAILED
        assert rb.last_error == f"dependency (task {a}) failed: boom"
        assert rb.errors[-1]["error_type"] == "DependencyFailed"
        assert rc.status is TaskStatus.CANCELLED
        assert rc.last_error is not None
        assert rc.last_error.startswith(f"dependency (task {b}) failed: dependency (task {a}) failed")

    run(make_queue("fifo"), scenario)


def test_a_dependency_failed_before_the_submit_fails_the_dependent_at_once(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        await fail(q, a)
        [(b, _)] = await q.submit([after(a)], NOW)
        assert await status(q, b) is TaskStatus.FAILED

    run(make_queue("fifo"), scenario)


def test_cancelling_a_waiting_task_cancels_it_and_fails_its_dependents(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        [(b, _)] = await q.submit([after(a)], NOW)
        [(c, _)] = await q.submit([after(b)], NOW)
        assert await q.cancel_pending(b, NOW) is TaskStatus.WAITING
        assert await status(q, b) is TaskStatus.CANCELLED
        assert await status(q, c) is TaskStatus.FAILED

    run(make_queue("fifo"), scenario)


def test_deleting_a_dependency_fails_its_dependents(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        [(b, _)] = await q.submit([after(a)], NOW)
        await q.delete(a)
        record = await q.get(b)
        assert record is not None
        assert record.status is TaskStatus.FAILED
        assert record.last_error == f"dependency (task {a}) was deleted"

    run(make_queue("fifo"), scenario)


def test_redriving_a_failed_dependency_revives_the_dependents_it_failed(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        [(b, _)] = await q.submit([after(a)], NOW)
        [(c, _)] = await q.submit([after(b, on_dependency_failure="cancel")], NOW)
        await fail(q, a)
        assert await q.redrive(a, NOW) is TaskStatus.FAILED
        assert [await status(q, i) for i in (a, b, c)] == [
            TaskStatus.PENDING,
            TaskStatus.WAITING,
            TaskStatus.WAITING,
        ]
        await complete(q, a, 1)
        await complete(q, b, 2)
        assert await status(q, c) is TaskStatus.PENDING

    run(make_queue("fifo"), scenario)


def test_a_workflow_is_one_transaction_with_its_own_record(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        steps = (
            new(task_id="t-a", workflow_id="w1", step="a"),
            new(task_id="t-b", workflow_id="w1", step="b", dependencies=(("a", "t-a"),)),
            new(task_id="t-c", workflow_id="w1", step="c", dependencies=(("a", "t-a"), ("b", "t-b"))),
        )
        assert await q.submit_workflow(NewWorkflow("w1", steps, "etl", "fail", "key-1"), NOW) == ("w1", True)
        assert await q.submit_workflow(NewWorkflow("w2", steps, "etl", "fail", "key-1"), NOW) == ("w1", False)
        record = await q.get_workflow("w1")
        assert record is not None
        assert record.status == "pending"
        assert record.steps is not None
        assert [(s.step, s.status, s.depends_on) for s in record.steps] == [
            ("a", TaskStatus.PENDING, []),
            ("b", TaskStatus.WAITING, ["a"]),
            ("c", TaskStatus.WAITING, ["a", "b"]),
        ]
        await complete(q, "t-a", "A")
        await complete(q, "t-b", "B")
        [claimed] = await q.claim("echo", 10, NOW)
        assert claimed.dependencies_json is not None
        assert json.loads(claimed.dependencies_json) == {
            "a": {"task_id": "t-a", "task_type": "echo", "result": "A"},
            "b": {"task_id": "t-b", "task_type": "echo", "result": "B"},
        }
        assert (await q.get_workflow("w1")).status == "running"  # type: ignore[union-attr]
        await q.record([Transition("t-c", TaskStatus.COMPLETED, result_json="3")], [], NOW + 5)
        done = await q.get_workflow("w1")
        assert done is not None
        assert done.status == "completed"
        assert done.to_api()["finished_at"] is not None
        page = await q.list_workflows(10, None)
        assert [w.id for w in page.workflows] == ["w1"]
        assert page.workflows[0].counts == {"completed": 3}

    run(make_queue("fifo"), scenario)


def test_a_workflow_with_an_unknown_dependency_leaves_nothing(make_queue: QueueFactory) -> None:
    async def scenario(q: TaskQueue) -> None:
        steps = (
            new(task_id="t-a", workflow_id="w1", step="a"),
            new(task_id="t-b", workflow_id="w1", step="b", dependencies=(("x", "missing"),)),
        )
        with pytest.raises(UnknownDependencies):
            await q.submit_workflow(NewWorkflow("w1", steps), NOW)
        assert await q.get_workflow("w1") is None
        assert (await q.list(status=None, task_type=None, limit=10, cursor=None)).tasks == []

    run(make_queue("fifo"), scenario)


def test_retention_never_prunes_a_waiting_task_and_pruning_a_dependency_drops_only_its_edges(
    make_queue: QueueFactory,
) -> None:
    async def scenario(q: TaskQueue) -> None:
        [(a, _), (b, _)] = await q.submit([new(), new()], NOW)
        [(c, _)] = await q.submit([after(a, b)], NOW)
        await complete(q, a, "A")
        everything = dict.fromkeys((TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED), NOW + 10)
        assert await q.prune(everything, 100) == {TaskStatus.COMPLETED: 1}
        assert await status(q, c) is TaskStatus.WAITING
        await complete(q, b, "B")  # the pruned dependency had completed: it counts as met
        [claimed] = await q.claim("echo", 10, NOW)
        assert claimed.dependencies_json is not None
        assert json.loads(claimed.dependencies_json)[a]["result"] is None  # pruned: no result left
        assert json.loads(claimed.dependencies_json)[b]["result"] == "B"

    run(make_queue("fifo"), scenario)


def test_a_released_dependent_never_starts_before_its_dependency_finished(make_queue: QueueFactory) -> None:
    # A claim's time is read before its statement runs: a dependency's completion committed in
    # between releases the dependent with a later time, and the dependent must not appear to
    # have started before its dependency finished.
    async def scenario(q: TaskQueue) -> None:
        [(a, _)] = await q.submit([new()], NOW)
        [(b, _)] = await q.submit([after(a)], NOW)
        await complete(q, a, "done", now=NOW + 10)
        [claimed] = await q.claim("echo", 10, NOW + 5)  # the clock read before the release
        assert claimed.id == b
        first, second = await q.get(a), await q.get(b)
        assert first is not None and second is not None and first.finished_at == NOW + 10
        assert second.started_at is not None and second.started_at >= first.finished_at

    run(make_queue("fifo"), scenario)
