# TaskDaemon: the entry points a newcomer needs.
#   make demo   the reference daemon running example handlers in every language
#   make test   every suite (installs what it needs on a fresh Debian machine)
#   make lint   every linter and type checker, no tests;  make fmt  format and auto-fix
# Each suite also has its own target (make test-python, test-daemon, ...), and each works on its own
# from a fresh clone: every test-* target depends on setup and on whatever else it needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
# Worker processes of the daemon's and the conformance suite's tests (pytest-xdist): each test starts
# its own daemons, handlers and databases, on ports and in directories of its own.
TEST_WORKERS ?= 2

.PHONY: help setup setup-podman demo test test-protocol test-python test-ruby test-typescript \
        test-daemon test-conformance test-go test-images test-containers images bench clean fmt lint \
        lint-protocol lint-python lint-ruby lint-typescript lint-daemon lint-conformance lint-images \
        lint-bench lint-go

# The Python trees. Each is checked with its closest ruff settings: the root ruff.toml, which the
# packages extend.
PY_TREES := protocol bench sdks/python conformance images daemon

help:
	@echo "make demo    run the daemon with the example handlers, submit tasks, show results"
	@echo "make test    every suite: test-protocol test-python test-ruby test-typescript"
	@echo "             test-daemon test-conformance test-go test-images test-containers"
	@echo "make lint    every linter and type checker, without the tests (lint-python, lint-ruby, ...)"
	@echo "make fmt     ruff format and ruff check --fix on every Python tree; rubocop's safe fixes"
	@echo "make images  build the handler images with podman (localhost/taskdaemon-<name>:dev)"
	@echo "make bench   measurements, quick mode (MODE=--full for the long run; not part of make test)"

setup:
	@scripts/setup.sh chromium
	@scripts/setup.sh python ruby node npm postgres go

setup-podman:
	@images/setup-podman.sh

demo: setup
	$(PY) daemon/scripts/demo.py --config examples/handlers.toml

test: setup test-protocol test-python test-ruby test-typescript test-daemon test-conformance \
      test-go test-images test-containers
	@echo "make test: every suite passed"

# Each suite runs its tests after its linters and type checks (lint-<suite>, below).
test-protocol: setup lint-protocol
	$(BIN)/pytest -q protocol/tests

test-python: setup lint-python
	cd sdks/python && $(BIN)/pytest -q
	rm -rf sdks/python/dist && $(PY) -m build -q sdks/python --outdir sdks/python/dist >/dev/null
	$(BIN)/twine check --strict sdks/python/dist/*

test-ruby: setup
	cd sdks/ruby && rake test build rbs

test-typescript: setup lint-typescript
	cd sdks/typescript && npm test --silent

test-daemon: setup lint-daemon
	cd daemon && $(BIN)/pytest -q -m "not containers" -n $(TEST_WORKERS)

test-conformance: setup lint-conformance
	cd conformance && $(BIN)/pytest -q -n $(TEST_WORKERS)
	$(BIN)/taskdaemon-conformance run --sdk all --report conformance/report.json

# examples/go, a handler runtime written from the spec alone (no SDK, standard library only): its
# tests (the protocol's line vectors), then every conformance case against its handler as a process.
# Offline: no module is fetched (there are none), the build cache is Go's default.
GO_ENV := GOPROXY=off GOFLAGS=-buildvcs=false
test-go: setup lint-go
	cd examples/go && $(GO_ENV) go test -count=1 ./...
	cd examples/go && $(GO_ENV) go build -o bin/ ./conformance ./hello
	$(BIN)/taskdaemon-conformance run --command examples/go/bin/conformance --report conformance/report-go.json

# The image tooling's own tests (they build what they need).
test-images: setup setup-podman lint-images
	cd images && $(BIN)/pytest -q

# Every SDK proven in its image, and the daemon running the examples as containers, side by side.
test-containers: setup setup-podman images
	scripts/test-containers.sh

images: setup setup-podman
	images/build.sh

# Linters and type checkers, no tests: `make lint` runs them all, each suite's test target its own.
lint: lint-protocol lint-python lint-ruby lint-typescript lint-daemon lint-conformance lint-images lint-bench \
      lint-go
	@echo "make lint: every linter and type check passed"

lint-protocol: setup
	$(BIN)/ruff check protocol
	$(BIN)/ruff format --check protocol

lint-python: setup
	cd sdks/python && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

# rbs validates the signatures; rubocop is in lint only (not yet part of make test).
lint-ruby: setup
	cd sdks/ruby && rake rbs rubocop

lint-typescript: setup
	cd sdks/typescript && npm run --silent typecheck

lint-daemon: setup
	cd daemon && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

lint-conformance: setup
	cd conformance && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

lint-images: setup
	cd images && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

lint-go: setup
	cd examples/go && $(GO_ENV) go vet ./...
	cd examples/go && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }

lint-bench: setup
	$(BIN)/ruff check bench
	$(BIN)/ruff format --check bench

# Formats and fixes in place what the tools can: ruff on every Python tree (the fixes first, so the
# formatter has the last word; what cannot be fixed is listed, and left to `make lint`), and rubocop's
# safe corrections on the Ruby SDK and examples. No formatter is configured for TypeScript.
fmt: setup
	$(BIN)/ruff check --fix --exit-zero $(PY_TREES)
	$(BIN)/ruff format $(PY_TREES)
	cd sdks/ruby && rake fmt

# Measurements on demand, never part of make test: MODE=--full for the publishable run.
MODE ?= --quick
bench: setup
	bench/run.sh $(MODE)

clean:
	rm -rf $(VENV) .make sdks/python/dist sdks/typescript/{node_modules,dist,lib,build} \
	       examples/*/typescript/node_modules conformance/handlers/typescript/node_modules \
	       conformance/report*.json examples/go/bin
