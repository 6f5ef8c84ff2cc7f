"""Request bodies of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)

from taskdaemond import defaults


def has_non_finite(value: Any) -> bool:
    """True when ``value`` holds a NaN or an infinite number anywhere. Iterative, like
    ``non_finite_at``, but builds no paths: it runs on every submitted task's data, and the
    paths (a string per node) were most of the batch intake's validation time."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def non_finite_at(value: Any) -> str | None:
    """The path of the first NaN or infinite number in ``value`` ("" for value itself), or None.

    Iterative, so a deep document cannot exhaust the stack."""
    if not has_non_finite(value):
        return None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return path
        if isinstance(node, dict):
            stack.extend((f"{path}.{key}", item) for key, item in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(node))
    return None


TagKey = Annotated[
    str, StringConstraints(min_length=1, max_length=defaults.MAX_TAG_KEY_LENGTH, pattern=r"^[^:\s]+$")
]
TagValue = Annotated[str, StringConstraints(max_length=defaults.MAX_TAG_VALUE_LENGTH)]


OnFailure = Literal["fail", "cancel"]

StepName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TaskOptions(BaseModel):
    """What a task submitted alone and a workflow's step share."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data: dict[str, Any] = Field(default_factory=dict, description="The task's input, a JSON object.")
    priority: StrictInt | None = Field(
        None,
        ge=defaults.MIN_PRIORITY,
        le=defaults.MAX_PRIORITY,
        description="0-100, higher first when the daemon selects by priority; default 50.",
    )
    delay: StrictFloat | None = Field(
        None,
        ge=0,
        le=defaults.MAX_DELAY,
        allow_inf_nan=False,
        description=f"Seconds to wait before the task may run: 0 to {defaults.MAX_DELAY:.0f} (one year).",
    )
    max_retries: StrictInt | None = Field(
        None,
        ge=0,
        le=defaults.MAX_TASK_RETRIES,
        description=f"Retries after retryable failures, 0-{defaults.MAX_TASK_RETRIES}; "
        "default: the handler's.",
    )
    tags: dict[TagKey, TagValue] | None = Field(
        None,
        max_length=defaults.MAX_TAGS,
        description=(
            f"Labels, string to string: at most {defaults.MAX_TAGS}, keys of 1-{defaults.MAX_TAG_KEY_LENGTH} "
            f"characters without ':' or spaces, values of at most {defaults.MAX_TAG_VALUE_LENGTH}. Stored, "
            "returned, filterable (?tag=key:value) and given to the handler in the task message."
        ),
    )

    @field_validator("data")
    @classmethod
    def _finite(cls, data: dict[str, Any]) -> dict[str, Any]:
        where = non_finite_at(data)
        if where is not None:
            raise ValueError(f"data{where} is not a finite number (NaN and Infinity are not JSON)")
        return data


class SubmitRequest(TaskOptions):
    """One task to enqueue (POST /queue). Unknown fields are refused, not dropped."""

    type: str = Field(min_length=1, description="Task type: a [handlers.<type>] table.")
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="A second submit with this key returns the first task's id while that task is not "
        "failed.",
    )
    depends_on: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        None,
        max_length=defaults.MAX_DEPENDENCIES,
        description="Ids of tasks this one waits for: it runs once every one has completed (status "
        "waiting until then) and gets their results in the task message's dependencies. Unknown ids "
        "are refused.",
    )
    on_dependency_failure: OnFailure | None = Field(
        None,
        description="What a dependency that fails for good (failed, cancelled, interrupted) does to this "
        f"task: fail it or cancel it; default {defaults.DEFAULT_ON_DEPENDENCY_FAILURE}.",
    )


class WorkflowStepRequest(TaskOptions):
    """One step of a workflow: a task, named, with the steps it depends on."""

    name: StepName = Field(description="The step's name, unique in the workflow.")
    type: str = Field(
        min_length=1,
        validation_alias=AliasChoices("type", "task_type"),
        description="Task type: a [handlers.<type>] table (also accepted as task_type).",
    )
    depends_on: list[StepName] = Field(
        default_factory=list,
        max_length=defaults.MAX_DEPENDENCIES,
        description="Names of the steps this one waits for; their results reach it in the task "
        "message's dependencies, keyed by step name.",
    )


class WorkflowRequest(BaseModel):
    """A graph of steps submitted in one transaction (POST /workflows)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="A label for people.")
    steps: list[WorkflowStepRequest] = Field(
        max_length=defaults.MAX_WORKFLOW_STEPS, description="The steps; at least one."
    )
    on_failure: OnFailure = Field(
        defaults.DEFAULT_ON_DEPENDENCY_FAILURE,  # type: ignore[arg-type]
        description="What a step that fails for good does to the steps that depend on it, "
        "transitively: fail them or cancel them.",
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="A second submit with this key returns the first workflow instead of a new one.",
    )


class BatchRequest(BaseModel):
    """Many tasks enqueued in one transaction (POST /queue/batch)."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[SubmitRequest] = Field(min_length=1, max_length=100_000)
