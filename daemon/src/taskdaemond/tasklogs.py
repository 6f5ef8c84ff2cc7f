"""A task's logs as text: a ``YYYY-MM-DDTHH:MM:SS message`` line per log event, a
``--- Retry N ---`` line before the first log of each retry (N counts retries from 1), as
another task manager shows them (``GET /api/tasks/{id}/logs?format=text``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def log_lines(logs: Iterable[dict[str, Any]]) -> list[str]:
    """The log events of ``logs`` (progress events are left out), oldest first, with a separator
    whenever the attempt changes. An event stored without its attempt counts as the first run."""
    lines: list[str] = []
    attempt = 0
    for entry in logs:
        if entry.get("event") != "log":
            continue
        entry_attempt = entry.get("attempt")
        if isinstance(entry_attempt, int) and entry_attempt > attempt:
            attempt = entry_attempt
            lines.append(f"--- Retry {attempt} ---")
        at = datetime.fromtimestamp(float(entry.get("at") or 0), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"{at} {entry.get('message', '')}")
    return lines
