#!/usr/bin/python3
"""bench_python_stacks: what TT_ALLOC_STACK_TRACE=1 costs the Python Reporter
per report (bench/README.md, row 9): report_alloc + report_free pairs from a
call 12 frames deep, with and without stack capture, against the server at
$TT_ALLOC_SERVER_SOCKET, runs alternating. A pair reuses one call site, so
after the first, each report captures and looks up its stack but defines
nothing new (the steady state of a program's loop).

    python3 bench/python_stacks.py [RUNS] [PAIRS]

Prints `result plain.rK.us` and `result stacks.rK.us` (µs per report of run
K) and `result sent.alloc N` / `result sent.free N` for run.py's counters.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import ttalloc  # noqa: E402

DEPTH = 12


def pairs(reporter, n, depth):
    """n alloc/free pairs, reported from `depth` frames down."""
    if depth > 0:
        return pairs(reporter, n, depth - 1)
    t0 = time.perf_counter()
    for i in range(n):
        reporter.report_alloc(0, ttalloc.DRAM, 0x800000000 + (i % 1024) * 4096, 4096)
        reporter.report_free(0, 0x800000000 + (i % 1024) * 4096)
    return (time.perf_counter() - t0) / (2 * n) * 1e6


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    # both pure Python (library=False): the stacks' cost, not libttalloc's (bench/python_reporter.py)
    reporters = {name: ttalloc.Reporter(stack_traces=name == "stacks", watch=False, library=False)
                 for name in ("plain", "stacks")}
    for r in reporters.values():
        pairs(r, 200, DEPTH)  # connect, define the stack once, warm up
    for k in range(runs):
        for name, r in reporters.items():
            print("result %s.r%d.us %.3f" % (name, k, pairs(r, n, DEPTH)), flush=True)
    for r in reporters.values():
        if not r.flush():
            print("CORRECTNESS FAILURE (python stacks): flush failed: %s" % r.last_error, file=sys.stderr)
            sys.exit(1)
        r.close()
    events = len(reporters) * (200 + runs * n)
    print("result sent.alloc %d" % events)
    print("result sent.free %d" % events)


if __name__ == "__main__":
    main()
