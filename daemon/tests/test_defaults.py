"""Every default is named once, in defaults.py: the configuration schema, the README tables and
the CLI's help say the same values."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from taskdaemond import defaults
from taskdaemond.cli import build_parser
from taskdaemond.config import DaemonSettings, HandlerConfig

SCHEMA = (
    Path(__file__).resolve().parents[1] / "src" / "taskdaemond" / "schema" / "handlers-config.schema.json"
)
README = Path(__file__).resolve().parents[1] / "README.md"

#: Each "default" in the configuration schema, by the dotted path of its property, and the
#: constant that must hold the same value.
SCHEMA_DEFAULTS: dict[str, Any] = {
    "handler.instances": defaults.DEFAULT_INSTANCES,
    "handler.timeout": defaults.DEFAULT_TASK_TIMEOUT,
    "handler.handler_selection": defaults.DEFAULT_HANDLER_SELECTION,
    "handler.requeue_on_interrupt": defaults.DEFAULT_REQUEUE_ON_INTERRUPT,
    "handler.stderr_tail_bytes": defaults.DEFAULT_STDERR_TAIL_BYTES,
    "handler.prefetch": defaults.DEFAULT_PREFETCH,
    "backoff.initial": defaults.DEFAULT_BACKOFF_INITIAL,
    "backoff.multiplier": defaults.DEFAULT_BACKOFF_MULTIPLIER,
    "backoff.max": defaults.DEFAULT_BACKOFF_MAX,
    "backoff.jitter": defaults.DEFAULT_BACKOFF_JITTER,
    "daemon.host": defaults.DEFAULT_HOST,
    "daemon.port": defaults.DEFAULT_PORT,
    "daemon.db_path": defaults.DEFAULT_DB_PATH,
    "daemon.queue": defaults.DEFAULT_QUEUE,
    "daemon.lease_seconds": defaults.DEFAULT_LEASE_SECONDS,
    "daemon.task_selection": defaults.DEFAULT_TASK_SELECTION,
    "daemon.task_timeout": defaults.DEFAULT_TASK_TIMEOUT,
    "daemon.max_retries": defaults.DEFAULT_MAX_RETRIES,
    "daemon.batch_size": defaults.DEFAULT_BATCH_SIZE,
    "daemon.log_level": defaults.DEFAULT_LOG_LEVEL,
    "daemon.max_body_size": defaults.DEFAULT_MAX_BODY_SIZE,
    "daemon.max_connections": defaults.DEFAULT_MAX_CONNECTIONS,
    "daemon.max_body_bytes_in_flight": defaults.DEFAULT_MAX_BODY_BYTES_IN_FLIGHT,
    "daemon.shutdown_grace": defaults.DEFAULT_SHUTDOWN_GRACE,
    "daemon.completed_ttl": defaults.DEFAULT_COMPLETED_TTL,
    "daemon.failed_ttl": defaults.DEFAULT_FAILED_TTL,
    "daemon.prune_interval": defaults.DEFAULT_PRUNE_INTERVAL,
    "schedule.data": {},
    "schedule.timezone": defaults.DEFAULT_SCHEDULE_TIMEZONE,
    "schedule.catch_up": defaults.DEFAULT_SCHEDULE_CATCH_UP,
    "schedule.enabled": defaults.DEFAULT_SCHEDULE_ENABLED,
}


def schema_defaults() -> dict[str, Any]:
    """Every property default in the schema's $defs, as ``<definition>.<property>``."""
    found: dict[str, Any] = {}

    def walk(definition: str, node: Any) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if isinstance(prop, dict) and "default" in prop:
                    found[f"{definition}.{name}"] = prop["default"]
            for value in node.values():
                walk(definition, value)
        elif isinstance(node, list):
            for value in node:
                walk(definition, value)

    for definition, node in json.loads(SCHEMA.read_text())["$defs"].items():
        walk(definition, node)
    return found


def test_every_schema_default_is_the_value_in_defaults_py() -> None:
    assert schema_defaults() == SCHEMA_DEFAULTS


def test_the_parsed_configuration_starts_from_defaults_py() -> None:
    daemon, handler = DaemonSettings(), HandlerConfig(task_type="t")
    assert (daemon.port, daemon.batch_size, daemon.shutdown_grace) == (
        defaults.DEFAULT_PORT,
        defaults.DEFAULT_BATCH_SIZE,
        defaults.DEFAULT_SHUTDOWN_GRACE,
    )
    assert (handler.instances, handler.requeue_on_interrupt) == (
        defaults.DEFAULT_INSTANCES,
        defaults.DEFAULT_REQUEUE_ON_INTERRUPT,
    )


def readme_table(heading: str) -> dict[str, list[str]]:
    """The rows of the first table after ``heading`` in the README, by their first cell."""
    text = README.read_text()
    rows: dict[str, list[str]] = {}
    for line in text[text.index(heading) :].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def first_code(cell: str) -> str:
    match = re.search(r"`([^`]+)`", cell)
    assert match, cell
    return match.group(1)


def shown(value: Any) -> str:
    """A default as the README writes it."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_the_readme_daemon_table_shows_the_defaults() -> None:
    rows = readme_table("### `[daemon]` and the environment")
    daemon_keys = [path.removeprefix("daemon.") for path in SCHEMA_DEFAULTS if path.startswith("daemon.")]
    assert len(daemon_keys) == 17  # +2: max_connections, max_body_bytes_in_flight
    for key in daemon_keys:
        assert first_code(rows[key][1]) == shown(SCHEMA_DEFAULTS[f"daemon.{key}"]), key


def test_the_readme_handler_table_shows_the_defaults() -> None:
    rows = readme_table("### `[handlers.<task_type>]`")
    assert rows["instances"][0] == str(defaults.DEFAULT_INSTANCES)
    assert f"({defaults.DEFAULT_TASK_TIMEOUT:g})" in rows["timeout"][0]
    assert f"({defaults.DEFAULT_MAX_RETRIES})" in rows["retries"][0]
    assert first_code(rows["handler_selection"][0]) == defaults.DEFAULT_HANDLER_SELECTION
    assert first_code(rows["requeue_on_interrupt"][0]) == str(defaults.DEFAULT_REQUEUE_ON_INTERRUPT).lower()
    backoff = (
        f"{{initial={defaults.DEFAULT_BACKOFF_INITIAL:g}, multiplier={defaults.DEFAULT_BACKOFF_MULTIPLIER:g}, "
        f"max={defaults.DEFAULT_BACKOFF_MAX:g}, jitter={defaults.DEFAULT_BACKOFF_JITTER:g}}}"
    )
    assert first_code(rows["backoff"][0]) == backoff
    assert rows["prefetch"][0] == str(defaults.DEFAULT_PREFETCH)
    assert f"1 to {defaults.MAX_PREFETCH}" in rows["prefetch"][1]


def test_the_schema_bounds_prefetch_by_max_prefetch() -> None:
    handler = json.loads(SCHEMA.read_text())["$defs"]["handler"]["properties"]["prefetch"]
    assert (handler["minimum"], handler["maximum"]) == (1, defaults.MAX_PREFETCH)


def test_the_cli_help_names_the_defaults() -> None:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands: dict[str, argparse.ArgumentParser] = action.choices

    def help_of(name: str) -> str:
        return " ".join(commands[name].format_help().split())

    assert f"{defaults.DEFAULT_HOST})" in help_of("serve") and f"{defaults.DEFAULT_PORT})" in help_of("serve")
    assert f"default {defaults.DEFAULT_PRIORITY}" in help_of("submit")
    assert f"default {defaults.MAX_LONG_POLL:g})" in help_of("submit")
    assert f"default {defaults.DEFAULT_PAGE_SIZE})" in help_of("tasks")
