#!/usr/bin/env bash
# Builds the Release benchmark and runs it; arguments go to bench_append.
# JSON rows on stdout, progress on stderr:  scripts/bench.sh --quick > out.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release -j2 --target bench_append >&2
exec ./build/release/bench_append "$@"
