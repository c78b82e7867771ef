#!/usr/bin/env bash
# Master failover time with real processes and a real ZooKeeper server:
# builds the release `meseta` binary, then runs bench/benches/failover.rs.
#   bench/failover.sh                      # 5 runs at 2 s and 10 s sessions
#   MESETA_BENCH_RUNS=9 bench/failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p meseta --bin meseta
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
MESETA_BINARY="$target_dir/release/meseta" cargo bench -p meseta-bench --bench failover
