"""taskdaemond: the reference TaskDaemon daemon."""

from taskdaemond.statuses import TaskStatus

__all__ = ["TaskStatus", "__version__"]

__version__ = "0.1.0"
