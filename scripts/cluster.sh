#!/usr/bin/env bash
# Starts a local weir cluster to try replication: one ZooKeeper (127.0.0.1:2181
# unless ZK_PORT says otherwise) and three brokers, ids 1..3, on
# 127.0.0.1:9092, 9093 and 9094, everything under one folder (the argument, or
# ./weir-cluster): zookeeper/ (its data, config and log), broker-N/ (data) and
# broker-N.log. Topics default to 3 replicas with min.insync.replicas=2.
# Installs what is missing and builds Release first, as scripts/run.sh does.
# Ctrl-C (or SIGTERM) stops the brokers (controlled shutdown), then ZooKeeper.
# Run it again on the same folder to restart the same cluster.
#   usage: scripts/cluster.sh [FOLDER]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-./weir-cluster}"
zk_port="${ZK_PORT:-2181}"
zk_server=/usr/share/zookeeper/bin/zkServer.sh
weir="${WEIR_BIN:-$src/build/release/weir}" # WEIR_BIN: a weir built elsewhere (no build then)

if [ -z "${WEIR_BIN:-}" ]; then
  "$src/scripts/install-deps.sh"
  cmake -S "$src" -B "$src/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$src/build/release" -j "$(nproc)" --target weir >&2
fi
[ -x "$zk_server" ] || { echo "cluster.sh: no $zk_server (Debian package zookeeper)" >&2; exit 1; }

mkdir -p "$dir/zookeeper/data" "$dir/zookeeper/log"
dir="$(cd "$dir" && pwd)"
cat >"$dir/zookeeper/zoo.cfg" <<EOF
dataDir=$dir/zookeeper/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
tickTime=500
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
EOF

pids=()
stop() {
  local rc=$1
  trap - INT TERM EXIT
  echo "cluster.sh: stopping the brokers, then ZooKeeper" >&2
  # Brokers first (their controlled shutdown needs ZooKeeper), ZooKeeper last.
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do wait "${pids[$i]}" 2>/dev/null || true; done
  if [ ${#pids[@]} -ge 1 ]; then
    kill -TERM -- "-${pids[0]}" 2>/dev/null || kill -TERM "${pids[0]}" 2>/dev/null || true
    wait "${pids[0]}" 2>/dev/null || true
  fi
  exit "$rc"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT
# true when something accepts a connection on 127.0.0.1:$1 (and, with $2, answers it with text matching $2)
answers() {
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    [ -z "${2:-}" ] && exit 0
    printf '%s' "$3" >&3
    grep -q "$2" <&3 ) 2>/dev/null
}

# ZooKeeper in its own process group, so stopping it stops its JVM too.
ZOO_LOG_DIR="$dir/zookeeper/log" setsid "$zk_server" start-foreground "$dir/zookeeper/zoo.cfg" \
  >"$dir/zookeeper/server.out" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 1 240); do
  answers "$zk_port" "Mode:" srvr && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "cluster.sh: ZooKeeper exited; see $dir/zookeeper/server.out" >&2; exit 1; }
  sleep 0.5
done
answers "$zk_port" "Mode:" srvr || { echo "cluster.sh: ZooKeeper not serving after 120 s" >&2; exit 1; }
echo "cluster.sh: ZooKeeper serving on 127.0.0.1:$zk_port" >&2

for id in 1 2 3; do
  port=$((9091 + id))
  "$weir" serve --listen "127.0.0.1:$port" --data-dir "$dir/broker-$id" \
    --set "zookeeper.connect=127.0.0.1:$zk_port" --set "broker.id=$id" \
    --set default.replication.factor=3 --set min.insync.replicas=2 \
    --set offsets.topic.replication.factor=3 \
    >>"$dir/broker-$id.log" 2>&1 </dev/null &
  pids+=($!)
done
for id in 1 2 3; do
  for _ in $(seq 1 120); do
    answers $((9091 + id)) && break
    kill -0 "${pids[$id]}" 2>/dev/null || { echo "cluster.sh: broker $id exited; see $dir/broker-$id.log" >&2; exit 1; }
    sleep 0.5
  done
  answers $((9091 + id)) || { echo "cluster.sh: broker $id not listening after 60 s" >&2; exit 1; }
done

cat <<EOF
weir cluster: ZooKeeper 127.0.0.1:$zk_port, brokers 1..3 on 127.0.0.1:9092,9093,9094
data and logs under $dir (broker-N.log, zookeeper/server.out)

  bootstrap: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
  $weir cluster
  $weir topics create --topic demo --partitions 3 --replication-factor 3
  $weir topics describe --topic demo
  printf 'k1:hello\nk2:world\n' | kcat -b 127.0.0.1:9092 -P -t demo -K:

Ctrl-C stops the cluster.
EOF

# Until Ctrl-C, or until a process exits by itself.
while true; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      if [ "$i" -eq 0 ]; then what="ZooKeeper"; else what="broker $i (see $dir/broker-$i.log)"; fi
      echo "cluster.sh: $what exited" >&2
      exit 1
    fi
  done
  sleep 1
done
