"""The hello handler: answers {"message": "Hello, <name>!"}, name from task_data (default World).

Run it by hand:
    echo '{"task_id":"t1","task_type":"hello","task_data":{"name":"Ada"},"attempt":0}' \
        | python3 -u handler.py
"""

from __future__ import annotations

from taskdaemon import Error, Success, Task, run


def hello(task: Task) -> Success | Error:
    """Greet task_data["name"], or the World."""
    name = task.task_data.get("name", "World")
    if not isinstance(name, str):
        return Error(f"name must be a string, got {type(name).__name__}", error_type="InvalidInput")
    return Success({"message": f"Hello, {name}!"})


if __name__ == "__main__":
    run(hello)
