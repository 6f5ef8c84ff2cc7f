"""Builds TaskDaemon's container images: SDK packages staged into each Containerfile's context."""
