"""Bad handler: takes a task and never answers; ignores SIGTERM (only SIGKILL stops it)."""

import signal
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _line in sys.stdin:
    while True:
        time.sleep(60)
