#!/usr/bin/env bash
# Makes the bench virtualenv (bench/.venv) and installs redis-server, idempotently: quick when done.
# The venv holds the peers (bench/requirements.txt) and this repository's SDK and daemon, installed
# editable from the tree so a run measures the code as it is now.
# Usage: bench/setup.sh
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null; then
    echo "bench setup: apt-get install redis-server" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # Debian starts a system-wide Redis on 6379; the bench starts its own on a free port, so
    # stop the service (when there is an init system to ask) rather than leave it running.
    if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
        systemctl stop redis-server || true
    fi
fi
for tool in ruby node; do
    command -v "$tool" >/dev/null || { echo "bench setup: $tool is missing: run 'make setup' first" >&2; exit 2; }
done

inputs="setup.sh requirements.txt ../sdks/python/pyproject.toml ../daemon/pyproject.toml"
hash=$(cat $inputs | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.stamp 2>/dev/null)" = "$hash" ]; then
    exit 0
fi
python=python3
[ -x ../.venv/bin/python ] && python=$(../.venv/bin/python -c 'import sys; print(sys._base_executable)')
"$python" -c 'import sys; assert sys.version_info >= (3, 11), "the bench needs Python >= 3.11"'
rm -rf .venv
"$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The daemon with its postgres extra: bench/postgres_queue.py runs daemons on PostgreSQL.
.venv/bin/python -m pip install -q -r requirements.txt -e ../sdks/python -e "../daemon[postgres]"
echo "$hash" > .venv/.stamp
echo "bench setup: bench/.venv ready" >&2
