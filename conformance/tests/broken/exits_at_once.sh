#!/bin/sh
# Ends before reading anything, like a handler missing its configuration.
echo "cannot start: missing config" >&2; exit 1
