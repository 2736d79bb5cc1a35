#!/usr/bin/env bash
# Builds Release and runs the partition-scale benchmark; arguments go to bench_partitions.
# JSON rows on stdout, progress on stderr:  scripts/bench-partitions.sh > partitions.jsonl
# bench_partitions starts its own broker (build/release/weir) with 1,000 topics x 10 partitions
# by default; see bench/README.md for the limits it needs (open files, vm.max_map_count, disk).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release -j2 --target weir bench_partitions >&2
exec ./build/release/bench_partitions "$@"
