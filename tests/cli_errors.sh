#!/usr/bin/env bash
# tests/cli_errors.sh: bad command lines are normal input. Each must exit 2
# (the command line or config file was rejected; nothing was started) with
# exactly one line on stderr that starts with "weir: ", and nothing on stdout.
# --help and --version exit 0 and print to stdout only. Start-up failures of
# `weir serve` exit 1 with one "weir serve: " line that names the path or
# address and the reason, never an internal enum name.
#
# usage: tests/cli_errors.sh path/to/weir
set -u
weir=${1:?usage: cli_errors.sh path/to/weir}
[ -x "$weir" ] || { echo "cli_errors.sh: '$weir' is not an executable" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weir-cli-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
printf '# a config file\nlisteners=PLAINTEXT://:9092\nbogus.key=1\n' >"$tmp/bad.properties"
printf 'num.partitions=2\r\nlog.retention.ms=soon\r\n' >"$tmp/badvalue.properties"
printf 'log.index.size.max.bytes=8\n' >"$tmp/badcheck.properties"
printf 'num.partitions=2\n' >"$tmp/good.properties"

passed=0 failed=0
# A case that should fail would otherwise start a broker: bound it.
run() { timeout -k 5 20 "$weir" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }

fail() {
  failed=$((failed + 1))
  echo "FAIL: weir $1: $2" >&2
  sed 's/^/  stderr: /' "$tmp/err" >&2
}

# bad <description> <stderr must contain (or "")> -- args...
bad() {
  local what=$1 want=$2
  shift 3
  run "$@"
  local rc lines
  rc=$(cat "$tmp/rc")
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" != 2 ]; then fail "$what" "exit code $rc, want 2"
  elif [ "$lines" != 1 ]; then fail "$what" "$lines lines on stderr, want 1"
  elif ! head -c 6 "$tmp/err" | grep -qx 'weir: '; then fail "$what" "stderr does not start with 'weir: '"
  elif [ -s "$tmp/out" ]; then fail "$what" "wrote to stdout"
  elif [ -n "$want" ] && ! grep -qF -- "$want" "$tmp/err"; then fail "$what" "stderr lacks '$want'"
  else passed=$((passed + 1))
  fi
}

# good <description> <stdout must contain> -- args...
good() {
  local what=$1 want=$2
  shift 3
  run "$@"
  local rc
  rc=$(cat "$tmp/rc")
  if [ "$rc" != 0 ]; then fail "$what" "exit code $rc, want 0"
  elif [ -s "$tmp/err" ]; then fail "$what" "wrote to stderr"
  elif ! grep -qF -- "$want" "$tmp/out"; then fail "$what" "stdout lacks '$want'"
  else passed=$((passed + 1))
  fi
}

bad "(nothing)" "missing command" --
bad "unknown subcommand" "unknown command 'frobnicate'" -- frobnicate
bad "unknown top option" "--bogus" -- --bogus
bad "unknown short top option" "'-x'" -- -x
bad "serve: unknown option" "--bogus" -- serve --bogus
bad "serve: unknown short option" "'-q'" -- serve -q
bad "serve: --help with a value" "--help=x" -- serve --help=x
bad "serve: stray argument" "unexpected argument 'extra'" -- serve extra
bad "--listen without a value" "needs a value" -- serve --listen
bad "--listen port 65536" "65536" -- serve --listen 127.0.0.1:65536
bad "--listen port abc" "abc" -- serve --listen 127.0.0.1:abc
bad "--listen without a port" "no :PORT" -- serve --listen localhost
bad "--listen bare IPv6" "brackets" -- serve --listen ::1:9092
bad "--listen two listeners" "one listener" -- serve --listen a:1,PLAINTEXT://b:2
bad "--listen other scheme" "PLAINTEXT" -- serve --listen SSL://h:9093
bad "--advertise wildcard" "0.0.0.0" -- serve --advertise 0.0.0.0:9092
bad "--advertise port 0" "port 0" -- serve --advertise broker:0
bad "--data-dir two directories" "one data directory" -- serve --data-dir /a,/b
bad "--reactors -1" "weir.reactors" -- serve --reactors -1
bad "--reactors 65" "65" -- serve --reactors 65
bad "--reactors four" "four" -- serve --reactors four
bad "--set without =" "nokey" -- serve --set nokey
bad "--set empty key" "expected KEY=VALUE" -- serve --set =1
bad "--set unknown key" "unknown config key 'no.such.key'" -- serve --set no.such.key=1
bad "--set log.retention.ms=abc" "log.retention.ms" -- serve --set log.retention.ms=abc
bad "--set retention hours overflow" "overflows" -- serve --set log.retention.hours=99999999999999999
bad "--set newline in value" "num.partitions" -- serve --set "num.partitions=1
2"
bad "--set auto.create.topics.enable=1" "true or false" -- serve --set auto.create.topics.enable=1
bad "--set cross-key check" "segment.index.bytes" -- serve --set log.index.size.max.bytes=8
bad "--log-level loud" "loud" -- serve --log-level loud
bad "--config missing file" "/nonexistent/weir.properties" -- serve --config /nonexistent/weir.properties
bad "--config a directory" "$tmp" -- serve --config "$tmp"
bad "--config twice" "more than once" -- serve --config "$tmp/bad.properties" --config "$tmp/bad.properties"
bad "--config unknown key" "bad.properties:3: unknown config key 'bogus.key'" -- serve --config "$tmp/bad.properties"
bad "--config bad value, CRLF" "badvalue.properties:2: config log.retention.ms: 'soon'" -- \
  serve --config "$tmp/badvalue.properties"
bad "--config cross-key check" "segment.index.bytes" -- serve --config "$tmp/badcheck.properties"
bad "options are checked after a good file" "weir.reactors" -- \
  serve --reactors 999 --config "$tmp/good.properties"

# refused <description> <stderr must contain> -- args...: a start-up failure
# of `weir serve`: exit 1, exactly one "weir serve: " line naming the path or
# address with the reason, and no internal enum name (WEIR_E_...) anywhere.
refused() {
  local what=$1 want=$2
  shift 3
  run "$@"
  local rc lines
  rc=$(cat "$tmp/rc")
  lines=$(grep -c '^weir serve: ' "$tmp/err")
  if [ "$rc" != 1 ]; then fail "$what" "exit code $rc, want 1"
  elif [ "$lines" != 1 ]; then fail "$what" "$lines 'weir serve: ' lines on stderr, want 1"
  elif grep -q 'WEIR_E_' "$tmp/err"; then fail "$what" "stderr shows an enum name"
  elif ! grep -qF -- "$want" "$tmp/err"; then fail "$what" "stderr lacks '$want'"
  else passed=$((passed + 1))
  fi
}

: >"$tmp/a-file"
refused "serve: data dir under a file" "cannot create data dir $tmp/a-file/d: Not a directory" -- \
  serve --listen 127.0.0.1:0 --data-dir "$tmp/a-file/d"
refused "serve: data dir is a file" "cannot use data dir $tmp/a-file: Not a directory" -- \
  serve --listen 127.0.0.1:0 --data-dir "$tmp/a-file"
refused "serve: unknown listen address" "cannot listen on 192.0.2.1:" -- \
  serve --listen 192.0.2.1:0 --data-dir "$tmp/d1"
# A port another program listens on (a python listener holds it while weir tries).
if command -v python3 >/dev/null; then
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$tmp/port" &
  holder=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  refused "serve: port in use" "cannot listen on 127.0.0.1:$(cat "$tmp/port"): Address already in use" -- \
    serve --listen "127.0.0.1:$(cat "$tmp/port")" --data-dir "$tmp/d2"
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
fi
# Client commands print the reason without the client's enum names (E_...).
run topics create --topic 'bad/name' --bootstrap 127.0.0.1:1
if grep -qE 'WEIR_E_|(^|[ :])E_[A-Z_]+:' "$tmp/err" || [ "$(cat "$tmp/rc")" != 1 ]; then
  fail "topics create against no broker" "exit $(cat "$tmp/rc") or an enum name on stderr"
else passed=$((passed + 1)); fi

# Client subcommands: every usage error is found before any connection is made.
bad "topics: no action" "missing action" -- topics
bad "topics: unknown action" "unknown action 'frob'" -- topics frob
bad "topics create: no --topic" "--topic is required" -- topics create
bad "topics create --partitions 0" "--partitions" -- topics create --topic t --partitions 0
bad "topics create --partitions abc" "'abc'" -- topics create --topic t --partitions abc
bad "topics create --config without =" "expected KEY=VALUE" -- topics create --topic t --config nokey
bad "topics create --replication-factor 0" "--replication-factor" -- topics create --topic t --replication-factor 0
bad "topics list --topic" "does not apply" -- topics list --topic x
bad "topics add-partitions: no --partitions" "new total" -- topics add-partitions --topic t
bad "topics trim: no --offset" "--partition and --offset are required" -- topics trim --topic t --partition 0
bad "topics trim --offset -2" "is not an offset" -- topics trim --topic t --partition 0 --offset -2
bad "topics trim --partition x" "is not a partition number" -- topics trim --topic t --partition x --offset 5
bad "topics trim: two topics" "one --topic at a time" -- topics trim --topic a --topic b --partition 0 --offset 1
bad "topics list --bootstrap without a port" "--bootstrap" -- topics list --bootstrap nohost
bad "topics list: unknown option" "--bogus" -- topics list --bogus
bad "topics list: stray argument" "unexpected argument 'extra'" -- topics list extra
bad "produce: no --topic" "--topic is required" -- produce
bad "produce --acks 2" "acks" -- produce --topic t --acks 2
bad "produce --compression brotli" "brotli" -- produce --topic t --compression brotli
bad "produce --header without =" "KEY=VALUE" -- produce --topic t --header nokv
bad "produce --partition -1" "--partition" -- produce --topic t --partition -1
bad "produce --set unknown key" "no.such.key" -- produce --topic t --set no.such.key=1
bad "produce --key-separator empty" "empty separator" -- produce --topic t --key-separator ""
bad "produce: unknown short option" "'-q'" -- produce -q
bad "consume: no --topic" "--topic is required" -- consume
bad "consume: two start options" "cannot be used together" -- consume --topic t --from-beginning --offset 3
bad "consume --offset 1x" "--offset" -- consume --topic t --offset 1x
bad "consume --offset -0" "--offset" -- consume --topic t --offset -0
bad "consume --at soon" "'soon'" -- consume --topic t --at soon
bad "consume --format %q" "unknown token '%q'" -- consume --topic t --format '%q'
bad "consume --format lone %" "lone '%'" -- consume --topic t --format 'x%'
bad "consume --count 0" "--count" -- consume --topic t --count 0
bad "consume --set bad value" "fetch.min.bytes" -- consume --topic t --set fetch.min.bytes=0
bad "consume group.instance.id with a space" "character other than" -- consume --group g --topic t --set "group.instance.id=bad id"
bad "consume empty group.instance.id" "must not be empty" -- consume --group g --topic t --set group.instance.id=
bad "consume --partition x" "--partition" -- consume --topic t --partition x
bad "consume --partition twice" "twice" -- consume --topic t --partition 1 --partition 1
bad "consume --bootstrap port 99999" "--bootstrap" -- consume --topic t --bootstrap host:99999
bad "consume --topic without a value" "needs a value" -- consume --topic
bad "groups: no action" "missing action" -- groups
bad "groups: unknown action" "unknown action 'frob'" -- groups frob
bad "groups list: stray argument" "unexpected argument 'g'" -- groups list g
bad "groups list --topic" "does not apply" -- groups list --topic t
bad "groups describe: no group" "GROUP is required" -- groups describe
bad "groups describe: empty group" "empty group name" -- groups describe ""
bad "groups describe --execute" "does not apply" -- groups describe g --execute
bad "groups delete: no group" "GROUP is required" -- groups delete
bad "groups delete --bootstrap without a port" "--bootstrap" -- groups delete g --bootstrap nohost
bad "groups delete-offsets: no --group" "--group and --topic are required" -- groups delete-offsets --topic t
bad "groups delete-offsets: no --topic" "--group and --topic are required" -- groups delete-offsets --group g
bad "groups delete-offsets: stray argument" "unexpected argument 'g'" -- groups delete-offsets g --group g --topic t
bad "groups delete-offsets: bad partition" "is not a partition number" -- groups delete-offsets --group g --topic t:x
bad "groups delete-offsets: empty topic" "empty topic name" -- groups delete-offsets --group g --topic :0
bad "groups delete-offsets --execute" "does not apply" -- groups delete-offsets --group g --topic t --execute
bad "groups reset --group" "does not apply" -- groups reset g --group g --topic t --to-earliest
bad "groups reset: no group" "GROUP is required" -- groups reset --topic t --to-earliest
bad "groups reset: two groups" "one group at a time" -- groups reset g h --topic t --to-earliest
bad "groups list --format xml" "is not text or json" -- groups list --format xml
bad "groups delete --format json" "does not apply" -- groups delete g --format json
bad "topics describe --format JSON" "is not text or json" -- topics describe --format JSON
bad "topics create --format json" "does not apply" -- topics create --topic t --format json
bad "cluster --format yaml" "is not text or json" -- cluster --format yaml
bad "cluster --format without a value" "needs a value" -- cluster --format
bad "groups reset: no --topic" "--topic is required" -- groups reset g --to-earliest
bad "groups reset: two --topic" "one --topic" -- groups reset g --topic t --topic u --to-earliest
bad "groups reset: no mode" "--to-earliest, --to-latest" -- groups reset g --topic t
bad "groups reset: two modes" "cannot be combined" -- groups reset g --topic t --to-earliest --to-latest
bad "groups reset --to-offset -1" "--to-offset" -- groups reset g --topic t --to-offset -1
bad "groups reset --to-offset x" "'x'" -- groups reset g --topic t --to-offset x
bad "groups reset --shift-by 1.5" "--shift-by" -- groups reset g --topic t --shift-by 1.5
bad "groups reset --shift-by without a value" "needs a value" -- groups reset g --topic t --shift-by
bad "groups reset --to-datetime soon" "'soon'" -- groups reset g --topic t --to-datetime soon
bad "groups reset --to-datetime bad month" "--to-datetime" -- groups reset g --topic t --to-datetime 2024-13-01T00:00:00Z
bad "groups reset --partition -1" "--partition" -- groups reset g --topic t --to-latest --partition -1
bad "groups reset --partition 1,,2" "--partition" -- groups reset g --topic t --to-latest --partition 1,,2
bad "groups reset: unknown option" "--bogus" -- groups reset g --topic t --to-latest --bogus
bad "cluster: unknown option" "--bogus" -- cluster --bogus
bad "cluster: stray argument" "unexpected argument 'extra'" -- cluster extra
bad "cluster --bootstrap without a port" "--bootstrap" -- cluster --bootstrap nohost

good "--help" "usage: weir" -- --help
good "-h" "usage: weir" -- -h
good "--version" "weir 0.1.0" -- --version
good "serve --help" "usage: weir serve" -- serve --help
good "serve -h after options" "usage: weir serve" -- serve --listen :1 -h
good "topics --help" "usage: weir topics" -- topics --help
good "topics create --help" "usage: weir topics" -- topics create --help
good "produce --help" "usage: weir produce" -- produce --help
good "consume -h" "usage: weir consume" -- consume --topic t -h
good "groups --help" "usage: weir groups" -- groups --help
good "groups reset -h" "usage: weir groups" -- groups reset g -h
good "cluster --help" "usage: weir cluster" -- cluster --help

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
