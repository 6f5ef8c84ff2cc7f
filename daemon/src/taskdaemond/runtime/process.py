"""The process runtime: a handler run as a local command with pipes."""

from __future__ import annotations

import os
from collections.abc import Mapping

from taskdaemond.config import HandlerConfig
from taskdaemond.runtime.spec import LaunchSpec

#: The daemon's environment variables a handler process is given (when the daemon has them):
#: what a program needs to run (search path, home, user, locale, time zone, temporary files,
#: certificates) and what Python, Ruby and Node.js handlers need to find their libraries.
#: Nothing else passes: not DAEMON_TOKEN, DAEMON_DATABASE_URL or any other secret the daemon
#: was started with. The handler table's ``env`` adds to these (and wins).
PASSED_THROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "RUBYLIB",
    "GEM_HOME",
    "GEM_PATH",
    "NODE_PATH",
)


def handler_environment(
    handler: HandlerConfig, instance_name: str, daemon_env: Mapping[str, str]
) -> dict[str, str]:
    """The environment of one handler process: PASSED_THROUGH from ``daemon_env``, the table's
    ``env`` on top, and TASKDAEMON_INSTANCE."""
    env = {name: daemon_env[name] for name in PASSED_THROUGH if name in daemon_env}
    env.update(handler.env)
    env["TASKDAEMON_INSTANCE"] = instance_name
    return env


def process_launch(handler: HandlerConfig, instance_name: str) -> LaunchSpec:
    """argv, cwd and environment of one instance of a ``command`` handler.

    argv is used as it is: never split, never given to a shell. The environment is a clean
    one (see handler_environment), not the daemon's.
    """
    if handler.command is None:
        raise ValueError(f"handler {handler.task_type!r} has no command")
    return LaunchSpec(
        name=instance_name,
        argv=list(handler.command),
        cwd=str(handler.cwd) if handler.cwd is not None else None,
        env=handler_environment(handler, instance_name, os.environ),
    )
