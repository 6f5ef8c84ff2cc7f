#!/usr/bin/env bash
# Makes podman usable on this Debian host, idempotently: installs podman, runc and debootstrap from
# Debian's packages when missing, writes the engine configuration this host needs, and checks that
# `podman info` answers. Takes well under a second when everything is already in place.
#
# Why this configuration: crun (podman's default runtime) fails here on setrlimit and on the hybrid
# cgroup hierarchy; runc with the cgroupfs manager works, and an empty default_ulimits list stops
# podman from asking the runtime for ulimits the host refuses.
#
# Usage: images/setup-podman.sh        (needs root for the install and the config file)
set -euo pipefail

CONF=/etc/containers/containers.conf
WANTED_CONF='[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"'

fail() {
    echo "setup-podman: $*" >&2
    exit 1
}

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)

if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || fail "${missing[*]} missing and not running as root: install them with 'apt-get install -y ${missing[*]}'"
    command -v apt-get >/dev/null || fail "${missing[*]} missing and apt-get not found: install them with your package manager"
    echo "setup-podman: installing ${missing[*]} from Debian's packages" >&2
    apt-get update -qq || fail "apt-get update failed (is the Debian mirror reachable?)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null \
        || fail "apt-get install podman runc debootstrap failed (see the apt output above)"
fi

if [ "$(cat "$CONF" 2>/dev/null)" != "$WANTED_CONF" ]; then
    [ -w "$(dirname "$CONF")" ] || [ "$(id -u)" = 0 ] || fail "$CONF needs writing and this is not root"
    echo "setup-podman: writing $CONF (runc + cgroupfs)" >&2
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$WANTED_CONF" > "$CONF"
fi

if ! info_err=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}' 2>&1 >/dev/null); then
    fail "podman is installed but 'podman info' fails: $info_err"
fi
