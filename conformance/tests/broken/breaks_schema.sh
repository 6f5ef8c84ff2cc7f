#!/bin/sh
# Writes an error result without its required `error` member.
while read -r line; do echo '{"status":"error","retryable":false,"task_id":"e1"}'; done
