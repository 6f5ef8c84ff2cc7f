"""One task through one handler instance, no queue and no server: `taskdaemond call`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from taskdaemond.config import HandlerConfig
from taskdaemond.runtime import HandlerInstance, launch_spec


async def call_once(
    handler: HandlerConfig,
    data: dict[str, Any],
    *,
    attempt: int = 0,
    timeout: float,
    task_id: str = "call-0",
    echo: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Start an instance, run one task, stop it; the events and the result."""
    instance = HandlerInstance(launch_spec(handler, 0, "call"), handler.task_type)
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        events.append(event)
        if echo is not None:
            echo(event)

    await instance.start()
    try:
        outcome = await instance.run(
            task_id, json.dumps(data, separators=(",", ":")), attempt, timeout, on_event
        )
    finally:
        await instance.stop()
    return events, outcome.as_result()
