#!/usr/bin/env bash
# Builds every TaskDaemon handler image in the repository (localhost/taskdaemon-<name>:dev) on the local
# base image: sets podman up and builds the base image first when needed. Quick when nothing changed.
# Usage: images/build.sh [NAME ...] [--force] [--list] [--base IMAGE]     (see images/README.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/setup-podman.sh"
"$here/build-base.sh"
exec python3 -B "$here/build_images.py" "$@"  # -B: no __pycache__ in the source tree
