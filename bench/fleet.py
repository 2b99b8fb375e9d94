#!/usr/bin/python3
"""Issue 14's figures: `make bench-fleet`.

    /usr/bin/python3 bench/fleet.py [--build build] [--procs 500] [--buffers 2000] [--no-write]

Row F1 - cardinality: a simulated 32-device host (`--devices sim:32`) with
PROCS reporting processes (ttalloc-load, each holding BUFFERS buffers spread
over the 32 devices: 1 M buffers by default). GET /metrics 30 times on one
keep-alive connection: wall time (render and loopback transfer), size,
series, and the per-process series per device, with the default
(`--metrics-processes top:50`) and, as the same-run baseline, with
`--metrics-processes all` (a second server, filled the same way). The
render alone (metrics_render, no HTTP) is measured by bench_metrics_render
on a registry of the same shape, in one process.

Row F2 - abusive clients: GET /metrics (a fresh connection each) on an idle
server, then with 2 000 /api/events clients that never read (from
127.0.0.2), 500 half-sent requests (127.0.0.3) and a 1 MB header
(127.0.0.4) holding on; and a seed QUERY round trip over the Unix socket in
both cases (tracking must not notice).

Prints a table and rewrites the section between the fleet:begin/end
markers of bench/RESULTS.md (unless --no-write). Exit 0 whatever the
timings; 1 when a check fails (buffers not all counted, bounds not kept).
"""

import argparse
import datetime
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from http_support import open_many  # noqa: E402  (the abusive clients of test_http_fleet_safety.py)
from results_md import commit, machine, publish  # noqa: E402
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- fleet:begin -->", "<!-- fleet:end -->"
FRAME = struct.Struct("=BBBB i Q BBBB i Q Q QQQQ QQIIIIII")
QUERY, RESPONSE = 3, 4


def log(text):
    print(text, file=sys.stderr, flush=True)


class Server:
    def __init__(self, build, work, name, args):
        self.socket = str(work / (name + ".sock"))
        self.log = open(work / (name + ".log"), "w")
        self.proc = subprocess.Popen([str(build / "bin/ttalloc-server"), "--socket", self.socket, "--http",
                                      "127.0.0.1:0", "--log-level", "warn", "--no-tt-metal-shm"] + args,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        self.url = None
        while not self.url and time.monotonic() < deadline:
            m = re.search(r"Dashboard: http://([\d.]+):(\d+)/", (work / (name + ".log")).read_text())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                self.url = "http://%s:%d" % (self.host, self.port)
            else:
                time.sleep(0.05)  # poll period of a bounded wait for the banner
        if not self.url:
            raise SystemExit("ttalloc-server did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def get(host, port, path="/metrics", conn=None):
    c = conn or http.client.HTTPConnection(host, port, timeout=30)
    t0 = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    took = time.perf_counter() - t0
    if not conn:
        c.close()
    return took, r.status, body


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fill(build, server, procs, buffers):
    """PROCS ttalloc-load processes holding BUFFERS each over the 32 devices; waits until all are counted."""
    env = dict(os.environ, TT_ALLOC_TRACKING_ENABLED="1", TT_ALLOC_SERVER_SOCKET=server.socket)
    devices = ",".join(str(d) for d in range(32))
    loads = [subprocess.Popen([str(build / "bin/ttalloc-load"), "--pattern", "hold", "--count", str(buffers),
                               "--size", "4K", "--device", devices, "--hold-ms", "-1", "-q"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(procs)]
    want = procs * buffers
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        body = get(server.host, server.port)[2].decode()
        live = sum(float(v) for v in re.findall(r'^ttalloc_live_buffers\{device="\d+"\} (\S+)$', body, re.M))
        if live >= want:
            return loads, True
        time.sleep(0.5)  # poll period of a bounded wait for the fill
    return loads, False


def series_figures(body):
    text = body.decode()
    per_device = {}
    for device, pid in re.findall(r'^ttalloc_process_memory_used_bytes\{device="(\d+)",pid="(\d+)"', text, re.M):
        per_device.setdefault(device, set()).add(pid)
    return {"bytes": len(body), "series": sum(1 for l in text.splitlines() if l and not l.startswith("#")),
            "process_series": sum(1 for l in text.splitlines() if l.startswith("ttalloc_process_memory_used_bytes")),
            "pids_per_device": max((len(p) for p in per_device.values()), default=0),
            "other": len(re.findall(r'^ttalloc_process_memory_used_bytes\{[^}]*pid="other"', text, re.M))}


def row_cardinality(build, work, procs, buffers):
    out = {}
    for mode in ("top:50", "all"):
        log("F1: %s, %d processes x %d buffers on sim:32" % (mode, procs, buffers))
        server = Server(build, work, "f1-" + mode.replace(":", ""), ["--devices", "sim:32",
                                                                      "--metrics-processes", mode])
        loads, ok = fill(build, server, procs, buffers)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        for _ in range(3):
            get(server.host, server.port, conn=conn)  # warm-up
        took = [get(server.host, server.port, conn=conn)[0] * 1000 for _ in range(30)]
        body = get(server.host, server.port, conn=conn)[2]
        conn.close()
        out[mode] = dict(series_figures(body), p50=statistics.median(took), p99=pct(took, 0.99), filled=ok)
        server.stop()
        for p in loads:
            p.send_signal(signal.SIGTERM)
        for p in loads:
            p.wait(60)
    return out


def render_only(build, procs, buffers):
    """bench_metrics_render's median and best render times (ms) for top:50 and all."""
    out = {}
    for mode in ("top:50", "all"):
        r = subprocess.run([str(build / "bench/bench_metrics_render"), str(procs), str(buffers), mode, "30"],
                           capture_output=True, text=True, timeout=600)
        out[mode] = {k: float(v) for k, v in re.findall(r"^result (\S+) (\S+)$", r.stdout, re.M)}
    return out


def query_rtt(path, n=200):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    took = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(FRAME.pack(QUERY, 0, 0, 0, 0, *([0] * 20)))
        got = b""
        while len(got) < FRAME.size:
            got += s.recv(FRAME.size - len(got))
        took.append((time.perf_counter() - t0) * 1e6)
    s.close()
    return statistics.median(took)


def row_abuse(build, work):
    log("F2: /metrics and QUERY with abusive HTTP clients")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    server = Server(build, work, "f2", [])
    idle = [get(server.host, server.port)[0] * 1000 for _ in range(50)]
    idle_q = query_rtt(server.socket)
    held = open_many(server.host, server.port, "127.0.0.2", 2000, b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    held += open_many(server.host, server.port, "127.0.0.3", 500, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    big = socket.create_connection((server.host, server.port), timeout=2, source_address=("127.0.0.4", 0))
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    except OSError:
        pass
    loaded = [get(server.host, server.port)[0] * 1000 for _ in range(50)]
    loaded_q = query_rtt(server.socket)
    body = get(server.host, server.port)[2].decode()
    refused = dict(re.findall(r'^ttalloc_http_refused_total\{reason="(\w+)"\} (\S+)$', body, re.M))
    for s in held + [big]:
        s.close()
    server.stop()
    return {"idle_p50": statistics.median(idle), "idle_p99": pct(idle, 0.99),
            "loaded_p50": statistics.median(loaded), "loaded_p99": pct(loaded, 0.99), "loaded_max": max(loaded),
            "query_idle_us": idle_q, "query_loaded_us": loaded_q, "refused": refused}


def render(f1, f2, args, started, failures):
    top, every = f1["top:50"], f1["all"]
    rtop, rall = f1["render"]["top:50"], f1["render"]["all"]
    lines = [
        BEGIN,
        "## Issue 14: a fleet's /metrics (`make bench-fleet`)",
        "",
        "Written by `bench/fleet.py`; the section between the `fleet:begin` and `fleet:end` markers is "
        "regenerated at each run.",
        "",
        "- Machine: %s" % machine(),
        "- Date: %s UTC; commit %s; RelWithDebInfo build" % (started, commit()),
        "",
        "| row | what | measured | baseline, same run | target | result |",
        "|---|---|---|---|---|---|",
        "| F1a | `/metrics` render (metrics_render, no HTTP) on `sim:32`, %d processes, %d k buffers, default "
        "`top:50`: p50 / best of 30 | %.2f / %.2f ms | `--metrics-processes all`: %.2f / %.2f ms | render ≤ 5 ms | %s |"
        % (args.procs, args.procs * args.buffers // 1000, rtop["render_p50_ms"], rtop["render_best_ms"],
           rall["render_p50_ms"], rall["render_best_ms"], "PASS" if rtop["render_p50_ms"] <= 5 else "**FAIL**"),
        "| F1a' | the same host with %d real `ttalloc-load` processes: GET /metrics wall time (render, loopback "
        "transfer, client read) p50 / p99 | %.2f / %.2f ms | `all`: %.2f / %.2f ms | | |"
        % (args.procs, top["p50"], top["p99"], every["p50"], every["p99"]),
        "| F1b | per-process series per device (distinct pids), plus `other` | %d (+ %d `other` series) "
        "| `all`: %d | ≤ 50 + other | %s |"
        % (top["pids_per_device"], top["other"], every["pids_per_device"],
           "PASS" if top["pids_per_device"] <= 50 else "**FAIL**"),
        "| F1c | series / size of one scrape | %d series (%d per-process), %d KB | `all`: %d series (%d), %d KB "
        "| | |" % (top["series"], top["process_series"], top["bytes"] // 1024, every["series"],
                   every["process_series"], every["bytes"] // 1024),
        "| F2a | `/metrics` (fresh connection) with 2 000 never-reading event streams, 500 half-sent requests, "
        "a 1 MB header: p50 / p99 / max | %.2f / %.2f / %.2f ms | idle server: %.2f / %.2f ms | < 100 ms | %s |"
        % (f2["loaded_p50"], f2["loaded_p99"], f2["loaded_max"], f2["idle_p50"], f2["idle_p99"],
           "PASS" if f2["loaded_max"] < 100 else "**FAIL**"),
        "| F2b | seed QUERY round trip over the socket, same abuse (p50) | %.1f µs | idle: %.1f µs | unaffected "
        "| %s |" % (f2["query_loaded_us"], f2["query_idle_us"],
                    "PASS" if f2["query_loaded_us"] < 10 * max(f2["query_idle_us"], 50) else "**FAIL**"),
        "",
        "Refusals counted during F2 (`ttalloc_http_refused_total`): %s."
        % ", ".join("%s %s" % (k, v.split(".")[0]) for k, v in sorted(f2["refused"].items())),
        "",
        "Correctness: %s." % ("every check passed" if not failures else "; ".join(failures)),
        END,
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--procs", type=int, default=500)
    ap.add_argument("--buffers", type=int, default=2000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    build = Path(args.build).resolve()
    work = Path(tempfile.mkdtemp(prefix="ttalloc-fleet."))
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    try:
        f1 = row_cardinality(build, work, args.procs, args.buffers)
        f1["render"] = render_only(build, args.procs, args.buffers)
        f2 = row_abuse(build, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failures = ["F1 %s: not every buffer was counted" % m for m in ("top:50", "all") if not f1[m]["filled"]]
    if f1["top:50"]["pids_per_device"] > 50:
        failures.append("F1: more than 50 per-process series on a device")
    section = render(f1, f2, args, started, failures)
    return publish(RESULTS, BEGIN, END, section, failures, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
