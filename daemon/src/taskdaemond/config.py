"""handlers.toml and the DAEMON_* environment: read, validated against the schema, typed.

The file is validated against protocol/schema/handlers-config.schema.json after the
environment has been applied, so a bad variable is reported like a bad key, naming the
variable.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import ValidationError

from taskdaemond import defaults
from taskdaemond.backoff import BackoffPolicy
from taskdaemond.errors import ConfigError
from taskdaemond.schedule_config import ScheduleConfig, parse_schedules
from taskdaemond.schemas import load_schema, validator

CONFIG_SCHEMA = "handlers-config.schema.json"

#: Environment variable -> ([daemon] key, type). TaskDaemon's names, then ours.
ENV_OVERRIDES: dict[str, tuple[str, type]] = {
    "DAEMON_HOST": ("host", str),
    "DAEMON_PORT": ("port", int),
    "DAEMON_DB_PATH": ("db_path", str),
    "DAEMON_QUEUE_TYPE": ("queue", str),
    "DAEMON_TASK_SELECTION": ("task_selection", str),
    "DAEMON_TASK_TIMEOUT": ("task_timeout", float),
    "DAEMON_MAX_RETRIES": ("max_retries", int),
    "DAEMON_WORKERS": ("workers", int),
    "DAEMON_BATCH_SIZE": ("batch_size", int),
    "DAEMON_LOG_LEVEL": ("log_level", str),
    "DAEMON_TOKEN": ("token", str),
    "DAEMON_ALLOWED_HOSTS": ("allowed_hosts", str),
    "DAEMON_MAX_CONNECTIONS": ("max_connections", int),
    "DAEMON_MAX_BODY_BYTES_IN_FLIGHT": ("max_body_bytes_in_flight", int),
    "DAEMON_MAX_BODY_SIZE": ("max_body_size", int),
    "DAEMON_SHUTDOWN_GRACE": ("shutdown_grace", float),
    "DAEMON_DATABASE_URL": ("database_url", str),
    "DAEMON_LEASE_SECONDS": ("lease_seconds", float),
    "DAEMON_COMPLETED_TTL": ("completed_ttl", str),
    "DAEMON_FAILED_TTL": ("failed_ttl", str),
    "DAEMON_MAX_FINISHED_TASKS": ("max_finished_tasks", int),
    "DAEMON_PRUNE_INTERVAL": ("prune_interval", float),
}
#: Where the configuration file is looked for when no --config is given.
CONFIG_ENV = "HANDLER_CONFIG"
DEFAULT_CONFIG_FILE = "handlers.toml"

#: Queue backends this version runs. "hybrid" is TaskDaemon's memory-plus-disk queue: the
#: SQLite queue is that already (hot rows stay in SQLite's page cache), so it maps to it.
AVAILABLE_QUEUES = {"sqlite": "sqlite", "hybrid": "sqlite", "memory": "memory", "postgres": "postgres"}


@dataclass(frozen=True)
class HandlerConfig:
    """One [handlers.<task_type>] table, with every default filled in."""

    task_type: str
    command: tuple[str, ...] | None = None
    cwd: Path | None = None
    image: str | None = None
    engine: str | None = None
    network: str | None = None
    instances: int = defaults.DEFAULT_INSTANCES
    timeout: float = defaults.DEFAULT_TASK_TIMEOUT
    handler_selection: str = defaults.DEFAULT_HANDLER_SELECTION
    memory_limit: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    retries: int = defaults.DEFAULT_MAX_RETRIES
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    requeue_on_interrupt: bool = defaults.DEFAULT_REQUEUE_ON_INTERRUPT
    max_tasks_per_instance: int | None = None
    stderr_tail_bytes: int = defaults.DEFAULT_STDERR_TAIL_BYTES
    prefetch: int = defaults.DEFAULT_PREFETCH


@dataclass(frozen=True)
class DaemonSettings:
    """The [daemon] table after the environment has been applied."""

    host: str = defaults.DEFAULT_HOST
    port: int = defaults.DEFAULT_PORT
    db_path: Path = Path(defaults.DEFAULT_DB_PATH)
    queue: str = defaults.DEFAULT_QUEUE
    task_selection: str = defaults.DEFAULT_TASK_SELECTION
    task_timeout: float = defaults.DEFAULT_TASK_TIMEOUT
    max_retries: int = defaults.DEFAULT_MAX_RETRIES
    workers: int | None = None
    batch_size: int = defaults.DEFAULT_BATCH_SIZE
    log_level: str = defaults.DEFAULT_LOG_LEVEL
    token: str | None = None
    allowed_hosts: tuple[str, ...] = defaults.DEFAULT_ALLOWED_HOSTS
    max_connections: int = defaults.DEFAULT_MAX_CONNECTIONS
    max_body_bytes_in_flight: int = defaults.DEFAULT_MAX_BODY_BYTES_IN_FLIGHT
    max_body_size: int = defaults.DEFAULT_MAX_BODY_SIZE
    shutdown_grace: float = defaults.DEFAULT_SHUTDOWN_GRACE
    database_url: str | None = None
    lease_seconds: float = defaults.DEFAULT_LEASE_SECONDS
    #: Retention, in seconds after a task finished (0: for ever), and the cap on finished tasks.
    completed_ttl: float = defaults.DEFAULT_COMPLETED_TTL
    failed_ttl: float = defaults.DEFAULT_FAILED_TTL
    max_finished_tasks: int | None = None
    prune_interval: float = defaults.DEFAULT_PRUNE_INTERVAL


@dataclass(frozen=True)
class Config:
    """The whole configuration: where it came from, the daemon and each handler."""

    path: Path | None
    daemon: DaemonSettings
    handlers: Mapping[str, HandlerConfig]
    #: Periodic tasks, by name ([schedules.<name>]).
    schedules: Mapping[str, ScheduleConfig] = field(default_factory=dict)


def find_config_path(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """The file to read: --config, else $HANDLER_CONFIG, else ./handlers.toml."""
    if explicit is not None:
        return Path(explicit)
    return Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, override with ``env`` (default: os.environ), validate and type the configuration.

    Raises ConfigError naming the file (or variable), the key and what is wrong.
    """
    env = os.environ if env is None else env
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, None, "is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"not valid TOML: {exc}") from None
    return parse_config(raw, source=source, base_dir=path.parent, env=env, path=path)


def parse_config(
    raw: dict[str, Any],
    *,
    source: str,
    base_dir: Path,
    env: Mapping[str, str],
    path: Path | None = None,
) -> Config:
    """Validate an already parsed TOML document (see load_config)."""
    env_keys = _apply_env(raw, env)
    _validate(raw, source, env_keys)
    daemon = _daemon_settings(raw.get("daemon", {}), base_dir, env_keys, source)
    handlers = {
        task_type: _handler_config(task_type, table, daemon, base_dir)
        for task_type, table in raw["handlers"].items()
    }
    schedules = parse_schedules(raw.get("schedules", {}), handlers, source, parse_duration)
    return Config(path=path, daemon=daemon, handlers=handlers, schedules=schedules)


#: What to do when no container engine is installed (Debian's package; this repository's script).
INSTALL_ENGINE_HINT = (
    "install podman (Debian: `apt-get install podman runc`; in this repository: `make setup-podman`) "
    "or docker, or run the handler as a local process with `command`"
)


def command_warning(handler: HandlerConfig) -> str | None:
    """A warning when ``command`` looks like a shell line: its first element holds whitespace
    (``["python3 -u x; touch f"]``). argv is never split and never goes through a shell, so it
    would run a program named exactly that and crash-loop. None when the element names a file
    that exists (a program path with a space in it)."""
    if not handler.command:
        return None
    first = handler.command[0]
    if not any(character.isspace() for character in first):
        return None
    base = handler.cwd or Path()
    if shutil.which(first) is not None or (base / first).is_file():
        return None
    return (
        f"handlers.{handler.task_type}.command: the element {first!r} contains whitespace, but argv is "
        "never split and never goes through a shell: it names a program called exactly that. Give one "
        'element per argument (["python3", "-u", "handler.py"]), or ["sh", "-c", "..."] for shell syntax'
    )


def check_runnable(config: Config) -> None:
    """Raise ConfigError for what the schema cannot know: an image handler whose container
    engine is not installed. Separate from loading, so `check` can validate on any machine."""
    for handler in config.handlers.values():
        if handler.image is None:
            continue
        if handler.engine is None:
            raise ConfigError(
                str(config.path or "configuration"),
                f"handlers.{handler.task_type}.engine",
                f"neither podman nor docker is installed (not on PATH); {INSTALL_ENGINE_HINT}",
            )
        if shutil.which(handler.engine) is None:
            others = [
                engine for engine in ("podman", "docker") if engine != handler.engine and shutil.which(engine)
            ]
            instead = f'set engine = "{others[0]}" (installed)' if others else INSTALL_ENGINE_HINT
            raise ConfigError(
                str(config.path or "configuration"),
                f"handlers.{handler.task_type}.engine",
                f"the container engine {handler.engine!r} is not installed (not on PATH); "
                f"install it, or {instead}",
            )


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Copy DAEMON_* variables into raw["daemon"]; return {key: variable} for those applied."""
    applied: dict[str, str] = {}
    for variable, (key, kind) in ENV_OVERRIDES.items():
        value = env.get(variable)
        if value is None or value == "":
            continue
        table = raw.setdefault("daemon", {})
        if not isinstance(table, dict):
            return applied  # the schema reports the bad [daemon] table itself
        try:
            table[key] = kind(value)
        except ValueError:
            kind_name = "an integer" if kind is int else "a number"
            raise ConfigError(variable, None, f"must be {kind_name}, got {value!r}") from None
        applied[key] = variable
    return applied


def _validate(raw: dict[str, Any], source: str, env_keys: Mapping[str, str]) -> None:
    errors = list(validator(CONFIG_SCHEMA).iter_errors(raw))
    if not errors:
        return
    # Unknown keys first (the likeliest cause, and the one "did you mean" helps with),
    # then the deepest error: it points at the key itself rather than its table.
    errors.sort(key=lambda e: (e.validator != "additionalProperties", -len(e.absolute_path)))
    error = errors[0]
    key = ".".join(str(part) for part in error.absolute_path) or None
    problem = _describe_secret(error) if key in SECRET_KEYS else _describe(error)
    problem = _without_secrets(problem, raw.get("daemon"))
    if key is not None and key.startswith("daemon.") and key[len("daemon.") :] in env_keys:
        source = env_keys[key[len("daemon.") :]]
    raise ConfigError(source, key, problem)


#: Keys whose values no error message shows, whatever is wrong with them.
SECRET_KEYS = ("daemon.token", "daemon.database_url")
#: What a message shows instead of a secret.
HIDDEN = "<hidden>"


def _redact_url(url: str) -> str:
    from taskdaemond.queue.postgres import redact  # noqa: PLC0415 - only on this error path

    return redact(url)


def _describe_secret(error: ValidationError) -> str:
    """A sentence for a schema error about a secret, which never shows its value (a database URL
    shows without its password)."""
    instance: Any = error.instance
    expected: Any = error.validator_value
    shown = (
        _redact_url(instance)
        if error.absolute_path[-1] == "database_url" and isinstance(instance, str)
        else None
    )
    if error.validator == "type":
        kind = {bool: "a boolean", int: "an integer", float: "a number", list: "an array", dict: "a table"}
        got = kind.get(type(instance), "something else")
        return f"must be a {expected}, got {got} (its value is not shown: it is a secret)"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "pattern" and shown is not None:
        return f"{shown} does not match {expected!r}"
    return f"is not valid ({error.validator}; its value is not shown: it is a secret)"


def _without_secrets(problem: str, daemon: Any) -> str:
    """``problem`` with any secret value of the [daemon] table in it hidden (a message about
    the whole table may quote it)."""
    if not isinstance(daemon, dict):
        return problem
    for name in ("token", "database_url"):
        value = daemon.get(name)
        if value is None or isinstance(value, bool):
            continue
        shown = _redact_url(value) if name == "database_url" and isinstance(value, str) else HIDDEN
        for text in sorted({repr(value), str(value)}, key=len, reverse=True):
            if len(text) >= 4:  # a shorter text would hide digits and words that are no secret
                problem = problem.replace(text, shown)
    return problem


def _describe(error: ValidationError) -> str:
    """A sentence for one schema error, with "did you mean" for unknown keys."""
    instance: Any = error.instance
    schema: Any = error.schema
    expected: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        unknown = sorted(set(instance) - set(known))
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
            parts.append(f"unknown key {name!r}{hint}")
        return "; ".join(parts)
    if error.validator == "oneOf" and (choice := _describe_choice(error)) is not None:
        return choice
    if error.validator == "dependentSchemas" and isinstance(instance, dict):
        for name, needs in (
            ("cwd", "command"),
            ("engine", "image"),
            ("network", "image"),
            ("memory_limit", "image"),
        ):
            if name in instance and needs not in instance:
                return f"{name!r} applies only to handlers with {needs!r}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in expected)
        close = difflib.get_close_matches(str(instance), [str(v) for v in expected], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{instance!r} is not one of {allowed}{hint}"
    if (error.validator == "minProperties" and list(error.absolute_path) == ["handlers"]) or (
        error.validator == "required" and isinstance(instance, dict) and "handlers" not in instance
    ):
        return "no handlers: add a [handlers.<task_type>] table"
    return error.message


def _describe_choice(error: ValidationError) -> str | None:  # noqa: PLR0911 - a sentence per choice
    """A sentence for a ``oneOf`` error: a handler's image or command, a schedule's cron or
    every, an interval's form; None for another."""
    instance: Any = error.instance
    schema: Any = error.schema
    if list(error.absolute_path)[-1:] == ["every"]:
        return (
            f'{instance!r} is not an interval: seconds (more than 0), or a number and s, m, h, d or w ("5m")'
        )
    if not isinstance(instance, dict):
        return None
    if "command" in schema.get("properties", {}):
        if "image" in instance and "command" in instance:
            return "has both 'image' and 'command'; give exactly one"
        return "needs 'image' (a container) or 'command' (a local process)"
    if "cron" in schema.get("properties", {}):
        if "cron" in instance and "every" in instance:
            return "has both 'cron' and 'every'; give exactly one"
        return "needs 'cron' (a cron expression) or 'every' (an interval such as \"5m\")"
    return None


def _daemon_settings(
    table: Mapping[str, Any], base_dir: Path, env_keys: Mapping[str, str], source: str
) -> DaemonSettings:
    queue = table.get("queue", defaults.DEFAULT_QUEUE)
    if queue not in AVAILABLE_QUEUES:
        raise ConfigError(
            env_keys.get("queue", source),
            "daemon.queue",
            f"queue {queue!r} is not available in this version; use one of "
            + ", ".join(repr(q) for q in AVAILABLE_QUEUES),
        )
    db_path = Path(table.get("db_path", defaults.DEFAULT_DB_PATH))
    if not db_path.is_absolute() and "db_path" not in env_keys:
        db_path = base_dir / db_path  # file paths are relative to the file; env paths to the cwd
    return DaemonSettings(
        host=table.get("host", defaults.DEFAULT_HOST),
        port=table.get("port", defaults.DEFAULT_PORT),
        db_path=db_path,
        queue=AVAILABLE_QUEUES[queue],
        task_selection=table.get("task_selection", defaults.DEFAULT_TASK_SELECTION),
        task_timeout=float(table.get("task_timeout", defaults.DEFAULT_TASK_TIMEOUT)),
        max_retries=table.get("max_retries", defaults.DEFAULT_MAX_RETRIES),
        workers=table.get("workers"),
        batch_size=table.get("batch_size", defaults.DEFAULT_BATCH_SIZE),
        log_level=str(table.get("log_level", defaults.DEFAULT_LOG_LEVEL)).lower(),
        token=table.get("token"),
        allowed_hosts=_host_names(table.get("allowed_hosts", defaults.DEFAULT_ALLOWED_HOSTS)),
        max_connections=table.get("max_connections", defaults.DEFAULT_MAX_CONNECTIONS),
        max_body_bytes_in_flight=table.get(
            "max_body_bytes_in_flight", defaults.DEFAULT_MAX_BODY_BYTES_IN_FLIGHT
        ),
        max_body_size=table.get("max_body_size", defaults.DEFAULT_MAX_BODY_SIZE),
        shutdown_grace=float(table.get("shutdown_grace", defaults.DEFAULT_SHUTDOWN_GRACE)),
        database_url=_database_url(table, queue, env_keys, source),
        lease_seconds=float(table.get("lease_seconds", defaults.DEFAULT_LEASE_SECONDS)),
        completed_ttl=parse_duration(table.get("completed_ttl", defaults.DEFAULT_COMPLETED_TTL)),
        failed_ttl=parse_duration(table.get("failed_ttl", defaults.DEFAULT_FAILED_TTL)),
        max_finished_tasks=table.get("max_finished_tasks"),
        prune_interval=float(table.get("prune_interval", defaults.DEFAULT_PRUNE_INTERVAL)),
    )


#: Seconds in each unit a duration may be written in ("90s", "15m", "36h", "7d", "2w").
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: float | str) -> float:
    """Seconds in a duration: a number of seconds, or a string like "36h" (the schema's
    ``duration``). Raises ValueError naming what is allowed."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = text[-1:] if text[-1:] in DURATION_UNITS else "s"
        number = text[:-1] if text[-1:] in DURATION_UNITS else text
        try:
            seconds = float(number.strip()) * DURATION_UNITS[unit]
        except ValueError:
            raise ValueError(
                f"{value!r} is not a duration: seconds, or a number and s, m, h, d or w"
            ) from None
    if not seconds >= 0:  # negative, or NaN
        raise ValueError(f"{value!r} is not a duration: it must be 0 (for ever) or more")
    return seconds


def _host_names(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """allowed_hosts as a tuple of lower-case names: a list, or comma-separated (the variable)."""
    names = value.split(",") if isinstance(value, str) else value
    return tuple(name.strip().lower() for name in names if name.strip())


def _database_url(
    table: Mapping[str, Any], queue: str, env_keys: Mapping[str, str], source: str
) -> str | None:
    """database_url, required by (and only by) the postgres queue."""
    url = table.get("database_url")
    if queue == "postgres" and not url:
        raise ConfigError(
            env_keys.get("queue", source),
            "daemon.database_url",
            'queue "postgres" needs database_url (or DAEMON_DATABASE_URL), e.g. postgresql://user:password@host/dbname',
        )
    return str(url) if url else None


def _backoff(value: Any) -> BackoffPolicy:
    if value is None:
        return BackoffPolicy()
    if isinstance(value, int | float):
        return BackoffPolicy(initial=float(value))
    return BackoffPolicy(
        initial=float(value.get("initial", defaults.DEFAULT_BACKOFF_INITIAL)),
        multiplier=float(value.get("multiplier", defaults.DEFAULT_BACKOFF_MULTIPLIER)),
        maximum=float(value.get("max", defaults.DEFAULT_BACKOFF_MAX)),
        jitter=float(value.get("jitter", defaults.DEFAULT_BACKOFF_JITTER)),
    )


def default_engine() -> str | None:
    """podman when installed, else docker when installed, else None."""
    for engine in ("podman", "docker"):
        if shutil.which(engine):
            return engine
    return None


def _handler_config(
    task_type: str, table: Mapping[str, Any], daemon: DaemonSettings, base_dir: Path
) -> HandlerConfig:
    command = table.get("command")
    cwd = table.get("cwd")
    image = table.get("image")
    return HandlerConfig(
        task_type=task_type,
        command=tuple(command) if command is not None else None,
        cwd=(base_dir / cwd) if cwd is not None else (base_dir if command is not None else None),
        image=image,
        engine=table.get("engine") or (default_engine() if image is not None else None),
        network=table.get("network"),
        instances=table.get("instances", defaults.DEFAULT_INSTANCES),
        timeout=float(table.get("timeout", daemon.task_timeout)),
        handler_selection=table.get("handler_selection", defaults.DEFAULT_HANDLER_SELECTION),
        memory_limit=table.get("memory_limit"),
        env=dict(table.get("env", {})),
        retries=table.get("retries", daemon.max_retries),
        backoff=_backoff(table.get("backoff")),
        requeue_on_interrupt=table.get("requeue_on_interrupt", defaults.DEFAULT_REQUEUE_ON_INTERRUPT),
        max_tasks_per_instance=table.get("max_tasks_per_instance"),
        stderr_tail_bytes=table.get("stderr_tail_bytes", defaults.DEFAULT_STDERR_TAIL_BYTES),
        prefetch=table.get("prefetch", defaults.DEFAULT_PREFETCH),
    )


def schema_properties(definition: str) -> list[str]:
    """Known keys of a schema definition ("handler" or "daemon"), for docs and hints."""
    return list(load_schema(CONFIG_SCHEMA)["$defs"][definition]["properties"])
