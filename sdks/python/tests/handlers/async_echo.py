"""An `async def` handler: awaits, then answers the task data and the loop it ran on."""

from __future__ import annotations

import asyncio

from taskdaemon import Success, Task, run


async def async_echo(task: Task) -> Success:
    await asyncio.sleep(float(task.task_data.get("sleep", 0)))
    task.log("awaited")
    if task.task_data.get("fail"):
        message = "async failure"
        raise RuntimeError(message)
    loop_id = id(asyncio.get_running_loop())
    return Success({"task_data": task.task_data, "loop": loop_id})


if __name__ == "__main__":
    run(async_echo)
