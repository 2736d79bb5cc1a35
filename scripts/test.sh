#!/usr/bin/env bash
# Installs what is missing, builds (Release and ASan+UBSan), runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
}
echo "== Release suite" >&2
run_suite build/release -DCMAKE_BUILD_TYPE=Release
if [ "${WEIR_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer suite" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build/sanitize -DCMAKE_BUILD_TYPE=Debug -DWEIR_SANITIZE=ON
fi
if [ "${WEIR_SKIP_FUZZ:-0}" != 1 ]; then
  # libFuzzer harnesses (tests/fuzz), a few seconds each over their seed
  # corpora; only they are built here. Long runs: scripts/fuzz.sh.
  echo "== libFuzzer harnesses (clang, ASan+UBSan)" >&2
  CC=clang cmake -S . -B build/fuzz -DWEIR_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/fuzz -j "$jobs" --target fuzz
  (cd build/fuzz && ctest --output-on-failure -j "$jobs" -L fuzz)
fi
