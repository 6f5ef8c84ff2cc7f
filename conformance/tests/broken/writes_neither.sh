#!/bin/sh
# Writes a JSON object that is neither a result nor an event, then the right answer.
while read -r line; do echo '{"hello":"world"}'; echo '{"status":"success","result":{"name":"Ada","n":1},"task_id":"e1"}'; done
