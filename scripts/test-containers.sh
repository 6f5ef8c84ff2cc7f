#!/usr/bin/env bash
# The container suites, side by side: every SDK proven in its image (the conformance harness with
# --engine podman) and the daemon running the examples as containers. The conformance run keeps both
# cores busy while the daemon's container tests mostly wait on podman.
# Needs the venv, podman and the images: `make test-containers` makes all three first.
# Usage: scripts/test-containers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.venv/bin

log=$(mktemp)
tests=
cleanup() {
    # On any exit (an error, Ctrl-C), stop the daemon's tests if they still run, and drop their log.
    if [ -n "$tests" ] && kill -0 "$tests" 2>/dev/null; then
        kill "$tests" 2>/dev/null || true
        wait "$tests" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

(cd daemon && "$bin/pytest" -q -m containers tests/test_containers.py) >"$log" 2>&1 &
tests=$!

status=0
"$bin/taskdaemon-conformance" run --sdk all --engine podman --report conformance/report-podman.json || status=1
wait "$tests" || status=1
tests=
echo "daemon container tests:"
cat "$log"
exit "$status"
