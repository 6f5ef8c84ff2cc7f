"""A handler written with the Python SDK whose behaviour is picked by the task's data.

{"echo": x}              -> Success({"echo": x, "attempt": n})
{"sleep": s}             -> sleeps s seconds first
{"fail": msg, "retryable": b, "retry_after": s, "succeed_on_attempt": n}
                         -> Error(msg, ...) until attempt n (if given), then success
{"raise": msg}           -> raises ValueError(msg) (the SDK turns it into an error result)
{"events": true}         -> a log event and two progress events before the result
{"crash_on_attempt": n}  -> exits with code 3 at attempt n (after a line on stderr)
{"pid": true}            -> answers with its own pid
{"record": path}         -> appends the task id to the file at path (to count executions)
{"span": path}           -> appends "<time> start" and "<time> end" around the sleep
"""

import os
import sys
import time

from taskdaemon import Error, Success, Task, run


def handle(task: Task) -> Success | Error:  # noqa: C901 - one branch per behaviour the tests ask for
    data = task.task_data
    if "record" in data:
        with open(data["record"], "a") as file:
            file.write(f"{task.task_id} {task.attempt}\n")
    if "span" in data:
        with open(data["span"], "a") as file:
            file.write(f"{time.time()} start\n")
    if "sleep" in data:
        time.sleep(float(data["sleep"]))
    if "span" in data:
        with open(data["span"], "a") as file:
            file.write(f"{time.time()} end\n")
    if data.get("crash_on_attempt") == task.attempt:
        print("about to crash: exiting with code 3", file=sys.stderr, flush=True)
        os._exit(3)
    if data.get("events"):
        task.log("starting", level="info")
        task.progress(0.5, "half way")
        task.progress(1.0)
    if "raise" in data:
        raise ValueError(data["raise"])
    if "fail" in data:
        until = data.get("succeed_on_attempt")
        if until is None or task.attempt < until:
            return Error(
                data["fail"],
                retryable=bool(data.get("retryable", False)),
                error_type="Failing",
                retry_after=data.get("retry_after"),
            )
    if data.get("pid"):
        return Success({"pid": os.getpid(), "attempt": task.attempt})
    return Success({"echo": data.get("echo"), "attempt": task.attempt})


if __name__ == "__main__":
    run(handle)
