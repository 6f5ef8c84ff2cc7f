"""Request bodies of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictFloat, StrictInt

from taskdaemond import defaults


class SubmitRequest(BaseModel):
    """One task to enqueue (POST /queue)."""

    type: str = Field(min_length=1, description="Task type: a [handlers.<type>] table.")
    data: dict[str, Any] = Field(default_factory=dict, description="The task's input, a JSON object.")
    priority: StrictInt | None = Field(
        None,
        ge=defaults.MIN_PRIORITY,
        le=defaults.MAX_PRIORITY,
        description="0-100, higher first when the daemon selects by priority; default 50.",
    )
    delay: StrictFloat | StrictInt | None = Field(None, ge=0, description="Seconds to wait before the task may run.")
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="A second submit with this key returns the first task's id while that task is not failed.",
    )
    max_retries: StrictInt | None = Field(
        None, ge=0, le=1000, description="Retries after retryable failures; default: the handler's."
    )


class BatchRequest(BaseModel):
    """Many tasks enqueued in one transaction (POST /queue/batch)."""

    tasks: list[SubmitRequest] = Field(min_length=1, max_length=100_000)
