#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs weir. Until the broker
# (`weir serve`) lands, this runs the storage engine benchmark on a temporary
# data directory; extra arguments go to it (default: --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target bench_append >&2
if [ $# -eq 0 ]; then set -- --quick; fi
exec ./build/release/bench_append "$@"
