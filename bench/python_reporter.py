#!/usr/bin/python3
"""Issue 15's row: the Python Reporter's cost per event, through libttalloc
(ctypes) and in pure Python, in the same run: `make bench-python`.

    /usr/bin/python3 bench/python_reporter.py [--build build] [--runs 7] [--pairs 100000] [--no-write]

Row P1: `Reporter.report_alloc` + `report_free` pairs of one DRAM buffer
(1024 addresses in turn) from a loop in one process, the default Reporter
of a process with TT_ALLOC_TRACKING_ENABLED=1: with $TTALLOC_LIBRARY naming
the build's libttalloc.so.0 (ctypes: the library's shared-memory ring) and
with TTALLOC_LIBRARY=off (pure Python: a 112-byte frame written to the
socket per event). Each run is one process per implementation, runs
alternating, each timed with time.perf_counter around PAIRS pairs after a
warm-up; the figure is µs per event (per call), the median over runs.
The floor: the same loop calling the library's ttalloc_report_alloc and
_free through ctypes directly, with nothing of the Reporter around them.

Correctness: after each run the reporter flushes, and the server must
have counted every ALLOC and FREE sent (ttalloc_events_total) with nothing
refused, and hold nothing.

Prints a table and rewrites the section between the python-reporter
markers of bench/RESULTS.md (unless --no-write); the rest of the file is
left as it is. Exit 0 whatever the timings, 1 when a check fails.
"""

import argparse
import datetime
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from results_md import commit, machine, publish  # noqa: E402
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- python-reporter:begin -->", "<!-- python-reporter:end -->"
TARGET_US = 1.0

# One run: PAIRS alloc/free pairs after a warm-up; prints µs per event and what was sent.
CLIENT = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
import ttalloc
mode, pairs = sys.argv[1], int(sys.argv[2])
if mode == "floor":
    from ttalloc import library
    lib = library.load()
    lib.ttalloc_init()
    alloc, free = lib.ttalloc_report_alloc, lib.ttalloc_report_free
else:
    r = ttalloc.default_reporter()
    assert r.library == (mode == "library"), (mode, r.library)
    alloc, free = r.report_alloc, r.report_free

def loop(n):
    t0 = time.perf_counter()
    for i in range(n):
        a = 0x800000000 + (i & 1023) * 4096
        alloc(0, 0, a, 4096)
        free(0, a)
    return time.perf_counter() - t0

loop(2000)  # connect, attach the ring, warm up
elapsed = loop(pairs)
ok = lib.ttalloc_flush() == 0 if mode == "floor" else r.flush()
print("us %.4f" % (elapsed / (2 * pairs) * 1e6))
print("sent %d" % (2000 + pairs))
print("flushed %d" % ok)
"""


def log(text):
    print(text, file=sys.stderr, flush=True)


class Server:
    def __init__(self, build, work):
        self.socket = str(work / "py.sock")
        self.log_path = work / "server.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(build / "bin/ttalloc-server"), "--socket", self.socket, "--devices", "sim:2",
                                      "--http", "127.0.0.1:0", "--quiet", "--no-tt-metal-shm"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        self.url = None
        while not self.url and time.monotonic() < deadline:
            m = re.search(r"Dashboard: (http://[\d.]+:\d+)/", self.log_path.read_text())
            if m:
                self.url = m.group(1)
            else:
                time.sleep(0.05)  # poll period of a bounded wait for the banner
        if not self.url:
            raise SystemExit("ttalloc-server did not start:\n" + self.log_path.read_text())

    def metric(self, name, **labels):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=10).read().decode()
        total = 0.0
        for line in text.splitlines():
            m = re.match(r"^%s(?:\{(.*)\})? (\S+)$" % re.escape(name), line)
            if m and all('%s="%s"' % kv in (m.group(1) or "") for kv in labels.items()):
                total += float(m.group(2))
        return total

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--pairs", type=int, default=100000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    build = Path(args.build).resolve()
    libttalloc = build / "lib" / "libttalloc.so.0"
    if not libttalloc.exists():
        raise SystemExit("%s is missing: make build first" % libttalloc)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    host = machine()
    failures = []
    results = {"library": [], "python": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="ttpy") as work:
        server = Server(build, Path(work))
        sent = 0
        try:
            for run in range(args.runs):
                for mode in ("library", "python", "floor"):
                    env = dict(os.environ, TT_ALLOC_TRACKING_ENABLED="1", TT_ALLOC_SERVER_SOCKET=server.socket,
                               TTALLOC_LIBRARY=str(libttalloc) if mode != "python" else "off")
                    env.pop("TT_ALLOC_STACK_TRACE", None)
                    res = subprocess.run([sys.executable, "-c", CLIENT, mode, str(args.pairs), str(REPO / "python")],
                                         env=env, capture_output=True, text=True, timeout=600)
                    if res.returncode != 0:
                        raise SystemExit("the %s client failed:\n%s" % (mode, res.stderr))
                    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
                    results[mode].append(float(out["us"]))
                    sent += int(out["sent"])
                    if out["flushed"] != "1":
                        failures.append("run %d (%s): the flush failed" % (run, mode))
                    log("run %d %-7s %.3f µs per event" % (run, mode, float(out["us"])))
            for kind in ("alloc", "free"):
                counted = server.metric("ttalloc_events_total", kind=kind)
                if counted != sent:
                    failures.append("ttalloc_events_total{kind=%s} = %d, %d sent" % (kind, counted, sent))
            refused = server.metric("ttalloc_protocol_errors_total")
            if refused:
                failures.append("%d events refused (ttalloc_protocol_errors_total)" % refused)
            live = server.metric("ttalloc_live_buffers")
            if live:
                failures.append("%d buffers live after every client freed everything" % live)
        finally:
            server.stop()
    lib_us, py_us, floor_us = (statistics.median(results[m]) for m in ("library", "python", "floor"))
    verdict = "PASS" if lib_us <= TARGET_US else "**FAIL**"
    section = "\n".join([
        BEGIN,
        "## Issue 15: the Python Reporter through libttalloc (`make bench-python`)",
        "",
        "Written by `bench/python_reporter.py`; the section between the `python-reporter:begin` and "
        "`python-reporter:end` markers is regenerated at each run.",
        "",
        "- Machine: %s" % host,
        "- Date: %s UTC; commit %s; %d runs of %d alloc/free pairs per implementation, alternating"
        % (started, commit(), args.runs, args.pairs),
        "",
        "| row | what | measured (median; best) | baseline, same run | target | result |",
        "|---|---|---|---|---|---|",
        "| P1 | `Reporter.report_alloc` + `report_free`, µs per event, through libttalloc (ctypes) | %.2f µs; %.2f |"
        " pure Python (a socket write per event): %.2f µs; %.2f (%.1f× slower); the bare ctypes calls: %.2f µs "
        "| ≤ %.0f µs | %s |" % (lib_us, min(results["library"]), py_us, min(results["python"]), py_us / lib_us,
                               floor_us, TARGET_US, verdict),
        "",
        "Per run (µs per event): library %s; pure Python %s; bare ctypes %s."
        % tuple(", ".join("%.3f" % v for v in results[m]) for m in ("library", "python", "floor")),
        "",
        "Correctness: %s" % ("every check passed." if not failures else "; ".join(failures)),
        END,
    ])
    return publish(RESULTS, BEGIN, END, section, failures, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
