# TaskDaemon: the entry points a newcomer needs.
#   make demo   the reference daemon running example handlers in every language
#   make test   every suite (installs what it needs on a fresh Debian machine)
# Each suite also has its own target (make test-python, test-daemon, ...).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python

.PHONY: help setup setup-podman demo test test-protocol test-python test-ruby test-typescript \
        test-daemon test-conformance test-images test-containers images bench clean

help:
	@echo "make demo    run the daemon with the example handlers, submit tasks, show results"
	@echo "make test    every suite: test-protocol test-python test-ruby test-typescript"
	@echo "             test-daemon test-conformance test-images test-containers"
	@echo "make images  build the handler images with podman (localhost/taskdaemon-<name>:dev)"
	@echo "make bench   measurements, quick mode (MODE=--full for the long run; not part of make test)"

setup:
	@scripts/setup.sh python ruby node npm postgres

setup-podman:
	@images/setup-podman.sh

demo: setup
	$(PY) daemon/scripts/demo.py --config examples/handlers.toml

test: setup test-protocol test-python test-ruby test-typescript test-daemon test-conformance \
      test-images test-containers
	@echo "make test: every suite passed"

test-protocol:
	$(BIN)/pytest -q protocol/tests
	$(BIN)/ruff check protocol
	$(BIN)/ruff format --check protocol

test-python:
	cd sdks/python && $(BIN)/pytest -q
	cd sdks/python && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .
	rm -rf sdks/python/dist && $(PY) -m build -q sdks/python --outdir sdks/python/dist >/dev/null
	$(BIN)/twine check --strict sdks/python/dist/*

test-ruby:
	cd sdks/ruby && rake test build rbs

test-typescript:
	cd sdks/typescript && npm run --silent typecheck && npm test --silent

test-daemon:
	cd daemon && $(BIN)/pytest -q -m "not containers"
	cd daemon && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

test-conformance:
	cd conformance && $(BIN)/pytest -q
	cd conformance && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/taskdaemon-conformance run --sdk all --report conformance/report.json

# The image tooling's own tests (they build what they need).
test-images: setup-podman
	cd images && $(BIN)/pytest -q && $(BIN)/mypy && $(BIN)/ruff check . && $(BIN)/ruff format --check .

# Every SDK proven in its image, and the daemon running the examples as containers. Side by side:
# the conformance run keeps both cores busy while the daemon's container tests mostly wait.
test-containers: setup-podman images
	@log=$$(mktemp); \
	(cd daemon && $(BIN)/pytest -q -m containers tests/test_containers.py) >"$$log" 2>&1 & tests=$$!; \
	status=0; \
	$(BIN)/taskdaemon-conformance run --sdk all --engine podman --report conformance/report-podman.json || status=1; \
	wait $$tests || status=1; \
	echo "daemon container tests:"; cat "$$log"; rm -f "$$log"; exit $$status

images:
	images/build.sh

# Measurements on demand, never part of make test: MODE=--full for the publishable run.
MODE ?= --quick
bench: setup
	bench/run.sh $(MODE)

clean:
	rm -rf $(VENV) .make sdks/python/dist sdks/typescript/{node_modules,dist,lib,build} \
	       examples/*/typescript/node_modules conformance/handlers/typescript/node_modules \
	       conformance/report*.json
