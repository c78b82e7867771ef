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

.PHONY: demo build test test-deps proto-check lint java-jar cpp-tests rust-tests compat-tests python-binding python-tests java-tests webui-tests bench

build:
	$(CARGO) build --workspace --bins
	$(CARGO) build -p meseta-java

demo: build
	$(BIN)/meseta local --agents 2 --port 0 -- $(BIN)/command_framework --master {master} --tasks 10

# Debian packages (ZooKeeper for the HA tests; pymesos's HTTP parser; a JDK,
# Maven and protoc for the Java binding; CMake, protobuf, GoogleTest, MPICH
# and clang-format for the C++ binding; a Docker engine, a registry and a
# static busybox for the Docker and image tests, which start their own
# private engine and registry; Prometheus's promtool, which checks the
# /metrics expositions; Chromium and its WebDriver for the web UI tests) and
# a Python venv with pymesos (the real client from PyPI), pytest, ruff (the
# Python formatter and linter) and selenium (drives Chromium).
DEBIAN_TEST_PACKAGES := zookeeperd python3-http-parser python3-venv openjdk-17-jdk-headless maven \
	protobuf-compiler cmake g++ libprotobuf-dev libgtest-dev mpich libmpich-dev clang-format \
	docker.io docker-registry busybox-static prometheus chromium chromium-driver
test-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "test-deps: installing$$missing (Debian)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi
	@if [ ! -x $(VENV)/bin/pytest ] || [ ! -x $(VENV)/bin/ruff ] || ! $(VENV)/bin/python -c "import pymesos, kazoo, selenium" 2>/dev/null; then \
	  echo "test-deps: creating $(VENV) with pymesos, pytest, ruff and selenium"; \
	  /usr/bin/python3 -m venv --system-site-packages $(VENV) && \
	  $(VENV)/bin/pip install -q pymesos kazoo pytest ruff selenium; \
	fi

PYTHON_SOURCES := bindings-python examples/python tests/compat tests/webui bench/python_events.py bench/webui.py
CPP_SOURCES = $$(find bindings-cpp examples/cpp -name '*.cpp' -o -name '*.hpp' -o -name '*.c' | sort)

# Our .proto files against the official jar's descriptors: any difference in
# a message or enum we define (number, name, type, label, packing) fails.
MESOS_PROTO ?= ../shared/tools/mesos-proto
proto-check: test-deps
	protoc --include_imports --descriptor_set_out=$(CARGO_TARGET_DIR)/ours.pb -I proto $$(find proto -name '*.proto' | sort)
	$(MESOS_PROTO) check $(CARGO_TARGET_DIR)/ours.pb

lint: test-deps proto-check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff format --check $(PYTHON_SOURCES)
	$(VENV)/bin/ruff check $(PYTHON_SOURCES)
	clang-format --dry-run --Werror $(CPP_SOURCES)

# The cgroup tests say where they ran (the host's v1 and v2 hierarchies, or
# skipped and why); `cargo test` hides what passing tests print, so they
# are asked once more to show it.
rust-tests: build test-deps
	$(CARGO) test --workspace
	@$(CARGO) test -q -p meseta-agent --lib containerizer::cgroups -- --show-output 2>&1 | grep -E '(RAN|SKIPPED)' || true

compat-tests: build test-deps java-jar
	$(VENV)/bin/pytest -q tests/compat

# Our jar alone (bindings-java/target/meseta-java-0.1.0.jar), for the compat
# tests that compile the examples against it.
java-jar: build test-deps
	mvn -q -B -f bindings-java/pom.xml package -DskipTests -Dmeseta.target=$(BIN)

# `pip install ./bindings-python`, as a user would (maturin builds the native
# module; the dev profile reuses the workspace's debug build). A release
# wheel: `maturin build --release -m bindings-python/Cargo.toml`.
python-binding: test-deps
	MATURIN_PEP517_ARGS="--profile dev" $(VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings-python

python-tests: build python-binding
	$(VENV)/bin/pytest -q bindings-python/tests

# The web UI in headless Chromium (Selenium) against real clusters; each
# page's screenshot is left in $(CARGO_TARGET_DIR)/webui-screenshots/.
webui-tests: build test-deps
	$(VENV)/bin/pytest -q tests/webui

# Our jar (bindings-java/pom.xml: the org.apache.mesos API, Protos generated
# by protoc from proto/mesos/, libmesos.so inside), then the JUnit suite
# against a real cluster twice: on our jar, and on the official
# org.apache.mesos:mesos jar from Maven Central with our libmesos.so.
java-tests: build test-deps
	mvn -q -B -f bindings-java/pom.xml verify -Dmeseta.target=$(BIN)

# The C++ binding: CMake builds the Rust library (cargo), the C++ half, the
# examples and the GoogleTest suite; CTest runs it against real clusters,
# with the MPI example on three agents and a consumer project built against
# the installed package.
CPP_BUILD := $(CARGO_TARGET_DIR)/cpp
cpp-tests: build test-deps
	cmake -S bindings-cpp -B $(CPP_BUILD) -DMESETA_CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) -DMESETA_BINARY=$(BIN)/meseta
	cmake --build $(CPP_BUILD) -j2
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j2

test: test-deps lint rust-tests compat-tests python-tests java-tests cpp-tests webui-tests

bench:
	$(CARGO) bench -p meseta-bench
	bench/failover.sh
