"""handlers.toml and the environment: defaults, overrides, and errors that say what is wrong."""

from pathlib import Path

import pytest

from taskdaemond.config import check_runnable, command_warning, find_config_path, load_config
from taskdaemond.defaults import DEFAULT_STDERR_TAIL_BYTES
from taskdaemond.errors import ConfigError

MINIMAL = """
[handlers.echo]
command = ["python", "-u", "handler.py"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "handlers.toml"
    path.write_text(text)
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return caught.value


def test_taskdaemon_defaults_apply_to_a_minimal_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    echo = config.handlers["echo"]
    assert (echo.instances, echo.timeout, echo.handler_selection) == (2, 30.0, "round-robin")
    assert (echo.retries, echo.requeue_on_interrupt, echo.max_tasks_per_instance) == (3, True, None)
    assert echo.cwd == tmp_path  # a command runs beside its configuration file
    daemon = config.daemon
    assert (daemon.host, daemon.port, daemon.queue, daemon.task_selection) == (
        "127.0.0.1",
        8080,
        "sqlite",
        "fifo",
    )
    assert daemon.db_path == tmp_path / "taskdaemon.db"
    assert (daemon.batch_size, daemon.max_body_size, daemon.token) == (64, 64 * 1024 * 1024, None)


def test_every_handler_key_of_the_schema_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[daemon]
max_retries = 7
task_timeout = 12

[handlers.resize]
command = ["python", "handler.py"]
cwd = "sub"
instances = 4
timeout = 5.5
handler_selection = "random"
env = { MODE = "fast" }
retries = 1
backoff = { initial = 0.5, multiplier = 3, max = 9, jitter = 0 }
requeue_on_interrupt = false
max_tasks_per_instance = 100
stderr_tail_bytes = 2048

[handlers.inherit]
command = ["x"]
backoff = 2
""",
    )
    config = load_config(path, {})
    resize = config.handlers["resize"]
    assert resize.cwd == tmp_path / "sub"
    assert (resize.instances, resize.timeout, resize.handler_selection) == (4, 5.5, "random")
    assert resize.env == {"MODE": "fast"}
    assert (resize.retries, resize.requeue_on_interrupt, resize.max_tasks_per_instance) == (1, False, 100)
    assert (
        resize.backoff.initial,
        resize.backoff.multiplier,
        resize.backoff.maximum,
        resize.backoff.jitter,
    ) == (
        0.5,
        3.0,
        9.0,
        0.0,
    )
    assert resize.stderr_tail_bytes == 2048
    inherit = config.handlers["inherit"]
    assert (inherit.retries, inherit.timeout, inherit.backoff.initial) == (7, 12.0, 2.0)
    assert inherit.stderr_tail_bytes == DEFAULT_STDERR_TAIL_BYTES


def test_container_handler_reads_image_engine_memory_and_network(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[handlers.img]
image = "resize:latest"
engine = "docker"
memory_limit = "64m"
network = "none"
""",
    )
    img = load_config(path, {}).handlers["img"]
    assert (img.image, img.engine, img.memory_limit, img.network, img.command) == (
        "resize:latest",
        "docker",
        "64m",
        "none",
        None,
    )


def test_environment_overrides_the_daemon_table(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[daemon]\nport = 9000\nqueue = "sqlite"\n')
    env = {
        "DAEMON_HOST": "0.0.0.0",
        "DAEMON_PORT": "9100",
        "DAEMON_DB_PATH": "/tmp/x.db",
        "DAEMON_QUEUE_TYPE": "memory",
        "DAEMON_TASK_SELECTION": "priority",
        "DAEMON_TASK_TIMEOUT": "4",
        "DAEMON_MAX_RETRIES": "9",
        "DAEMON_WORKERS": "3",
        "DAEMON_BATCH_SIZE": "16",
        "DAEMON_LOG_LEVEL": "DEBUG",
        "DAEMON_TOKEN": "s3cret",
    }
    config = load_config(path, env)
    daemon = config.daemon
    assert (daemon.host, daemon.port, str(daemon.db_path), daemon.queue) == (
        "0.0.0.0",
        9100,
        "/tmp/x.db",
        "memory",
    )
    assert (daemon.task_selection, daemon.task_timeout, daemon.max_retries) == ("priority", 4.0, 9)
    assert (daemon.workers, daemon.batch_size, daemon.log_level, daemon.token) == (3, 16, "debug", "s3cret")
    assert config.handlers["echo"].timeout == 4.0
    assert config.handlers["echo"].retries == 9


def test_hybrid_queue_type_runs_on_sqlite(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL), {"DAEMON_QUEUE_TYPE": "hybrid"}).daemon.queue == "sqlite"


def test_config_path_comes_from_the_option_then_handler_config_then_the_cwd() -> None:
    assert find_config_path("a.toml", {"HANDLER_CONFIG": "b.toml"}) == Path("a.toml")
    assert find_config_path(None, {"HANDLER_CONFIG": "b.toml"}) == Path("b.toml")
    assert find_config_path(None, {}) == Path("handlers.toml")


def test_typo_in_a_handler_key_names_the_file_the_key_and_the_likely_word(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "instnces = 3\n")
    error = error_of(path)
    assert error.source == str(path)
    assert error.key == "handlers.echo"
    assert "unknown key 'instnces'" in str(error)
    assert "did you mean 'instances'?" in str(error)
    assert error.exit_code == 2


def test_typo_in_the_daemon_table_gets_did_you_mean(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL + "[daemon]\nprot = 1\n"))
    assert "did you mean 'port'?" in str(error)


def test_misspelt_selection_value_lists_the_allowed_ones(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL + 'handler_selection = "round-robbin"\n'))
    assert error.key == "handlers.echo.handler_selection"
    assert "did you mean 'round-robin'?" in str(error)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL + 'instances = "two"\n'))
    assert error.key == "handlers.echo.instances"
    assert "'two' is not of type 'integer'" in str(error)


def test_handler_with_both_image_and_command_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL + 'image = "x"\n'))
    assert "both 'image' and 'command'" in str(error)


def test_handler_with_neither_image_nor_command_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "[handlers.echo]\ninstances = 1\n"))
    assert "needs 'image'" in str(error)


def test_file_without_handlers_is_refused(tmp_path: Path) -> None:
    assert "no handlers" in str(error_of(write(tmp_path, "[daemon]\nport = 1\n")))


def test_bad_toml_syntax_is_reported_with_its_line(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "[handlers.echo\n"))
    assert "not valid TOML" in str(error)
    assert "line 1" in str(error)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    assert "file not found" in str(error_of(tmp_path / "nope.toml"))


def test_bad_environment_number_names_the_variable(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL), {"DAEMON_PORT": "eighty"})
    assert error.source == "DAEMON_PORT"
    assert "must be an integer" in str(error)


def test_out_of_range_environment_value_names_the_variable(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL), {"DAEMON_PORT": "70000"})
    assert error.source == "DAEMON_PORT"
    assert error.key == "daemon.port"


def test_postgres_queue_needs_a_database_url(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL), {"DAEMON_QUEUE_TYPE": "postgres"})
    assert error.source == "DAEMON_QUEUE_TYPE"
    assert error.key == "daemon.database_url"
    assert "needs database_url (or DAEMON_DATABASE_URL)" in error.problem


def test_postgres_queue_and_lease_come_from_the_environment(tmp_path: Path) -> None:
    url = "postgresql://app:secret@db.example:5432/tasks"
    env = {"DAEMON_QUEUE_TYPE": "postgres", "DAEMON_DATABASE_URL": url, "DAEMON_LEASE_SECONDS": "2.5"}
    daemon = load_config(write(tmp_path, MINIMAL), env).daemon
    assert (daemon.queue, daemon.database_url, daemon.lease_seconds) == ("postgres", url, 2.5)


def test_a_database_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    env = {"DAEMON_QUEUE_TYPE": "postgres", "DAEMON_DATABASE_URL": "mysql://db/tasks"}
    error = error_of(write(tmp_path, MINIMAL), env)
    assert error.source == "DAEMON_DATABASE_URL"
    assert error.key == "daemon.database_url"


def test_a_lease_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL), {"DAEMON_LEASE_SECONDS": "soon"})
    assert error.source == "DAEMON_LEASE_SECONDS"
    assert "must be a number, got 'soon'" in error.problem


def test_lease_seconds_comes_from_the_daemon_table(tmp_path: Path) -> None:
    daemon = load_config(write(tmp_path, "[daemon]\nlease_seconds = 4\n" + MINIMAL), {}).daemon
    assert daemon.lease_seconds == 4.0


def test_a_lease_too_short_to_renew_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL), {"DAEMON_LEASE_SECONDS": "0.01"})
    assert error.source == "DAEMON_LEASE_SECONDS"
    assert error.key == "daemon.lease_seconds"


def test_image_handler_without_any_engine_installed_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no podman, no docker
    config = load_config(write(tmp_path, '[handlers.img]\nimage = "x:1"\n'), {})
    assert config.handlers["img"].engine is None
    with pytest.raises(ConfigError, match="neither podman nor docker is installed"):
        check_runnable(config)


def test_image_handler_with_an_engine_is_runnable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = tmp_path / "bin" / "podman"  # installed = on PATH (never run here)
    engine.parent.mkdir()
    engine.write_text("#!/bin/sh\n")
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", str(engine.parent))
    check_runnable(load_config(write(tmp_path, '[handlers.img]\nimage = "x:1"\nengine = "podman"\n'), {}))


# -- secrets and shell lines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("daemon_table", "env", "secret", "expected"),
    [
        ("token = 12345678", {}, "12345678", "must be a string, got an integer"),
        ('token = ["tok-s3cret"]', {}, "tok-s3cret", "must be a string, got an array"),
        ('token = { value = "tok-s3cret" }', {}, "tok-s3cret", "must be a string, got a table"),
        ('token = ""', {}, "''", "must not be empty"),
        ('database_url = "mysql://u:pw-s3cret@db/x"', {}, "pw-s3cret", "mysql://u:***@db/x does not match"),
        ("database_url = 31337000", {}, "31337000", "must be a string, got an integer"),
        (
            "",
            {"DAEMON_DATABASE_URL": "mysql://u:pw-s3cret@db/x"},
            "pw-s3cret",
            "mysql://u:***@db/x does not match",
        ),
    ],
)
def test_a_refused_token_or_database_url_is_never_shown(
    tmp_path: Path, daemon_table: str, env: dict[str, str], secret: str, expected: str
) -> None:
    error = error_of(write(tmp_path, f"[daemon]\n{daemon_table}\n{MINIMAL}"), env)
    assert error.key in ("daemon.token", "daemon.database_url")
    assert expected in error.problem
    assert secret not in str(error)


def test_stderr_tail_bytes_out_of_range_is_refused(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, MINIMAL + "stderr_tail_bytes = 10\n"))
    assert error.key == "handlers.echo.stderr_tail_bytes"


def test_a_command_that_looks_like_a_shell_line_gets_a_warning(tmp_path: Path) -> None:
    shell_line = load_config(write(tmp_path, '[handlers.x]\ncommand = ["python3 -u x.py; touch f"]\n'), {})
    warning = command_warning(shell_line.handlers["x"])
    assert warning is not None and warning.startswith(
        "handlers.x.command: the element 'python3 -u x.py; touch f'"
    )
    assert command_warning(load_config(write(tmp_path, MINIMAL), {}).handlers["echo"]) is None


def test_a_program_path_with_a_space_that_exists_gets_no_warning(tmp_path: Path) -> None:
    (tmp_path / "my handler").write_text("#!/bin/sh\n")
    config = load_config(write(tmp_path, '[handlers.x]\ncommand = ["my handler", "-v"]\n'), {})
    assert command_warning(config.handlers["x"]) is None
