#!/bin/sh
# Answers every line with plain text on stdout.
while read -r line; do echo "hello from the handler"; done
