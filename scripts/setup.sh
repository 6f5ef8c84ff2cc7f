#!/usr/bin/env bash
# Installs what the test suites need on a fresh Debian machine, idempotently and quickly when already done.
# Usage: scripts/setup.sh python|ruby|node|npm|postgres|chromium|go ...
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        echo "setup: apt-get update" >&2
        apt-get update -qq
        apt_updated=1
    fi
    echo "setup: apt-get install $*" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python_venv() {
    # The venv is rebuilt when any of the files that define it change (a stamp holds their hash).
    local inputs hash
    inputs="requirements-dev.txt sdks/python/pyproject.toml daemon/pyproject.toml conformance/pyproject.toml"
    hash=$(cat $inputs 2>/dev/null | sha256sum | cut -c1-16)
    if [ -x .venv/bin/python ] && [ "$(cat .venv/.stamp 2>/dev/null)" = "$hash" ]; then
        return
    fi
    if ! python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        apt_install python3 python3-venv python3-pip
    fi
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements-dev.txt \
        -e "sdks/python[test]" -e "daemon[test]" -e "conformance[test]"
    echo "$hash" > .venv/.stamp
}

ruby_toolchain() {
    # rubocop: Debian's, for make lint and make fmt (RubyGems' registry is out of reach).
    command -v ruby >/dev/null && command -v rake >/dev/null && command -v rubocop >/dev/null && return
    apt_install ruby rake rubocop
}

node_toolchain() {
    command -v node >/dev/null && command -v npm >/dev/null && return
    apt_install nodejs npm
}

postgres_server() {
    # The daemon's PostgreSQL tests start a throwaway cluster of their own: they need the server's
    # binaries (initdb, pg_ctl), not a running service.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return
    apt_install postgresql
}

go_toolchain() {
    # examples/go, the handler written from the spec alone: Debian's Go, standard library only.
    command -v go >/dev/null && return
    apt_install golang-go
}

chromium_browser() {
    # The dashboard's browser tests drive Debian's chromium with Playwright (from pip): Playwright's
    # own browser download is not needed, nor reachable from the build machines.
    command -v chromium >/dev/null && return
    apt_install chromium
}

npm_packages() {
    # The TypeScript SDK from its lockfile, built; then the example and conformance handlers, whose
    # only dependency is that SDK (a file: link, so --offline: nothing is fetched).
    local sdk=sdks/typescript
    if ! [ "$sdk/node_modules/.package-lock.json" -nt "$sdk/package-lock.json" ]; then
        (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    (cd "$sdk" && npm run --silent build)
    local dir
    for dir in examples/*/typescript conformance/handlers/typescript; do
        [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && continue
        (cd "$dir" && npm ci --offline --no-audit --no-fund --loglevel=error)
    done
}

for part in "$@"; do
    case "$part" in
        python) python_venv ;;
        ruby) ruby_toolchain ;;
        node) node_toolchain ;;
        npm) npm_packages ;;
        postgres) postgres_server ;;
        chromium) chromium_browser ;;
        go) go_toolchain ;;
        *) echo "setup: unknown part '$part' (python, ruby, node, npm, postgres, chromium, go)" >&2; exit 2 ;;
    esac
done
