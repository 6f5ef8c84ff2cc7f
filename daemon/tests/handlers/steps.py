"""A handler that reports progress step by step (for the live streams and the dashboard).

{"steps": n, "pause": s}  -> n log and progress events, s seconds apart, then Success({"steps": n})
{"gate": path}            -> after the first half of the steps, waits (at most 60 s) until the
                             file at path exists, so a test can look at a task half way
{"fail": msg}             -> an error result (not retryable) after the steps
{"fail_until": path}      -> the same, while no file exists at path (then success: to redrive)
{"echo_tags": true}       -> Success({"tags": task.tags}) after the steps
"""

import os
import time

from taskdaemon import Error, Success, Task, run


def handle(task: Task) -> Success | Error:
    data = task.task_data
    steps = int(data.get("steps", 4))
    for step in range(1, steps + 1):
        if "gate" in data and step == steps // 2 + 1:
            deadline = time.monotonic() + 60
            while not os.path.exists(data["gate"]) and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(float(data.get("pause", 0)))
        task.log(f"step {step} of {steps}")
        task.progress(step / steps, f"step {step}")
    if "fail" in data:
        return Error(data["fail"], error_type="StepFailed")
    if "fail_until" in data and not os.path.exists(data["fail_until"]):
        return Error(f"no {data['fail_until']} yet", error_type="StepFailed")
    if data.get("echo_tags"):
        return Success({"tags": task.tags})
    return Success({"steps": steps})


if __name__ == "__main__":
    run(handle)
