#!/bin/sh
# Answers correctly, then exits 4 at end of input.
while read -r line; do echo '{"status":"success","result":{"name":"Ada","n":1},"task_id":"e1"}'; done; exit 4
