"""The HTTP API: TaskDaemon's endpoints, then ours."""

from taskdaemond.api.app import create_app

__all__ = ["create_app"]
