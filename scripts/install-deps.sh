#!/usr/bin/env bash
# Installs the Debian 12 packages weir builds and tests with. Idempotent: does
# nothing when everything is present. Uses sudo when not root.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liburing-dev libmimalloc-dev liblz4-dev zlib1g-dev libsnappy-dev libzstd-dev libcmocka-dev
      librdkafka-dev kcat python3 python3-confluent-kafka iperf3
      libmicrohttpd-dev # net/metrics.c: the /metrics HTTP listener
      prometheus # promtool, for it_metrics (check metrics); the server is not run
      zookeeper libzookeeper-mt-dev # repl/: the C client; the server for tests (pulls in Java)
      python3-matplotlib # weir bench --plot (scripts/bench_plot.py)
      clang libclang-rt-14-dev) # libFuzzer: clang only recommends libclang-rt-14-dev (libclang_rt.fuzzer)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
