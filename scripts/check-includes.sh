#!/usr/bin/env bash
# A module's private headers (*_int.h) are included only from its own folder
# (and from white-box unit tests under tests/), and a module includes another
# only through its one public header.
set -u
root=${1:-.}
bad=0
for dir in base engine net client repl cli bench tests; do
  [ -d "$root/$dir" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    case "$inc" in
      */*_int.h) [ "$dir" = tests ] || { echo "module boundary: $file includes $inc"; bad=1; } ;;
      */*) ;;
      *_int.h) [ "$(dirname "$file")" = "$root/$dir" ] || { echo "module boundary: $file includes $inc"; bad=1; } ;;
    esac
  done < <(grep -n '#include "' "$root/$dir"/*.[ch] 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
done
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
