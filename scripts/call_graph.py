#!/usr/bin/env python3
"""Which files of src/ call which, from the symbols of a build's objects.

    scripts/call_graph.py [BUILD_DIR]        # default build/

Reads every object compiled from src/ (nm: defined and undefined symbols),
joins a file's undefined symbols to the files that define them, and prints
each group of files that call each other in a loop (a strongly connected
component of more than one file). Exit status 1 when there is one: the
layers (docs/DESIGN.md) call downwards only, and a callback crosses
upwards through a function pointer, which is no call here.
"""

import collections
import glob
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_of(obj):
    """src/... path an object was compiled from, or None."""
    if "/src/" not in obj or not obj.endswith(".c.o"):
        return None
    rel = obj.split("/src/", 1)[1][:-2]
    return rel if os.path.exists(os.path.join(REPO, "src", rel)) else None


def symbols(build):
    """({symbol: defining file}, {file: set of undefined symbols})."""
    defined, used, seen = {}, collections.defaultdict(set), set()
    for obj in sorted(glob.glob(os.path.join(build, "CMakeFiles", "**", "*.o"), recursive=True)):
        src = source_of(obj)
        if not src or src in seen:
            continue
        seen.add(src)
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRC":
                defined.setdefault(parts[2], src)
            elif len(parts) == 2 and parts[0] == "U":
                used[src].add(parts[1])
    return defined, used, seen


def call_graph(build):
    defined, used, files = symbols(build)
    graph = {f: set() for f in files}
    for src, names in used.items():
        for name in names:
            target = defined.get(name)
            if target and target != src:
                graph[src].add(target)
    return graph


def loops(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
    graph = call_graph(build)
    if not graph:
        print("call_graph: no objects from src/ under %s: build first" % build, file=sys.stderr)
        return 2
    found = loops(graph)
    for component in found:
        print("files calling each other in a loop:")
        for f in component:
            print("  %s -> %s" % (f, ", ".join(sorted(g for g in graph[f] if g in component))))
    if not found:
        print("call_graph: %d files, no loop" % len(graph))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
