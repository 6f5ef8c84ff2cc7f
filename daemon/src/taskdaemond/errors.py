"""Errors of the daemon: one base, each with the data that explains it."""

from __future__ import annotations


class DaemonError(Exception):
    """Base of every error the daemon raises on purpose."""


class ConfigError(DaemonError):
    """Raised when handlers.toml or an environment variable is invalid.

    ``source`` is the file (or variable) at fault, ``key`` the dotted key in it.
    """

    exit_code = 2

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class UnknownTaskType(DaemonError):
    """Raised when a task is submitted for a type no handler is configured for."""

    def __init__(self, task_type: str, known: list[str]) -> None:
        self.task_type = task_type
        self.known = known
        super().__init__(f"unknown task type {task_type!r}; known types: {', '.join(known) or '(none)'}")


class TaskNotFound(DaemonError):
    """Raised when a task id is not in the queue."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id} not found")


class WorkflowNotFound(DaemonError):
    """Raised when a workflow id is not in the queue."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id} not found")


class InvalidTaskState(DaemonError):
    """Raised when an action does not apply to a task in its current status."""


class NotRedrivable(InvalidTaskState):
    """Raised when a task asked to be redriven is neither failed nor interrupted."""

    def __init__(self, task_id: str, status: str) -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(f"task {task_id} is {status}; only failed or interrupted tasks can be redriven")


class NotCancelled(InvalidTaskState):
    """Raised when a task asked to be cancelled ended otherwise: it was already final, or its
    handler answered before the cancel could stop it. ``status`` is the status it has."""

    def __init__(self, task_id: str, status: str, message: str | None = None) -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(message or f"task {task_id} was not cancelled: it is {status}")
