#!/usr/bin/env bash
# Builds Release and runs the broker benchmark; arguments go to bench_broker.
# JSON rows on stdout, progress on stderr:  scripts/bench-broker.sh > broker.jsonl
# bench_broker starts its own broker (build/release/weir) unless --bootstrap is given,
# and runs build/release/bench_append for the engine baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release -j2 --target weir bench_append bench_broker >&2
exec ./build/release/bench_broker "$@"
