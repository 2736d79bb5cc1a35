#!/usr/bin/env bash
# A module's private headers (*_int.h) are included only from its own folder
# (and from white-box unit tests under tests/), and a module includes another
# only through its one public header, <module>/<module>.h (base/base.h,
# record/record.h, engine/engine.h, proto/proto.h, net/net.h, ...). Some
# dependencies are forbidden outright (the `forbidden` table below).
set -u
root=${1:-.}
modules="base record engine proto net client repl cli"
bad=0
# One grep and one awk for the whole tree: a process per include line took
# over a minute on a loaded machine.
dirs=()
for dir in $modules bench tests; do [ -d "$root/$dir" ] && dirs+=("$dir"); done
out=$(cd "$root" && grep -Hn '#include "' $(for d in "${dirs[@]}"; do echo "$d"/*.[ch]; done) 2>/dev/null |
  awk -v modules=" $modules " '
    {
      file = $0; sub(/:.*/, "", file)
      dir = file; sub(/\/[^\/]*$/, "", dir)
      inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
      if (inc ~ /\// && inc ~ /_int\.h$/) {
        if (dir != "tests") print "module boundary: " file " includes " inc
      } else if (inc ~ /\//) {
        mod = inc; sub(/\/.*/, "", mod)
        if (index(modules, " " mod " ") && inc != mod "/" mod ".h")
          print "module boundary: " file " includes " inc " (public header: " mod "/" mod ".h)"
      }
    }')
[ -n "$out" ] && { echo "$out"; bad=1; }
# FILES (globs under root) must not include headers under PREFIX: the client
# library never sees the storage engine, net/net.h does not re-export it, and
# record/ (the batch format, compiled into the client) stands on base/ alone.
forbidden='
client/*.[ch]  engine/
net/net.h      engine/
record/*.[ch]  engine/ proto/ net/ client/
'
while read -r glob prefixes; do
  [ -n "$glob" ] || continue
  for prefix in $prefixes; do
    while IFS= read -r hit; do
      [ -n "$hit" ] || continue
      echo "forbidden dependency: ${hit%%:*} includes $(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$hit")"
      bad=1
    done < <(cd "$root" && grep -Hn "#include \"$prefix" $glob 2>/dev/null)
  done
done <<<"$forbidden"
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
