#!/usr/bin/env bash
# The replication simulation over many seeds: scripts/sim-soak.sh [SEEDS] [FROM] [JOBS]
# Builds build/rel (Release) and runs tests/sim_repl.c's seeds FROM..FROM+SEEDS-1
# (defaults 100000, 1, 2) split into JOBS disjoint ranges run side by side.
# A failure prints its seed and step and how to replay it
# (build/rel/sim_repl --seed S -v); exits 1 when any range failed.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-100000}
from=${2:-1}
jobs=${3:-2}
cmake -S . -B build/rel -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/rel -j "$jobs" --target sim_repl >/dev/null
per=$(( (seeds + jobs - 1) / jobs ))
pids=()
for ((j = 0; j < jobs; j++)); do
  start=$(( from + j * per ))
  n=$(( per < from + seeds - start ? per : from + seeds - start ))
  [ "$n" -gt 0 ] || break
  build/rel/sim_repl --seeds "$n" --from "$start" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
