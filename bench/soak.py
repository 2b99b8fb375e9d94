#!/usr/bin/env python3
"""Soak test: producers report random ALLOC/FREE events through libttalloc
while the harness kill -9s some of them and kill -9s and restarts the server;
at the end the server's picture must equal what the survivors hold, byte for
byte, and every killed producer must have exactly one leak report listing
exactly the buffers it held.

    python3 bench/soak.py [--build build] [--producers 8] [--events 1000000]
                          [--phases 20] [--kills 3] [--max-live 2000] [--seed 1]

`make soak` runs the full size (8 producers x 1 M events); the integration
test tests/integration/test_soak.py runs a small one through run_soak().

How the expected state is known: a producer (bench/soak_producer.c) runs a
deterministic random sequence in phases; after each phase it flushes (SYNC:
the server has applied everything), writes its live set to a file and pauses.
The harness kills a producer only while it is paused, after one more
successful flush (the server may have restarted in between), so the server
holds exactly the file's buffers for it at the moment of the kill. A killed
producer is replaced by a new one that runs the rest of its events, so the
producers report `producers x events` events in all. The server restart
happens while producers are running (not paused): they see the server go,
keep their tables, reconnect and re-send them.

Checks, all exact:
  - each killed producer: one "exited but left N buffers" report, N and the
    listed (device, address, size, type) = its live file;
  - at the end: DUMP_REMAINING lists exactly the survivors' live buffers (by
    pid), QUERY totals and DEVICE_STATUS (CB, host memory, buffer counts)
    equal the sums of the live files;
  - no duplicate ALLOC, unknown FREE or foreign FREE was ever logged
    (nothing counted twice or lost);
  - after the survivors quit holding their buffers: one exact leak report
    each, and every total back to zero.
"""

import argparse
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
import ttalloc  # noqa: E402
from ttalloc import protocol  # noqa: E402

TYPE_NAMES = {t: protocol.buffer_type_name(t) for t in range(protocol.BUFFER_TYPES)}
NAME_TYPES = {v: k for k, v in TYPE_NAMES.items()}
SEED_TOTALS = (("dram_allocated", ttalloc.DRAM), ("l1_allocated", ttalloc.L1),
               ("l1_small_allocated", ttalloc.L1_SMALL), ("trace_allocated", ttalloc.TRACE))
LEAK_HEAD_RE = re.compile(r"^⚠️  Process (\d+) exited but left (\d+) buffers? allocated:$")
LEAK_LINE_RE = re.compile(r"^    \[Device (\d+)\] Buffer (0x[0-9a-f]+): (\d+) bytes (\w+) \(age: \d+s\)$")
DUMP_HEAD_RE = re.compile(r"^📋 Remaining buffers \(requested by PID (\d+)\):$")
DUMP_LINE_RE = re.compile(r"^    \[Device (\d+)\] Buffer (0x[0-9a-f]+): (\d+) bytes (\w+) by PID (\d+) "
                          r"\(age: \d+s\)$")
DUMP_END_RE = re.compile(r"^    (\d+) buffers? listed$")
# what must never appear: something counted twice, or a FREE that missed
BAD_LINES = ("was already live", "no live buffer", "owned by another process", "claims PID")


class SoakError(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise SoakError(what)


def cmake_cache_flag(build, name):
    try:
        text = (Path(build) / "CMakeCache.txt").read_text()
    except OSError:
        return False
    return re.search(r"^%s:BOOL=ON$" % name, text, re.M) is not None


def compile_producer(build, out_dir, cc=None):
    """Builds bench/soak_producer.c against BUILD's libttalloc (sanitized like it)."""
    build = Path(build)
    cc = cc or shutil.which("cc") or shutil.which("gcc")
    exe = Path(out_dir) / "soak_producer"
    flags = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror"]
    if cmake_cache_flag(build, "TTALLOC_SANITIZE"):
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    elif cmake_cache_flag(build, "TTALLOC_TSAN"):
        flags += ["-fsanitize=thread"]
    cmd = [cc] + flags + ["-I", str(REPO / "include"), str(REPO / "bench/soak_producer.c"), "-o", str(exe),
                          "-L", str(build / "lib"), "-lttalloc", "-Wl,-rpath," + str(build / "lib")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise SoakError("compiling the producer failed:\n%s\n%s" % (" ".join(cmd), res.stderr))
    return exe


class LogTail:
    """Reads a growing log file incrementally, line by line."""

    def __init__(self, path):
        self.path = Path(path)
        self.pos = 0
        self.partial = b""
        self.lines = []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return 0
        self.pos += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in complete)
        return len(complete)

    def wait_for(self, rx, start, timeout, alive=None, interval=0.001):
        """Index of the first line >= start matching rx; raises after timeout."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.lines):
                if rx.search(self.lines[i]):
                    return i
                i += 1
            if time.monotonic() > deadline:
                raise SoakError("timed out after %.1f s waiting for %r in %s"
                                % (timeout, rx.pattern, self.path))
            if alive is not None and not alive():
                raise SoakError("the server died while waiting for %r" % rx.pattern)
            if not self.poll():
                time.sleep(interval)


class SoakServer:
    """ttalloc-server on a private socket, --quiet (leaks, errors, dumps only)."""

    def __init__(self, server_bin, socket_path, log_path, extra_args=()):
        self.bin = str(server_bin)
        self.socket = str(socket_path)
        self.log_path = Path(log_path)
        self.extra = list(extra_args)
        self.proc = None
        self.tail = LogTail(log_path)

    def start(self, timeout=30.0):
        help_text = subprocess.run([self.bin, "--help"], capture_output=True, text=True).stdout
        http = ["--no-http"] if "--no-http" in help_text else []
        # The live picture only, even under $CI: the soak counts killed producers' buffers gone.
        http += ["--no-retain-leaks"] if "--no-retain-leaks" in help_text else []
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "--socket", self.socket, "--quiet", "--leak-lines", "1000000"]
                                     + http + self.extra, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not ttalloc.is_server_running(self.socket):
            if self.proc.poll() is not None:
                raise SoakError("ttalloc-server exited with %s at start" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise SoakError("ttalloc-server did not start within %.0f s" % timeout)
            time.sleep(0.01)
        return time.monotonic()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def dump(self, timeout=60.0):
        return dump_remaining(self.socket, self.tail, self.alive, timeout)

    def leak_reports(self, pid):
        return leak_reports(self.tail, pid)


def dump_remaining(socket_path, tail, alive=None, timeout=60.0):
    """Asks for DUMP_REMAINING (as root: every process) and reads the listing
    from the server log: {(pid, device, address): (type, size)}."""
    tail.poll()
    start = len(tail.lines)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(socket_path))
        s.sendall(protocol.pack(protocol.DUMP_REMAINING, 0) + protocol.pack(protocol.SYNC, -1, size=1))
        data = b""
        while len(data) < protocol.MSG_SIZE:
            chunk = s.recv(protocol.MSG_SIZE - len(data))
            check(chunk, "the server closed the DUMP connection")
            data += chunk
    head = tail.wait_for(DUMP_HEAD_RE, start, timeout, alive)
    end = tail.wait_for(DUMP_END_RE, head + 1, timeout, alive)
    found = {}
    for line in tail.lines[head + 1:end]:
        m = DUMP_LINE_RE.match(line)
        check(m, "unexpected line in the dump: %r" % line)
        key = (int(m.group(5)), int(m.group(1)), int(m.group(2), 16))
        check(key not in found, "buffer listed twice in the dump: %r" % (key,))
        found[key] = (NAME_TYPES[m.group(4)], int(m.group(3)))
    check(int(DUMP_END_RE.match(tail.lines[end]).group(1)) == len(found), "dump count line")
    return found


def leak_reports(tail, pid):
    """Every leak report of pid in the log so far: [(count, {(device, address): (type, size)})]."""
    tail.poll()
    reports = []
    lines = tail.lines
    for i, line in enumerate(lines):
        m = LEAK_HEAD_RE.match(line)
        if not m or int(m.group(1)) != pid:
            continue
        bufs = {}
        for follow in lines[i + 1:]:
            if not follow.startswith(" "):
                break
            b = LEAK_LINE_RE.match(follow)
            if b:
                bufs[(int(b.group(1)), int(b.group(2), 16))] = (NAME_TYPES[b.group(4)], int(b.group(3)))
        reports.append((int(m.group(2)), bufs))
    return reports


class Producer:
    """One soak_producer process, driven by its stdin and stdout lines."""

    def __init__(self, exe, ident, seed, events, phases, max_live, work_dir, env):
        self.ident = ident
        self.live_path = Path(work_dir) / ("producer-%d.live" % ident)
        self.proc = subprocess.Popen([str(exe), str(ident), str(seed), str(events), str(phases), str(max_live),
                                      str(self.live_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.buf = b""
        self.lines = []
        self.pid = int(self.expect(r"^pid=(\d+)$", 30).group(1))
        self.state = "running"  # running, paused, done, killed, quit
        self.phase = -1
        self.events_done = 0

    def fileno(self):
        return self.proc.stdout.fileno()

    def read_available(self):
        """Reads what is there (call when select says readable); False at EOF."""
        chunk = os.read(self.fileno(), 65536)
        if not chunk:
            return False
        self.buf += chunk
        *complete, self.buf = self.buf.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def expect(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self.lines:
                line = self.lines.pop(0)
                m = rx.match(line)
                if m:
                    return m
                raise SoakError("producer %d: unexpected line %r (wanted %r)" % (self.ident, line, pattern))
            left = deadline - time.monotonic()
            check(left > 0, "producer %d: no %r within %.0f s" % (self.ident, pattern, timeout))
            r, _, _ = select.select([self], [], [], left)
            if r and not self.read_available():
                raise SoakError("producer %d exited (rc %s) before %r"
                                % (self.ident, self.proc.wait(), pattern))

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def flush(self, timeout=20.0):
        """Flushes until the server has everything (it may be restarting)."""
        deadline = time.monotonic() + timeout
        while True:
            self.send("flush")
            if int(self.expect(r"^flushed rc=(-?\d+)$", timeout).group(1)) == 0:
                return
            check(time.monotonic() < deadline, "producer %d cannot flush" % self.ident)
            time.sleep(0.05)

    def live_set(self):
        """{(device, address): (type, size)} from its last live file."""
        bufs = {}
        for line in self.live_path.read_text().splitlines():
            dev, btype, addr, size = line.split()
            bufs[(int(dev), int(addr, 16))] = (int(btype), int(size))
        return bufs

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.state = "killed"

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def expected_device_totals(live_sets, num_devices=2):
    """Per device: {buffer_type: bytes} and the buffer count."""
    totals = [{t: 0 for t in range(protocol.BUFFER_TYPES)} for _ in range(num_devices)]
    counts = [0] * num_devices
    for bufs in live_sets:
        for (dev, _), (btype, size) in bufs.items():
            totals[dev][btype] += size
            counts[dev] += 1
    return totals, counts


def check_server_state(server, survivors):
    """The server holds exactly the survivors' live sets: per buffer and in totals."""
    expected = {}
    for p in survivors:
        for (dev, addr), val in p.live_set().items():
            expected[(p.pid, dev, addr)] = val
    found = server.dump()
    if found != expected:
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        wrong = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])[:5]
        raise SoakError("server state differs from the survivors' live sets: %d missing %s, %d extra %s, "
                        "%d wrong %s" % (len(set(expected) - set(found)), missing,
                                         len(set(found) - set(expected)), extra, len(wrong), wrong))
    totals, counts = expected_device_totals([p.live_set() for p in survivors])
    for dev in (0, 1):
        q = ttalloc.query_device_stats(dev, socket_path=server.socket)
        for key, btype in SEED_TOTALS:
            check(q[key] == totals[dev][btype], "device %d %s: server %d, expected %d"
                  % (dev, key, q[key], totals[dev][btype]))
        st = ttalloc.device_status(dev, socket_path=server.socket)
        check(st.cb_allocated == totals[dev][ttalloc.CB], "device %d CB total" % dev)
        check(st.system_memory_allocated == totals[dev][ttalloc.SYSTEM_MEMORY], "device %d host total" % dev)
        check(st.buffer_count == counts[dev], "device %d live buffers: server %d, expected %d"
              % (dev, st.buffer_count, counts[dev]))
    return len(expected), sum(sum(t.values()) for t in totals)


def time_leak_report(server, producer, timeout, interval=0.001):
    """kill -9 of `producer` (flushed, so the server holds exactly its live
    file): the milliseconds from the kill to the first line of the server's
    leak report of it."""
    server.tail.poll()
    start_line = len(server.tail.lines)
    t0 = time.monotonic()
    producer.kill9()
    server.tail.wait_for(re.compile(r"^⚠️  Process %d exited but left" % producer.pid), start_line, timeout,
                         server.alive, interval=interval)
    return (time.monotonic() - t0) * 1000


def check_leak_report(server, producer, expected, timeout=30.0):
    """Exactly one leak report for producer's pid, listing exactly `expected`."""
    deadline = time.monotonic() + timeout
    while True:
        # the server may still be writing the report's lines
        reports = server.leak_reports(producer.pid)
        if (reports and all(len(bufs) == count for count, bufs in reports)) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    check(len(reports) == 1, "producer %d (pid %d): %d leak reports, expected 1"
          % (producer.ident, producer.pid, len(reports)))
    count, bufs = reports[0]
    check(count == len(expected) and bufs == expected,
          "producer %d (pid %d): leak report of %d buffers (%d listed), expected %d; %d differ"
          % (producer.ident, producer.pid, count, len(bufs), len(expected),
             len(set(bufs.items()) ^ set(expected.items()))))


def wait_resynced(server, pids, timeout):
    """Seconds until every pid has a process row (it reconnected and re-sent)."""
    start = time.monotonic()
    while True:
        try:
            seen = {p.pid for p in ttalloc.processes(socket_path=server.socket)}
        except (OSError, ttalloc.ServerError):
            seen = set()
        if set(pids) <= seen:
            return time.monotonic() - start
        check(time.monotonic() - start < timeout, "not resynced within %.1f s: %s"
              % (timeout, sorted(set(pids) - seen)))
        time.sleep(0.01)


def run_soak(build, producers=8, events=1_000_000, phases=20, kills=3, restarts=1, max_live=2000, seed=1,
             work_dir=None, log=print, kill_latency_limit=None, resync_limit=None):
    """Runs the soak; raises SoakError on any mismatch; returns a dict of figures."""
    build = Path(build)
    rng = random.Random(seed)
    own_dir = work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="ttsoak", dir="/tmp") if own_dir else work_dir)
    exe = compile_producer(build, work_dir)
    server = SoakServer(build / "bin/ttalloc-server", work_dir / "s.sock", work_dir / "server.log")
    env = dict(os.environ, TT_ALLOC_SERVER_SOCKET=server.socket, TT_ALLOC_TRACKING_ENABLED="1")
    env.pop("TTALLOC_SESSION", None)
    figures = {"producers": producers, "events_per_producer": events, "phases": phases,
               "kill_latency_ms": [], "resync_s": [], "killed": 0}
    procs = []
    t_start = time.monotonic()
    try:
        server.start()
        # kill plan: `kills` distinct slots, each at a random phase before the last
        plan = dict(zip(rng.sample(range(producers), min(kills, producers)),
                        (rng.randrange(phases - 1) for _ in range(kills)))) if phases > 1 else {}
        total_pauses = producers * phases
        restart_at = sorted(rng.sample(range(total_pauses // 4, max(total_pauses // 4 + 1, total_pauses * 3 // 4)),
                                       restarts)) if restarts else []
        pauses = 0
        next_ident = 0
        slot_of = {}
        for slot in range(producers):
            p = Producer(exe, next_ident, seed, events, phases, max_live, work_dir, env)
            slot_of[p.ident] = (slot, 0)
            next_ident += 1
            procs.append(p)
        survivors_done = []
        killed = []
        while True:
            running = [p for p in procs if p.state in ("running",)]
            if not running:
                break
            # Lines read with an earlier one (a fast producer's first phase arrives with its pid line)
            # wait in p.lines; select() would never report them.
            pending = [p for p in running if p.lines]
            readable, _, _ = select.select(running, [], [], 0 if pending else 60.0)
            check(readable or pending, "no producer progressed for 60 s")
            for p in [p for p in running if p in readable or p.lines]:
                if p in readable and not p.read_available():
                    raise SoakError("producer %d (pid %d) exited (rc %s)" % (p.ident, p.pid, p.proc.wait()))
                while p.lines:
                    line = p.lines.pop(0)
                    m = re.match(r"^(phase|done) (\d+) rc=(-?\d+) live=(\d+) events=(\d+) failed=(\d+)$", line)
                    check(m, "producer %d: unexpected line %r" % (p.ident, line))
                    check(m.group(6) == "0", "producer %d: library errors other than no-server" % p.ident)
                    p.phase = int(m.group(2))
                    p.events_done = int(m.group(5))
                    pauses += 1
                    slot, phase_offset = slot_of[p.ident]
                    if m.group(1) == "done":
                        p.state = "done"
                        survivors_done.append(p)
                    elif plan.get(slot) == p.phase + phase_offset:
                        # kill it while paused, the server holding exactly its file
                        p.flush()
                        expected = p.live_set()
                        latency = time_leak_report(server, p, 30.0)
                        figures["kill_latency_ms"].append(latency)
                        if kill_latency_limit is not None:
                            check(latency < kill_latency_limit, "leak report %.0f ms after the kill" % latency)
                        check_leak_report(server, p, expected)
                        killed.append(p)
                        figures["killed"] += 1
                        del plan[slot]
                        # the replacement runs the rest of the slot's events
                        left_phases = phases - 1 - (p.phase + phase_offset)
                        q = Producer(exe, next_ident, seed, events * left_phases // phases, left_phases,
                                     max_live, work_dir, env)
                        slot_of[q.ident] = (slot, p.phase + phase_offset + 1)
                        next_ident += 1
                        procs.append(q)
                        log("  killed producer %d (pid %d) at phase %d holding %d buffers: leak report after "
                            "%.1f ms, exact" % (p.ident, p.pid, p.phase + phase_offset, len(expected), latency))
                    else:
                        p.send("go")
                    if restart_at and pauses >= restart_at[0]:
                        restart_at.pop(0)
                        server.kill9()
                        ready = server.start()
                        live = [x.pid for x in procs if x.state in ("running", "done")]
                        took = wait_resynced(server, live, 30.0)
                        figures["resync_s"].append(took)
                        if resync_limit is not None:
                            check(took < resync_limit, "resync took %.2f s" % took)
                        log("  server kill -9 + restart after %d pauses: %d producers back %.2f s after the "
                            "new server was ready" % (pauses, len(live), time.monotonic() - ready))
        survivors = [p for p in procs if p.state == "done"]
        for p in survivors:
            p.flush()
        figures["wall_s"] = time.monotonic() - t_start
        figures["events_total"] = sum(p.events_done for p in procs)
        n, nbytes = check_server_state(server, survivors)
        figures["final_buffers"], figures["final_bytes"] = n, nbytes
        log("  final state: %d buffers, %d bytes over %d survivors: equal to their live sets"
            % (n, nbytes, len(survivors)))
        server.tail.poll()
        bad = [line for line in server.tail.lines if any(b in line for b in BAD_LINES)]
        check(not bad, "the server logged %d events counted twice or missed, e.g. %r" % (len(bad), bad[:3]))
        # survivors quit holding their sets: one exact report each, totals back to zero
        for p in survivors:
            expected = p.live_set()
            p.send("quit")
            p.proc.wait(30)
            p.state = "quit"
            check_leak_report(server, p, expected)
        for dev in (0, 1):
            st = ttalloc.device_status(dev, socket_path=server.socket)
            check(st.buffer_count == 0 and st.cb_allocated == 0 and st.system_memory_allocated == 0,
                  "device %d not empty after every producer exited" % dev)
        for p in killed:  # still exactly one report each
            check(len(server.leak_reports(p.pid)) == 1, "producer %d: more than one leak report" % p.ident)
        check(server.alive(), "the server died")
        figures["server_rc"] = server.stop()
        check(figures["server_rc"] == 0, "ttalloc-server exited with %s" % figures["server_rc"])
        return figures
    finally:
        for p in procs:
            p.close()
        if server.alive():
            server.stop()
        if own_dir and figures.get("server_rc") == 0:
            shutil.rmtree(work_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--producers", type=int, default=8)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--phases", type=int, default=20)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--max-live", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print("soak: %d producers x %d events, %d phases, %d kills, %d server restart(s), seed %d"
          % (args.producers, args.events, args.phases, args.kills, args.restarts, args.seed), flush=True)
    try:
        f = run_soak(args.build, args.producers, args.events, args.phases, args.kills, args.restarts,
                     args.max_live, args.seed, log=lambda s: print(s, flush=True))
    except SoakError as e:
        print("soak: FAILED: %s" % e, flush=True)
        return 1
    lat = sorted(f["kill_latency_ms"])
    print("soak: PASSED: %d events in %.1f s (%.0f events/s), %d producers killed (leak reports %s ms "
          "after the kill), server restarted %d time(s) (all producers back in %s s), final %d buffers / %d "
          "bytes exact" % (f["events_total"], f["wall_s"], f["events_total"] / f["wall_s"], f["killed"],
                           ", ".join("%.1f" % x for x in lat), len(f["resync_s"]),
                           ", ".join("%.2f" % x for x in f["resync_s"]), f["final_buffers"], f["final_bytes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
