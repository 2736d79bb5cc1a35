#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the broker on its embedded
# default: a single node, data in ./weir-data, listening on 127.0.0.1:9092.
# Extra arguments go to `weir serve` (see `weir serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target weir >&2
exec ./build/release/weir serve "$@"
