#!/usr/bin/env bash
# One master with many simulated agents: launch throughput and latency, and
# offers under /master/state load. Builds the release binaries first.
#   bench/scale.sh
#   MESETA_BENCH_SCALE_AGENTS=50000 MESETA_BENCH_SCALE_TASKS=200000 bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p meseta --bin meseta -p meseta-bench --bin sim-agents
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
MESETA_BINARY="$target_dir/release/meseta" cargo bench -p meseta-bench --bench scale
