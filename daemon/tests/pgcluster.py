"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temporary directory,
a private port on 127.0.0.1, trust authentication, stopped by its data directory.

initdb and the server refuse to run as root, so when we are root they run as the
``postgres`` OS user (``runuser -u postgres --``), which owns the temporary directory.
Every failure raises ClusterError saying what went wrong, with the server's log tail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

#: Where Debian's postgresql-15 package puts the server binaries.
BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/14/bin")
OS_USER = "postgres"
DB_USER = "postgres"
START_TIMEOUT = 30.0

#: Settings for a fast test cluster: durability off (the cluster is thrown away), small.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ClusterError(RuntimeError):
    """PostgreSQL could not be set up, started or stopped; the message says why."""


def find_bin_dir() -> Path:
    explicit = os.environ.get("PG_BIN_DIR")
    for candidate in ([explicit] if explicit else []) + list(BIN_DIRS):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterError(
        "PostgreSQL server binaries not found (looked in " + ", ".join(BIN_DIRS) + " and PATH); "
        "install them with `apt-get install -y postgresql-15` or set PG_BIN_DIR"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One PostgreSQL server in a temporary directory, for as long as the caller needs it."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.bin_dir = find_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="taskdaemon-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_file = self.root / "server.log"
        self.settings = dict(FAST_SETTINGS if settings is None else settings)
        self._as_user = os.geteuid() == 0

    # -- urls --------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle -----------------------------------------------------------------------

    def _run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self._as_user:
            command = ["runuser", "-u", OS_USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def _own(self) -> None:
        """Hand the temporary directory to the postgres OS user (when we are root)."""
        if not self._as_user:
            return
        try:
            user = pwd.getpwnam(OS_USER)
        except KeyError:
            raise ClusterError(
                f"running as root and there is no {OS_USER!r} OS user to run initdb as; "
                f"create it (`useradd --system {OS_USER}`) or run the tests as another user"
            ) from None
        self.root.chmod(0o755)
        for path in (self.root, self.socket_dir):
            path.mkdir(exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self) -> Cluster:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own()
        done = self._run(
            "initdb", "-D", str(self.data_dir), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        if done.returncode != 0:
            raise ClusterError(
                f"initdb failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            **self.settings,
        }
        with (self.data_dir / "postgresql.conf").open("a") as file:
            file.write("\n# taskdaemon test cluster\n")
            for key, value in conf.items():
                file.write(f"{key} = {value}\n")
        return self

    def start(self) -> Cluster:
        done = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )
        if done.returncode != 0:
            raise ClusterError(
                f"PostgreSQL did not start on 127.0.0.1:{self.port} (pg_ctl exit {done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\nserver log:\n{self.log_tail()}"
            )
        return self

    def stop(self) -> None:
        """pg_ctl stop -m fast; if that fails, SIGKILL the postmaster by its pid."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        done = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "20", "stop")
        if done.returncode == 0:
            return
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.05)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no server log)"

    # -- databases -----------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.url(name)


def start_cluster(settings: Mapping[str, str] | None = None) -> Cluster:
    """initdb and start a cluster; on failure, clean up and raise ClusterError."""
    cluster = Cluster(settings)
    try:
        return cluster.init().start()
    except BaseException:
        cluster.destroy()
        raise
