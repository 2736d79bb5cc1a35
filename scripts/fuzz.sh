#!/usr/bin/env bash
# Long fuzzing runs: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Builds build/fuzz (clang, WEIR_FUZZ=ON, ASan+UBSan) and runs each harness
# (default: all of tests/fuzz/fuzz_*.c) for SECONDS (default 300) with 2
# parallel workers (libFuzzer -fork=2, which goes on after a finding so one
# known bug does not end the run) over a persistent corpus in
# build/fuzz/corpus/<target>, seeded from tests/fuzz/corpus/<target> (read
# only). Findings (crash, leak, UB, failed property, timeout) go to
# build/fuzz/artifacts/<target>-*; the log to build/fuzz/logs/<target>.log.
# Exits 1 when any harness found something new.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
dir=build/fuzz
CC=clang cmake -S . -B "$dir" -DWEIR_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$dir/artifacts" "$dir/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  before=$(ls "$dir/artifacts" | grep -c "^$t-" || true)
  echo "== $t: ${seconds}s, 2 workers" >&2
  "$dir/tests/fuzz/$t" -fork=2 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$dir/artifacts/$t-" \
    "$dir/corpus/$t" "tests/fuzz/corpus/$t" >"$dir/logs/$t.log" 2>&1 || failed=1
  after=$(ls "$dir/artifacts" | grep -c "^$t-" || true)
  tail -n 3 "$dir/logs/$t.log" | sed "s/^/   $t: /" >&2
  if [ "$after" -gt "$before" ]; then
    echo "== $t: $((after - before)) new finding(s) in $dir/artifacts/$t-*; replay: $dir/tests/fuzz/$t FILE" >&2
    failed=1
  fi
done
exit $failed
