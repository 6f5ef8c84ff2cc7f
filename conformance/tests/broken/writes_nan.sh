#!/bin/sh
# Writes a result holding NaN, which is not JSON.
while read -r line; do echo '{"status":"success","result":NaN,"task_id":"e1"}'; done
