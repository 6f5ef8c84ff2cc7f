#!/bin/sh
# Answers every line twice (the answer fits the case echo-object).
while read -r line; do echo '{"status":"success","result":{"name":"Ada","n":1},"task_id":"e1"}'; echo '{"status":"success","result":{"name":"Ada","n":1},"task_id":"e1"}'; done
