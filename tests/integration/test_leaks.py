"""A process that dies with buffers allocated is reported as leaking, the
seed's way, and its buffers leave the totals at once."""

import re
import signal
import subprocess
import sys
import time

from conftest import MiB, raw_socket, recv_frame, process_rows
import ttalloc
from ttalloc import protocol

# (device, type, address, size) reported by the victim, in order
VICTIM = [(0, ttalloc.DRAM, 0x800000000, 1 * MiB),
          (0, ttalloc.L1, 0x10000, 512 * 1024),
          (0, ttalloc.DRAM, 0x800100000, 2 * MiB),
          (1, ttalloc.DRAM, 0x800000000, 3 * MiB)]
SURVIVOR = [(0, ttalloc.DRAM, 0x900000000, 4 * MiB),
            (0, ttalloc.L1, 0x20000, 64 * 1024),
            (1, ttalloc.L1_SMALL, 0x30000, 4096)]


def report(client, buffers):
    for dev, btype, addr, size in buffers:
        assert client.command("alloc %d %d %#x %d" % (dev, btype, addr, size)).group(1) == "1"
    assert client.command("flush").group(1) == "1"


def totals(server, dev):
    q = server.query(dev)
    return [q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"], q["trace_allocated"]]


def expected_totals(buffers, dev):
    t = [0, 0, 0, 0]
    slot = {ttalloc.DRAM: 0, ttalloc.L1: 1, ttalloc.L1_SMALL: 2, ttalloc.TRACE: 3}
    for d, btype, _, size in buffers:
        if d == dev:
            t[slot[btype]] += size
    return t


def test_kill_9_of_a_client_prints_the_seed_leak_report(server, reporter_client):
    victim, survivor = reporter_client(server), reporter_client(server)
    report(victim, VICTIM)
    report(survivor, SURVIVOR)
    assert totals(server, 0) == expected_totals(VICTIM + SURVIVOR, 0)
    mark = server.mark()
    victim.kill(signal.SIGKILL)
    head = server.wait_for_log(r"^⚠️  Process %d exited but left 4 buffers allocated:$" % victim.pid,
                               since=mark)
    lines = server.log()[head.end():].splitlines()[1:5]
    expected = []
    for dev, btype, addr, size in VICTIM:  # oldest first, as the seed prints them
        expected.append(r"^    \[Device %d\] Buffer %#x: %d bytes %s \(age: \d+s\)$"
                        % (dev, addr, size, protocol.buffer_type_name(btype)))
    for line, rx in zip(lines, expected):
        assert re.match(rx, line), (line, rx)
    # the totals drop to exactly the survivor's buffers
    for dev in (0, 1):
        assert totals(server, dev) == expected_totals(SURVIVOR, dev)
    rows = process_rows(server.socket)
    assert {r["pid"] for r in rows} == {survivor.pid}


def test_leaked_buffers_are_kept_for_leak_query(server, reporter_client):
    victim = reporter_client(server)
    before = time.monotonic()
    report(victim, VICTIM)
    victim.kill(signal.SIGKILL)
    server.wait_for_log(r"Process %d exited but left" % victim.pid)
    (rep,) = ttalloc.leaks(pid=victim.pid, socket_path=server.socket)
    assert rep.pid == victim.pid and rep.name.startswith("python") and rep.buffer_count == len(VICTIM)
    rows = rep.buffers
    got = [(b.device_id, getattr(ttalloc, b.type), b.address, b.size) for b in rows]
    assert got == VICTIM
    assert rep.bytes == sum(size for _, _, _, size in VICTIM)
    assert all(b.pid == victim.pid and b.name == rep.name for b in rows)
    held = time.monotonic() - before  # an upper bound of each buffer's age
    assert all(0 <= b.age_seconds <= held for b in rows), ([b.age_seconds for b in rows], held)
    assert ttalloc.leaks(pid=victim.pid + 1000000, socket_path=server.socket) == []


def test_a_process_that_frees_everything_is_not_a_leak(server, reporter_client):
    client = reporter_client(server)
    report(client, VICTIM[:2])
    for dev, _, addr, _ in VICTIM[:2]:
        assert client.command("free %d %#x" % (dev, addr)).group(1) == "1"
    assert client.command("flush").group(1) == "1"
    client.kill(signal.SIGKILL)
    server.wait_for_log(r"Process %d \(\S+\) disconnected, no buffers left" % client.pid)
    assert "Process %d exited but left" % client.pid not in server.log()
    assert ttalloc.leaks(pid=client.pid, socket_path=server.socket) == []


TWO_BUFFERS = ("import os, tt_metal as ttm\n"
               "d = ttm.CreateDevice(0)\n"
               "a = ttm.Buffer(d, size=1048576, buffer_type=ttm.BufferType.DRAM)\n"
               "b = ttm.Buffer(d, size=524288, buffer_type=ttm.BufferType.L1)\n"
               "print(os.getpid(), hex(a.address()), hex(b.address()), flush=True)\n")


def run_tt_metal(server, code):
    """Runs a simulated tt_metal program to its end; returns its output's words."""
    res = subprocess.run([sys.executable, "-c", code], env=server.env(), capture_output=True,
                         text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_tt_metal_program_exiting_without_closedevice_has_its_devices_closed_at_exit(server):
    # tt-metal's DevicePool destructor closes the devices still open at a normal exit
    pid, a, b = run_tt_metal(server, TWO_BUFFERS)
    free_a = server.wait_for_log(r"^\[Device 0\] FREE: buffer %s by PID %s$" % (a, pid))
    server.wait_for_log(r"^\[Device 0\] FREE: buffer %s by PID %s$" % (b, pid))
    server.wait_for_log(r"^📤 Process %s \(\S+\) disconnected, no buffers left$" % pid, since=free_a.end())
    assert "exited but left" not in server.log()
    assert totals(server, 0) == [0, 0, 0, 0]


def test_tt_metal_program_ending_with_os_exit_leaks(server):
    # no exit handlers, as no destructors run in tt-metal: the buffers are the leak report
    pid, a, b = run_tt_metal(server, TWO_BUFFERS + "os._exit(0)\n")
    server.wait_for_log(r"Process %s exited but left 2 buffers allocated:\n"
                        r"    \[Device 0\] Buffer %s: 1048576 bytes DRAM \(age: \d+s\)\n"
                        r"    \[Device 0\] Buffer %s: 524288 bytes L1 \(age: \d+s\)$" % (pid, a, b))
    assert "FREE" not in server.log()
    assert totals(server, 0) == [0, 0, 0, 0]


def test_tt_metal_closes_devices_at_exit_before_a_reporter_exit_handler_runs(server):
    # A handler registered when the Reporter exists (as one that says GOODBYE
    # at exit would be) runs after the devices are closed: atexit runs the
    # last registered first, and tt_metal registers at the first CreateDevice.
    code = ("import atexit, ttalloc\n"
            "atexit.register(ttalloc.default_reporter().close)\n" + TWO_BUFFERS)
    pid, a, b = run_tt_metal(server, code)
    server.wait_for_log(r"^\[Device 0\] FREE: buffer %s by PID %s$" % (b, pid))
    server.wait_for_log(r"^📤 Process %s \(\S+\) disconnected, no buffers left$" % pid)
    assert "exited but left" not in server.log()


def test_a_forked_child_closes_only_its_own_devices_at_exit(server):
    code = """
import os, sys, ttalloc, tt_metal as ttm
d0 = ttm.CreateDevice(0)
a = ttm.Buffer(d0, size=1048576)
child = os.fork()
if child == 0:
    b = ttm.Buffer(ttm.CreateDevice(1), size=2097152)
    sys.exit(0)  # a normal exit of the child: its exit handlers run
_, status = os.waitpid(child, 0)
assert status == 0, status
stats = ttalloc.query_device_stats(0)
print(os.getpid(), child, stats["dram_allocated"], flush=True)
"""
    parent, child, parent_dram = run_tt_metal(server, code)
    assert int(parent_dram) == 1048576  # the child's exit left the parent's buffer alone
    server.wait_for_log(r"^\[Device 1\] FREE: buffer 0x800000000 by PID %s$" % child)
    server.wait_for_log(r"^\[Device 0\] FREE: buffer 0x800000000 by PID %s$" % parent)
    for pid in (parent, child):
        server.wait_for_log(r"^📤 Process %s \(\S+\) disconnected, no buffers left$" % pid)
    assert "exited but left" not in server.log()
    # nothing of the child's on device 0: no FREE of the parent's buffer, no misuse line
    assert [line for line in server.log().splitlines()
            if re.search(r"\b%s\b" % child, line) and "device 0" in line.lower()] == []


def test_the_default_reporter_says_goodbye_at_a_normal_exit(server_factory):
    # Its buffers are the leak report at once, and the server never thinks the
    # process lost its connection while still running (logged at debug level).
    srv = server_factory(args=["--log-level", "debug"])
    code = ("import os, ttalloc\n"
            "r = ttalloc.default_reporter()\n"
            "r.report_alloc(0, ttalloc.DRAM, 0x800000000, 4096)\n"
            "r.flush()\n"
            "print(os.getpid())\n")
    res = subprocess.run([sys.executable, "-c", code], env=srv.env(), capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    pid = int(res.stdout)
    srv.wait_for_log(r"Process %d exited but left 1 buffers? allocated:" % pid)
    assert "PID %d lost its connection without GOODBYE" % pid not in srv.log()


def test_tt_metal_program_that_closes_its_device_does_not_leak(server):
    code = ("import tt_metal as ttm\n"
            "d = ttm.CreateDevice(0)\n"
            "a = ttm.Buffer(d, size=1048576, buffer_type=ttm.BufferType.DRAM)\n"
            "b = ttm.Buffer(d, size=524288, buffer_type=ttm.BufferType.L1)\n"
            "ttm.CloseDevice(d)\n"
            "import os; print(os.getpid())\n")
    res = subprocess.run([sys.executable, "-c", code], env=server.env(), capture_output=True,
                         text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    pid = int(res.stdout)
    server.wait_for_log(r"Process %d \(\S+\) disconnected, no buffers left" % pid)
    assert "exited but left" not in server.log()


def test_dump_remaining_prints_the_live_buffers(server, reporter_client):
    client = reporter_client(server)
    report(client, SURVIVOR)
    mark = server.mark()
    with raw_socket(server.socket) as s:
        s.sendall(protocol.pack(protocol.DUMP_REMAINING, 0))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=7))
        ans = recv_frame(s)
        assert (ans["type"], ans["size"]) == (protocol.SYNC_ACK, 7)
    head = server.wait_for_log(r"^📋 Remaining buffers \(requested by PID \d+\):$", since=mark)
    tail = server.wait_for_log(r"^    3 buffers listed$", since=head.end())
    block = server.log()[head.end():tail.start()]
    for dev, btype, addr, size in SURVIVOR:
        assert re.search(r"^    \[Device %d\] Buffer %#x: %d bytes %s by PID %d \(age: \d+s\)$"
                         % (dev, addr, size, protocol.buffer_type_name(btype), client.pid),
                         block, re.M), block


def test_dump_remaining_from_the_python_api(server, reporter_client):
    client = reporter_client(server)
    report(client, SURVIVOR[:1])
    mark = server.mark()
    ttalloc.dump_remaining(socket_path=server.socket)
    server.wait_for_log(r"^    \[Device 0\] Buffer 0x900000000: 4194304 bytes DRAM by PID %d"
                        % client.pid, since=mark)


def test_leak_ages_use_the_allocation_time_a_resyncing_client_sends(server):
    start = time.monotonic()
    now = time.time_ns()
    mark = server.mark()
    with raw_socket(server.socket) as s:
        s.sendall(protocol.pack(protocol.ALLOC, 0, size=4096, buffer_type=ttalloc.DRAM,
                                buffer_id=0x800000000, timestamp=now - 42 * 10**9))
        s.sendall(protocol.pack(protocol.ALLOC, 0, size=4096, buffer_type=ttalloc.DRAM,
                                buffer_id=0x800001000, timestamp=now + 3600 * 10**9))  # future: now
        s.sendall(protocol.pack(protocol.SYNC, -1, size=1))
        recv_frame(s)
    m = server.wait_for_log(r"exited but left 2 buffers allocated:\n"
                            r"    \[Device 0\] Buffer 0x800000000: 4096 bytes DRAM \(age: (\d+)s\)\n"
                            r"    \[Device 0\] Buffer 0x800001000: 4096 bytes DRAM \(age: (\d+)s\)$",
                            since=mark)
    # ages in whole seconds, printed at most `elapsed` after `now`
    elapsed = time.monotonic() - start
    old, future = int(m.group(1)), int(m.group(2))
    assert 42 <= old <= 42 + elapsed, (old, elapsed)  # 42 s before `now`, as sent
    assert 0 <= future <= elapsed, (future, elapsed)   # a time in the future counts from arrival
