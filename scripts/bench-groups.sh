#!/usr/bin/env bash
# Builds Release and runs the consumer-group benchmark; arguments go to bench_groups.
# JSON rows on stdout, progress on stderr:  scripts/bench-groups.sh > groups.jsonl
# bench_groups starts its own broker (build/release/weir) and its member processes.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release -j2 --target weir bench_groups >&2
exec ./build/release/bench_groups "$@"
