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
for dir in $modules bench tests; do
  [ -d "$root/$dir" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    case "$inc" in
      */*_int.h) [ "$dir" = tests ] || { echo "module boundary: $file includes $inc"; bad=1; } ;;
      */*)
        mod=${inc%%/*}
        if [[ " $modules " == *" $mod "* ]] && [ "$inc" != "$mod/$mod.h" ]; then
          echo "module boundary: $file includes $inc (public header: $mod/$mod.h)"; bad=1
        fi ;;
      *_int.h) [ "$(dirname "$file")" = "$root/$dir" ] || { echo "module boundary: $file includes $inc"; bad=1; } ;;
    esac
  done < <(grep -Hn '#include "' "$root/$dir"/*.[ch] 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
done
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
