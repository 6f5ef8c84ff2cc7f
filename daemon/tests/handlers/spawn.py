"""Bad handler: on a task, starts a child that inherits stdout and stderr and ignores SIGTERM,
writes the child's pid to task_data["pidfile"], then:

{"then": "exit"}  -> exits at once with the task in hand (the child keeps the pipes open)
{"then": "hang"}  -> sleeps (SIGTERM stops it, but not the child)
{"setsid": true}  -> the child starts its own session: outside the handler's process group
"""

import json
import os
import signal
import subprocess
import sys
import time

CHILD = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"

for line in sys.stdin:
    data = json.loads(line)["task_data"]
    child = subprocess.Popen([sys.executable, "-c", CHILD], start_new_session=bool(data.get("setsid")))
    with open(data["pidfile"], "w") as file:
        file.write(str(child.pid))
    sys.stderr.write(f"started child {child.pid}\n")
    sys.stderr.flush()
    if data.get("then") == "exit":
        os._exit(4)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(600)
