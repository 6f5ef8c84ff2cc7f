"""Dependencies between tasks, the parts every queue shares: the policies, the error a
dependent gets when a dependency fails for good, the task message's ``dependencies`` object,
and the checks of a workflow's graph (unknown steps, duplicates, cycles) with its order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from taskdaemond.errors import DaemonError

#: What a dependency that fails for good (failed, cancelled, interrupted) does to its dependents,
#: transitively: ``fail`` them (status failed, redrivable) or ``cancel`` them.
ON_FAILURE_POLICIES = ("fail", "cancel")

#: The error_type of the error a dependent gets when a dependency fails for good.
DEPENDENCY_FAILED = "DependencyFailed"

#: How much of a dependency's own error a dependent's error quotes (they nest along a chain).
QUOTED_ERROR_CHARS = 500


class UnknownDependencies(DaemonError):
    """Raised when a submit names dependencies that are not tasks in the queue."""

    def __init__(self, task_ids: Sequence[str]) -> None:
        self.task_ids = list(task_ids)
        super().__init__(f"depends_on: no such task: {', '.join(self.task_ids)}")


class InvalidWorkflow(DaemonError):
    """Raised when a workflow's graph is not one: no steps, a duplicate name, a dependency on
    a step that is not there, or a cycle (named, step by step)."""


def failure_message(key: str, task_id: str, status: str, error: str | None) -> str:
    """What a dependent's last_error says when dependency ``key`` ended ``status`` for good."""
    named = f"dependency {key!r}" if key != task_id else "dependency"
    message = f"{named} (task {task_id}) {status}"
    if error:
        quoted = error if len(error) <= QUOTED_ERROR_CHARS else error[:QUOTED_ERROR_CHARS] + "..."
        message += f": {quoted}"
    return message


def failure_error(message: str, attempt: int, now: float) -> dict[str, Any]:
    """The entry a dependent's ``errors`` list gets, in the shape of an attempt's error."""
    return {
        "attempt": attempt,
        "error": message,
        "error_type": DEPENDENCY_FAILED,
        "retryable": False,
        "traceback": None,
        "crashed": False,
        "at": now,
    }


def message_json(entries: Iterable[tuple[str, str, str, str | None]]) -> str:
    """The task message's ``dependencies`` object from (key, task id, task type, result JSON or
    None); the results are spliced in as stored, not decoded and encoded again."""
    parts = [
        f'{json.dumps(key)}:{{"task_id":{json.dumps(task_id)},"task_type":{json.dumps(task_type)},'
        f'"result":{result if result is not None else "null"}}}'
        for key, task_id, task_type, result in entries
    ]
    return "{" + ",".join(parts) + "}"


def order_steps(graph: Mapping[str, Sequence[str]]) -> list[str]:  # noqa: C901 - checks, then one search
    """The steps of ``graph`` (step -> the steps it depends on) in an order where each comes after
    its dependencies; raises InvalidWorkflow for an empty graph, an unknown step or a cycle."""
    if not graph:
        raise InvalidWorkflow("steps: a workflow needs at least one step")
    for step, needs in graph.items():
        unknown = [n for n in needs if n not in graph]
        if unknown:
            raise InvalidWorkflow(
                f"steps.{step}.depends_on: no such step: {', '.join(unknown)}; steps: {', '.join(graph)}"
            )
        if len(set(needs)) != len(needs):
            raise InvalidWorkflow(f"steps.{step}.depends_on: a step is named twice")
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if state.get(root):
            continue
        # Iterative depth-first search: a 100,000-step chain must not exhaust the stack.
        path: list[str] = [root]
        pending: list[list[str]] = [list(graph[root])]
        state[root] = 1
        while path:
            if pending[-1]:
                nxt = pending[-1].pop()
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    raise InvalidWorkflow(
                        f"steps: a cycle (each step depends on the next): {' -> '.join(cycle)}"
                    )
                if not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    pending.append(list(graph[nxt]))
            else:
                done = path.pop()
                pending.pop()
                state[done] = 2
                order.append(done)
    return order
