"""The systems a Python user would pick instead of TaskDaemon, each doing the same no-op echo task.

Each module here is imported by its own worker processes (started by ../throughput.py and
../latency.py); the broker URL or database path comes from the environment.
"""
