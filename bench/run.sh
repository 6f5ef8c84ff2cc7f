#!/usr/bin/env bash
# Measure the SDKs and the daemon against the physical limit and the peers (on demand; not a test).
# Usage: bench/run.sh [--quick|--full] [NAME...]   (NAME: sdk_loop throughput durability latency payload footprint)
# Quick mode takes under five minutes on two cores; results go to bench/results/<name>.json + PNGs.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# The TypeScript SDK's handler runs from its built output: build it from the source as it is now.
[ -d ../sdks/typescript/node_modules ] || (cd ../sdks/typescript && npm ci --no-audit --no-fund --loglevel=error)
(cd ../sdks/typescript && npm run --silent build)
exec .venv/bin/python run.py "$@"
