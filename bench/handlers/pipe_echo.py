"""Pipe ping-pong: each line goes straight back, unparsed (the floor of a round trip)."""

import sys

stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
for line in stdin:
    stdout.write(line)
    stdout.flush()
