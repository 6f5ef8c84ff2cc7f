"""Bad handler: floods stderr, then dies with exit code 3 with the task in hand.

task_data {"bytes": n} writes n bytes in one line; {"bytes": n, "line": k} in lines of k bytes.
The last line is always "fatal: flooded".
"""

import json
import sys

for line in sys.stdin:
    data = json.loads(line)["task_data"]
    left, width = int(data["bytes"]), int(data.get("line", 0))
    chunk = (b"x" * (width - 1) + b"\n") * max(1, (1 << 20) // width) if width else b"y" * (1 << 20)
    while left > 0:
        part = chunk[:left]
        sys.stderr.buffer.write(part)
        left -= len(part)
    sys.stderr.buffer.write(b"\nfatal: flooded\n")
    sys.stderr.flush()
    sys.exit(3)
