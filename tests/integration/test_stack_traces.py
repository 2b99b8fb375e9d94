"""Allocation stack traces (TT_ALLOC_STACK_TRACE=1): captured by libttalloc
with libunwind, defined once per distinct stack, symbolized by the server
with libdw, shown in leak reports, DUMP_REMAINING and debug ALLOC lines."""

import os
import re
import signal
import socket
import subprocess
import threading

import pytest

from conftest import build_c_client, wait_until
import ttalloc
from ttalloc import protocol


@pytest.fixture(scope="module")
def stack_app(tmp_path_factory):
    return build_c_client(tmp_path_factory, "stack_app.c")


def run_app(app, env, n=3, hold_ms=0):
    res = subprocess.run([str(app), str(n), str(hold_ms)], env=env, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ready 0"), res.stdout + res.stderr
    return res


def stack_env(server, extra=None):
    env = server.env(extra={"TT_ALLOC_STACK_TRACE": "1"})
    env.update(extra or {})
    return env


def test_leak_report_shows_where_each_leaked_buffer_was_allocated(server, stack_app):
    mark = server.mark()
    run_app(stack_app, stack_env(server), n=2)
    server.wait_for_log(r"exited but left 3 buffers allocated", since=mark)
    log = server.log()[mark:]
    report = log[log.index("exited but left"):]
    # the DRAM buffer names load_weights, each L1 buffer make_cache, then main
    dram = re.search(r"Buffer 0x800000000: 1048576 bytes DRAM \(age: \d+s\)\n((?:        at .*\n)+)", report)
    assert dram, report
    assert re.match(r"        at load_weights \(stack_app\.c:\d+\)\n        at main \(stack_app\.c:\d+\)",
                    dram.group(1)), dram.group(1)
    l1 = re.findall(r"Buffer 0x1[01]000: 4096 bytes L1 \(age: \d+s\)\n        at (\w+) \(stack_app\.c:\d+\)", report)
    assert l1 == ["make_cache", "make_cache"], report


def test_without_the_variable_no_stack_is_captured(server, stack_app):
    mark = server.mark()
    run_app(stack_app, server.env(), n=1)
    server.wait_for_log(r"exited but left 2 buffers allocated", since=mark)
    report = server.log()[mark:]
    assert "        at " not in report


class FakeServer:
    """Records the frames a client sends; answers HELLO and SYNC."""

    def __init__(self, path):
        self.frames = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= protocol.MSG_SIZE:
                frame, buf = buf[:protocol.MSG_SIZE], buf[protocol.MSG_SIZE:]
                msg = protocol.unpack_header(frame)
                self.frames.append(msg)
                if msg["type"] == protocol.HELLO:
                    conn.sendall(protocol.pack(protocol.HELLO_ACK, -1))
                elif msg["type"] == protocol.SYNC:
                    conn.sendall(protocol.pack(protocol.SYNC_ACK, -1, size=msg["size"]))

    def of_type(self, t):
        return [f for f in self.frames if f["type"] == t]


def test_each_distinct_stack_is_defined_once_and_allocs_name_it(short_dir, stack_app):
    path = os.path.join(short_dir, "fake.sock")
    fake = FakeServer(path)
    env = dict(os.environ, TT_ALLOC_TRACKING_ENABLED="1", TT_ALLOC_SERVER_SOCKET=path,
               TT_ALLOC_STACK_TRACE="1")
    run_app(stack_app, env, n=50)
    wait_until(lambda: len(fake.of_type(protocol.SYNC)) == 1, what="the client's flush")
    allocs = fake.of_type(protocol.ALLOC)
    assert len(allocs) == 51
    ids = [protocol.ALLOC_PAYLOAD.unpack(a["payload"])[0] for a in allocs]
    assert all(ids), "every ALLOC names its stack"
    assert len(set(ids)) == 2  # load_weights and make_cache
    defs = fake.of_type(protocol.STACK_DEF)
    # each distinct stack defined once (a deep stack may take several frames,
    # all with the same id), and before the first ALLOC naming it
    assert {d["size"] for d in defs} == set(ids)
    first_index = {d["size"]: i for i, d in reversed(list(enumerate(fake.frames))) if d["type"] == protocol.STACK_DEF}
    for stack_id in set(ids):
        first_alloc = next(i for i, f in enumerate(fake.frames)
                           if f["type"] == protocol.ALLOC and protocol.ALLOC_PAYLOAD.unpack(f["payload"])[0] == stack_id)
        assert first_index[stack_id] < first_alloc
    for d in defs:
        depth, first = d["device_id"], d["buffer_type"]
        assert 1 <= depth <= protocol.STACK_MAX_DEPTH and first % protocol.STACK_IPS_PER_FRAME == 0
    frames_per_stack = {}
    for d in defs:
        frames_per_stack[d["size"]] = frames_per_stack.get(d["size"], 0) + 1
    for stack_id, count in frames_per_stack.items():
        depth = next(d["device_id"] for d in defs if d["size"] == stack_id)
        assert count == -(-depth // protocol.STACK_IPS_PER_FRAME)


def test_debug_log_shows_the_stack_under_each_alloc_line(server_factory, stack_app):
    srv = server_factory("dbg", args=("--log-level", "debug"))
    run_app(stack_app, stack_env(srv), n=1, hold_ms=0)
    srv.wait_for_log(r"exited but left", timeout=5)
    log = srv.log()
    assert re.search(r"\[Device 0\] ALLOC: 1048576 bytes DRAM by PID \d+ \(buffer 0x800000000\)\n"
                     r"  └─ Stack trace:\n       at load_weights \(stack_app\.c:\d+\)", log), log


def test_debug_log_says_how_to_enable_stacks_when_none_was_sent(server_factory, stack_app):
    srv = server_factory("dbg2", args=("--log-level", "debug"))
    run_app(stack_app, srv.env(), n=1)
    srv.wait_for_log(r"exited but left", timeout=5)
    assert "  └─ Stack trace: [enabled with TT_ALLOC_STACK_TRACE=1]" in srv.log()


def test_dump_remaining_lists_stacks(server, stack_app, processes):
    p = subprocess.Popen([str(stack_app), "1", "5000"], env=stack_env(server), stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().startswith("ready 0")
        mark = server.mark()
        ttalloc.dump_remaining(socket_path=server.socket)
        server.wait_for_log(r"buffers? listed", since=mark)
        dump = server.log()[mark:]
        assert re.search(r"Buffer 0x800000000: 1048576 bytes DRAM by PID %d \(age: \d+s\)\n"
                         r"        at load_weights \(stack_app\.c:\d+\)" % p.pid, dump), dump
    finally:
        p.kill()
        p.wait()


def test_stacks_survive_a_server_restart(server_factory, stack_app):
    first = server_factory("r1")
    p = subprocess.Popen([str(stack_app), "1", "60000"], env=stack_env(first), stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().startswith("ready 0")
        first.expect_exit = True  # killed on purpose
        first.stop(sig=signal.SIGKILL)
        second = server_factory("r2", socket_path=first.socket)
        # the idle client's watcher reconnects and re-sends stacks, then buffers
        wait_until(lambda: second.query(0)["dram_allocated"] == 1 << 20, timeout=5.0,
                   what="the client to resync with the new server")
        mark = second.mark()
        p.kill()
        p.wait()
        second.wait_for_log(r"exited but left 2 buffers allocated", since=mark)
        report = second.log()[mark:]
        assert re.search(r"Buffer 0x800000000: .*\n        at load_weights \(stack_app\.c:\d+\)", report), report
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_malformed_stack_definitions_are_counted_and_the_server_carries_on(server):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(server.socket)
    mark = server.mark()
    # depth 40 is beyond the maximum; then a continuation of an unknown stack
    s.sendall(protocol.pack(protocol.STACK_DEF, 40, size=7) +
              protocol.pack(protocol.STACK_DEF, 12, size=8, buffer_type=9))
    server.wait_for_log(r"malformed STACK_DEF: stack 0x7: stack id 0, or depth or index out of range", since=mark)
    server.wait_for_log(r"malformed STACK_DEF: stack 0x8: continuation of a stack that was never started",
                        since=mark)
    assert server.query(0)["device_id"] == 0
    s.close()



def test_json_api_shows_each_buffers_stack_live_and_leaked(server, stack_app):
    from http_support import dashboard_url, get_json
    base = dashboard_url(server)
    p = subprocess.Popen([str(stack_app), "1", "60000"], env=stack_env(server), stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().startswith("ready 0")
        live = get_json(base + "api/buffers?pid=%d" % p.pid)
        by_address = {b["address"]: b for b in live["buffers"]}
        dram = by_address["0x800000000"]
        assert re.match(r"load_weights \(stack_app\.c:\d+\)$", dram["stack"][0]), dram
        assert re.match(r"main \(stack_app\.c:\d+\)$", dram["stack"][1]), dram
        mark = server.mark()
        p.kill()
        p.wait()
        server.wait_for_log(r"exited but left 2 buffers allocated", since=mark)
        leaks = get_json(base + "api/leaks")
        report = next(r for r in leaks if r["pid"] == p.pid) if isinstance(leaks, list) else \
            next(r for r in leaks["reports"] if r["pid"] == p.pid)
        stacks = {b["address"]: b["stack"] for b in report["buffers"]}
        assert re.match(r"make_cache \(stack_app\.c:\d+\)$", stacks["0x10000"][0]), report
        # the report by its id (the dashboard's drill-down) has the same buffers and stacks
        one = get_json(base + "api/leaks/%d" % report["id"])
        assert one["pid"] == p.pid and {b["address"]: b["stack"] for b in one["buffers"]} == stacks
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_ttalloc_run_shows_the_stacks_of_the_biggest_leaks(short_dir, stack_app):
    from conftest import BUILD
    report = os.path.join(short_dir, "report.json")
    env = dict(os.environ, TT_ALLOC_STACK_TRACE="1")
    res = subprocess.run([str(BUILD / "bin/ttalloc-run"), "--private", "--json", report, "--",
                          str(stack_app), "2"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 86, res.stderr
    assert re.search(r"Buffer 0x800000000: 1048576 bytes DRAM by PID \d+ \(stack_app, age: \d+s\)\n"
                     r"        at load_weights \(stack_app\.c:\d+\)\n        at main \(stack_app\.c:\d+\)",
                     res.stderr), res.stderr
    import json
    with open(report) as f:
        data = json.load(f)
    stacks = {b["address"]: b["stack"] for b in data["buffers"]}
    assert stacks["0x10000"][0].startswith("make_cache (stack_app.c:"), data
