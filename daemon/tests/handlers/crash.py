"""Bad handler: dies with exit code 3 on the first task, after a word on stderr."""

import sys

for _line in sys.stdin:
    sys.stderr.write("fatal: cannot handle this task\n")
    sys.stderr.flush()
    sys.exit(3)
