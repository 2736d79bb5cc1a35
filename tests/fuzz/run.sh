#!/usr/bin/env bash
# One fuzz ctest: run.sh HARNESS SEED_CORPUS ARTIFACT_DIR SECONDS
# Runs HARNESS for SECONDS over a temp corpus dir (where libFuzzer writes new
# inputs) plus the seeds (only read). Exits non-zero on any crash, leak, UB or
# failed property; the input that did it is saved in ARTIFACT_DIR.
set -euo pipefail
harness=$1 seeds=$2 artifacts=$3 seconds=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-fuzz-ctest.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
name=$(basename "$harness")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$name-" "$work" "$seeds"
