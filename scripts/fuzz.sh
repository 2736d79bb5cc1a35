#!/usr/bin/env bash
# Long fuzzing runs: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Builds build/fuzz (clang, WEIR_FUZZ=ON, ASan+UBSan) and runs each harness
# (default: all of tests/fuzz/fuzz_*.c) for SECONDS (default 300) with 2
# parallel jobs over a persistent corpus in build/fuzz/corpus/<target>, seeded
# from tests/fuzz/corpus/<target> (read only). Crashes, leaks and failed
# properties go to build/fuzz/artifacts/<target>-*; worker logs to
# build/fuzz/logs. Exits 1 when any harness found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
root=$PWD
dir=build/fuzz
CC=clang cmake -S . -B "$dir" -DWEIR_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$dir/artifacts" "$dir/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/logs/$t"
  echo "== $t: ${seconds}s x 2 jobs" >&2
  # libFuzzer writes fuzz-<job>.log into its working directory.
  if ! (cd "$dir/logs/$t" && "$root/$dir/tests/fuzz/$t" -jobs=2 -workers=2 -max_total_time="$seconds" \
          -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$root/$dir/artifacts/$t-" \
          "$root/$dir/corpus/$t" "$root/tests/fuzz/corpus/$t" >/dev/null 2>&1); then
    echo "== $t: FOUND something: see $dir/artifacts/$t-* and $dir/logs/$t/" >&2
    failed=1
  fi
  grep -h 'stat::number_of_executed_units\|^Done' "$dir/logs/$t"/fuzz-*.log 2>/dev/null | sed "s/^/   $t: /" >&2 || true
done
exit $failed
