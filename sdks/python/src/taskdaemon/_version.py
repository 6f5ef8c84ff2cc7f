"""The version of the taskdaemon package."""

__version__ = "0.1.0"
