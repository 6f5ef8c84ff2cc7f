#!/usr/bin/env bash
# Builds the local base image localhost/taskdaemon-base:bookworm when it is missing (or was made from
# a different recipe): no image registry is reachable here, so instead of pulling python/ruby/node
# images we debootstrap a minimal Debian bookworm with python3, ruby and nodejs and `podman import` it.
# The image survives on the machine between runs, so this normally takes a fraction of a second.
#
# Inside the image: python3 3.11 (no pip), ruby 3.1 (with gem), node 18 (no npm), tar and gzip.
# Containerfiles install the SDKs without pip or npm for that reason (see images/README.md).
#
# Usage: images/build-base.sh [--force]     (root; run images/setup-podman.sh first)
# Environment: TASKDAEMON_BASE_IMAGE (default localhost/taskdaemon-base:bookworm),
#              DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail

IMAGE=${TASKDAEMON_BASE_IMAGE:-localhost/taskdaemon-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=python3,ruby,nodejs
# The recipe is stored as a label: changing the suite or the package list rebuilds the image.
RECIPE="debootstrap minbase $SUITE $PACKAGES v1"
LABEL=org.taskdaemon.base-recipe

fail() {
    echo "build-base: $*" >&2
    exit 1
}

force=0
case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) fail "unknown argument '$1' (usage: images/build-base.sh [--force])" ;;
esac

command -v podman >/dev/null || fail "podman not found: run images/setup-podman.sh first"

# One build at a time: a second caller waits here, then finds the image made by the first.
exec 9>"/var/lock/taskdaemon-base-image.lock"
flock 9

if [ "$force" = 0 ] && podman image exists "$IMAGE"; then
    have=$(podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
    if [ "$have" = "$RECIPE" ]; then
        echo "build-base: $IMAGE is present, nothing to do" >&2
        exit 0
    fi
    echo "build-base: $IMAGE was made from another recipe ('$have'), rebuilding" >&2
fi

command -v debootstrap >/dev/null || fail "debootstrap not found: run images/setup-podman.sh first"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"

start=$(date +%s)
workdir=$(mktemp -d /var/tmp/taskdaemon-base.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
rootfs=$workdir/rootfs
log=$workdir/debootstrap.log

echo "build-base: debootstrap --variant=minbase --include=$PACKAGES $SUITE ($MIRROR)" >&2
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
        >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "debootstrap failed (last lines above); is $MIRROR reachable?"
fi
# The downloaded .debs and apt lists are not needed at run time: dropping them makes a smaller image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
debootstrapped=$(date +%s)

echo "build-base: podman import -> $IMAGE" >&2
# An imported image has no environment: set PATH, and LANG so that Ruby reads stdin as UTF-8
# (the official images set LANG=C.UTF-8 too).
tar -C "$rootfs" -c . | podman import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "LABEL $LABEL=\"$RECIPE\"" \
    - "$IMAGE" >/dev/null || fail "podman import failed"
done_at=$(date +%s)

echo "build-base: built $IMAGE in $((done_at - start)) s" \
    "(debootstrap $((debootstrapped - start)) s, import $((done_at - debootstrapped)) s)" >&2
