# Meseta's command runner: people and CI use the same targets.
#
#   make demo   build, start a local cluster (master + 2 agents) and run the
#               example framework on it to completion
#   make test   install what the tests need, then run every test
#   make bench  the allocator, launch-throughput and failover benchmarks (release)

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(CURDIR)/target
CARGO ?= cargo
VENV ?= $(CARGO_TARGET_DIR)/pyvenv
BIN := $(CARGO_TARGET_DIR)/debug

.PHONY: demo build test test-deps lint rust-tests compat-tests bench

build:
	$(CARGO) build --workspace --bins

demo: build
	$(BIN)/meseta local --agents 2 --port 0 -- $(BIN)/command_framework --master {master} --tasks 10

# Debian packages (ZooKeeper for the HA tests; pymesos's HTTP parser) and a
# Python venv with pymesos (the real client from PyPI).
DEBIAN_TEST_PACKAGES := zookeeperd python3-http-parser python3-venv
test-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "test-deps: installing$$missing (Debian)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi
	@if [ ! -x $(VENV)/bin/pytest ] || ! $(VENV)/bin/python -c "import pymesos, kazoo" 2>/dev/null; then \
	  echo "test-deps: creating $(VENV) with pymesos and pytest"; \
	  /usr/bin/python3 -m venv --system-site-packages $(VENV) && \
	  $(VENV)/bin/pip install -q pymesos kazoo pytest; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-tests: build test-deps
	$(CARGO) test --workspace

compat-tests: build test-deps
	$(VENV)/bin/pytest -q tests/compat

test: test-deps lint rust-tests compat-tests

bench:
	$(CARGO) bench -p meseta-bench
	bench/failover.sh
