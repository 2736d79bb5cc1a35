#!/usr/bin/env bash
# tests/client_link.sh BUILD_DIR SOURCE_DIR: libweir_client as its users get it.
#  (1) libweir_client.so exports exactly the functions client/client.h marks
#      WEIR_API (nothing of base/, proto/ or record/);
#  (2) `cmake --install` into a temporary prefix; a program built with
#      `pkg-config --cflags --libs weir-client` (shared) and one linked with the
#      static archive and `pkg-config --static --libs` both run.
# Exit 77 when nm, pkg-config or cc is missing.
set -u
build=$1 src=$2
for tool in nm pkg-config cc; do command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }; done
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

so=$build/libweir_client.so
want=$(sed -nE 's/^WEIR_API [^(]*[ *]([a-z_0-9]+)\(.*/\1/p' "$src/client/client.h" | sort)
got=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRW]$/ { sub(/@.*/, "", $3); print $3 }' | sort)
if [ -n "$want" ] && [ "$want" = "$got" ]; then
  ok "libweir_client.so exports the $(echo "$want" | wc -l) WEIR_API functions and nothing else"
else
  bad "exports differ from client.h's WEIR_API list:"; diff <(echo "$want") <(echo "$got")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  ok "cmake --install"
else
  bad "cmake --install"; cat "$tmp/install.log"; exit 1
fi
pc=$(find "$tmp/prefix" -name weir-client.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")
cat >"$tmp/prog.c" <<'C'
#include <weir/client.h>
#include <stdio.h>
int main(void)
{
    char err[256];
    struct weir_conf *c = weir_conf_new();
    if (weir_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof err) != WEIR_CONF_OK) return 1;
    if (weir_conf_set(c, "max.block.ms", "0", err, sizeof err) != WEIR_CONF_OK) return 1;
    struct weir_producer *p = weir_producer_new(c, err, sizeof err);
    weir_conf_destroy(c);
    if (!p || weir_murmur2("kafka", 5) != 0xd067cf64u) return 2;
    struct weir_msg m = { .topic = "t", .partition = WEIR_PARTITION_ANY, .value = "v", .value_len = 1 };
    if (weir_producer_send(p, &m) != WEIR_CLIENT_E_TIMED_OUT) return 3; /* no broker, no wait */
    weir_producer_destroy(p);
    puts("linked and ran");
    return 0;
}
C
# An instrumented library needs an instrumented program.
san=""
if nm "$so" 2>/dev/null | grep -q __asan_init || nm -D "$so" | grep -q __asan_init; then san="-fsanitize=address,undefined"; fi
libdir=$(dirname "$(find "$tmp/prefix" -name 'libweir_client.a' | head -1)")
if cc $san -o "$tmp/prog_shared" "$tmp/prog.c" $(pkg-config --cflags --libs weir-client) &&
   LD_LIBRARY_PATH=$libdir "$tmp/prog_shared"; then
  ok "shared: pkg-config --cflags --libs weir-client"
else
  bad "shared: pkg-config --cflags --libs weir-client ($(pkg-config --cflags --libs weir-client))"
fi
if cc $san -o "$tmp/prog_static" "$tmp/prog.c" $(pkg-config --cflags weir-client) "$libdir/libweir_client.a" \
     $(pkg-config --static --libs weir-client | sed 's/-lweir_client//') && "$tmp/prog_static"; then
  ok "static: libweir_client.a with pkg-config --static --libs weir-client"
else
  bad "static: libweir_client.a ($(pkg-config --static --libs weir-client))"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
