#!/usr/bin/env bash
# Builds Release and runs the client benchmark (weir's client vs librdkafka);
# arguments go to bench_client. JSON rows on stdout, progress on stderr:
#   scripts/bench-client.sh > client.jsonl
# bench_client starts its own broker (build/release/weir) unless --bootstrap is
# given, and drives weir's side through `build/release/weir bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release -j2 --target weir bench_client >&2
exec ./build/release/bench_client "$@"
