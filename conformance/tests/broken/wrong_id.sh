#!/bin/sh
# Answers with the right result but another task's id.
while read -r line; do echo '{"status":"success","result":{"name":"Ada","n":1},"task_id":"not-e1"}'; done
