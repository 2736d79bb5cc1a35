#!/usr/bin/env python3
"""Which net/ files call which: from the symbols of the compiled objects.

Usage: scripts/callgraph.py [--check] [OBJDIR]   (default build/rel/CMakeFiles/weir_net.dir/net)

For each net/*.c.o, `nm` gives the global symbols it defines and the ones it
uses; a use resolved by another net/ object is an edge file -> file (labelled
with the functions). Prints the edges, then the cycles among net/ files as
strongly connected components (two or more files that reach each other).
Exit 0, or with --check (a ctest) 1 when net/ files form a cycle or reactor.c
calls into another net/ file but limits.c: the reactor stays below the
handlers, which reach it through hooks. Static functions and macros are not
seen (they do not cross files)."""
import os
import subprocess
import sys


def symbols(path):
    out = subprocess.run(["nm", "-g", path], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRCVW":
            defined.add(parts[2])
    return defined, used


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    objdir = args[0] if args else "build/rel/CMakeFiles/weir_net.dir/net"
    objs = sorted(f for f in os.listdir(objdir) if f.endswith(".c.o"))
    if not objs:
        sys.exit(f"callgraph: no net/*.c.o in {objdir} (build first)")
    defs, uses = {}, {}
    for f in objs:
        name = f[:-2]  # x.c
        defs[name], uses[name] = symbols(os.path.join(objdir, f))
    owner = {s: n for n, ds in defs.items() for s in ds}
    edges, labels = {}, {}
    for n in sorted(uses):
        for s in sorted(uses[n]):
            m = owner.get(s)
            if m and m != n:
                edges.setdefault(n, set()).add(m)
                labels.setdefault((n, m), []).append(s)
    print("# calls between net/ files (caller -> callee: functions)")
    for n in sorted(edges):
        for m in sorted(edges[n]):
            print(f"{n} -> {m}: {', '.join(labels[(n, m)])}")
    comps = [c for c in sccs(defs.keys(), edges) if len(c) > 1]
    print(f"# cycles (strongly connected sets of net/ files): {len(comps)}")
    for c in comps:
        print("cycle: " + " ".join(c))
    reactor_up = sorted(edges.get("reactor.c", ()))
    print("# reactor.c calls into: " + (" ".join(reactor_up) if reactor_up else "(no other net/ file)"))
    if check:
        bad = comps or [m for m in reactor_up if m != "limits.c"]
        print("0 passed, 1 failed" if bad else "1 passed, 0 failed")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
