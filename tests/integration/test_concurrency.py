"""libttalloc under concurrency, fork and exec (issue 5, guarantees 4 and 9).

tests/integration/c_stress.c drives the real library: threads reporting at
once with a flushing thread and the library's watcher, a server killed under
them, fork with a thread reporting during the fork, fork+exec. `make
tsan-test` runs this file on a ThreadSanitizer build (build-tsan) and fails
on any report."""

import re
import signal
import time

from conftest import MiB, TSAN, wait_until, process_rows
from reliability_support import (assert_quits_cleanly, c_stress_exe, stress_env)  # noqa: F401
import ttalloc

THREADS = 8
EVENTS = 3000 if TSAN else 20000
KEEP = 10


def run_stress(processes, exe, server, *args):
    p = processes([exe] + [str(a) for a in args], env=stress_env(server))
    p.expect(r"^pid=\d+", timeout=30)
    return p


def device_bytes(server, dev):
    return server.query(dev)["dram_allocated"]


def test_threads_report_concurrently_and_the_totals_are_exact(server, processes, c_stress_exe):
    p = run_stress(processes, c_stress_exe, server, "threads", THREADS, EVENTS, KEEP)
    m = p.expect(r"^live=(\d+) dev0=(\d+) dev1=(\d+) failed=(\d+) flush=(-?\d+)$", timeout=120)
    live, dev0, dev1, failed, flush = (int(x) for x in m.groups())
    assert (failed, flush) == (0, 0)
    assert live == THREADS * KEEP
    assert dev0 == dev1 == THREADS // 2 * KEEP * 4096
    assert (device_bytes(server, 0), device_bytes(server, 1)) == (dev0, dev1)
    rows = [r for r in process_rows(server.socket) if r["pid"] == p.pid]
    assert sorted((r["device_id"], r["buffer_count"]) for r in rows) == [(0, live // 2), (1, live // 2)]
    log = server.log()
    for bad in ("was already live", "no live buffer", "claims PID"):
        assert bad not in log
    p.send("quit")
    assert_quits_cleanly(p)
    server.wait_for_log(r"Process %d exited but left %d buffers allocated" % (p.pid, live), timeout=10)
    assert device_bytes(server, 0) == device_bytes(server, 1) == 0


def test_a_buffer_handed_between_threads_keeps_its_order(server, processes, c_stress_exe):
    # ALLOC in one thread, FREE in another, the address reused by a third:
    # on the shared-memory ring these are different lanes, merged by each
    # shard's order; one event applied out of order shows as a duplicate
    # ALLOC or an unknown FREE, or as wrong totals.
    rounds = 2000 if TSAN else 50000
    p = run_stress(processes, c_stress_exe, server, "handoff", 6, rounds)
    m = p.expect(r"^live=(\d+) bytes=(\d+) table=(\d+) failed=(\d+) flush=(-?\d+)$", timeout=120)
    live, nbytes, table, failed, flush = (int(x) for x in m.groups())
    assert (failed, flush) == (0, 0)
    assert table == live
    assert device_bytes(server, 0) == nbytes
    assert ttalloc.device_status(0, socket_path=server.socket).buffer_count == live
    log = server.log()
    assert re.search(r"PID %d reports through a shared-memory ring" % p.pid, log)
    for bad in ("was already live", "no live buffer", "shared-memory ring refused or corrupt"):
        assert bad not in log
    p.send("quit")
    assert_quits_cleanly(p)


def test_threads_keep_reporting_through_a_server_kill_9(short_dir, server_factory, processes, c_stress_exe):
    path = short_dir / "threads.sock"
    first = server_factory("first", socket_path=path)
    p = run_stress(processes, c_stress_exe, first, "threads", THREADS, EVENTS * 2, KEEP)
    # wait until the threads are busy, then kill the server under them
    wait_until(lambda: process_rows(first.socket), timeout=30, what="the first reports")
    first.expect_exit = True
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    second = server_factory("second", socket_path=path)
    m = p.expect(r"^live=(\d+) dev0=(\d+) dev1=(\d+) failed=(\d+) flush=(-?\d+)$", timeout=180)
    live, dev0, dev1, failed, flush = (int(x) for x in m.groups())
    assert (failed, flush) == (0, 0)
    # whatever was in flight when the server died, the new one has the exact table
    assert (device_bytes(second, 0), device_bytes(second, 1)) == (dev0, dev1)
    st = [ttalloc.device_status(d, socket_path=second.socket).buffer_count for d in (0, 1)]
    assert sum(st) == live == THREADS * KEEP
    assert "was already live" not in second.log()
    p.send("quit")
    assert_quits_cleanly(p)


def test_threads_keep_reporting_through_a_server_that_hangs_past_their_timeout(server, processes, c_stress_exe):
    # The server stops (SIGSTOP) for longer than the library waits for room
    # (2 s) or for an answer (5 s): the threads give its ring and socket up
    # and reconnect, and the new connection re-sends the table. When the server
    # resumes, the old connection's last events are still unread; they must
    # not be applied over the newer resync (a buffer freed during the hang
    # would stay live), and the process must not look like it exited.
    p = run_stress(processes, c_stress_exe, server, "threads", THREADS, 3000000, KEEP)
    wait_until(lambda: process_rows(server.socket), timeout=30, what="the first reports")
    server.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(6)  # the hang itself is what is tested: longer than the library's timeouts
    finally:
        server.proc.send_signal(signal.SIGCONT)
    m = p.expect(r"^live=(\d+) dev0=(\d+) dev1=(\d+) failed=(\d+) flush=(-?\d+)$", timeout=180)
    live, dev0, dev1, failed, flush = (int(x) for x in m.groups())
    assert failed == 0
    assert live == THREADS * KEEP
    wait_until(lambda: (device_bytes(server, 0), device_bytes(server, 1)) == (dev0, dev1), timeout=10,
               what="the server's totals to equal the library's table")
    st = [ttalloc.device_status(d, socket_path=server.socket).buffer_count for d in (0, 1)]
    assert sum(st) == live
    rows = [r for r in process_rows(server.socket) if r["pid"] == p.pid]
    assert sorted((r["device_id"], r["buffer_count"]) for r in rows) == [(0, live // 2), (1, live // 2)]
    log = server.log()
    # (the close without GOODBYE is logged at debug level; the reconnect at info)
    assert re.search(r"PID %d reconnected" % p.pid, log)
    assert not re.search(r"Process %d exited" % p.pid, log)
    p.send("quit")
    assert_quits_cleanly(p)


def test_forked_children_get_their_own_identity_and_nothing_is_counted_twice(server, processes, c_stress_exe):
    children = 5
    p = run_stress(processes, c_stress_exe, server, "fork", children)
    pids = []
    for i in range(children):
        m = p.expect(r"^child=(\d+) live=(\d+) rc=(-?\d+)$", timeout=60)
        pid, live, rc = (int(x) for x in m.groups())
        assert live == 0, "a forked child must start with an empty table"
        assert rc == 0
        assert pid != p.pid
        pids.append(pid)
    m = p.expect(r"^parent live=(\d+) rc=(-?\d+)$", timeout=60)
    assert m.groups() == ("1", "0")
    for i, pid in enumerate(pids):
        # each child's leak report lists its own buffer, and only it
        server.wait_for_log(r"^⚠️  Process %d exited but left 1 buffer allocated:\n"
                            r"    \[Device 0\] Buffer %#x: 4096 bytes L1 \(age: \d+s\)$"
                            % (pid, 0x10000 + 0x1000 * i), timeout=10)
    # the parent's buffer is the only one left: not duplicated by any child
    q = server.query(0)
    assert (q["dram_allocated"], q["l1_allocated"]) == (MiB, 0)
    rows = process_rows(server.socket)
    assert [(r["pid"], r["device_id"], r["buffer_count"]) for r in rows] == [(p.pid, 0, 1)]
    log = server.log()
    assert "was already live" not in log
    assert not re.search(r"claims PID", log)
    p.send("quit")
    assert_quits_cleanly(p)


def test_an_execd_child_with_tracking_inherited_reports_as_itself(server, processes, c_stress_exe):
    p = run_stress(processes, c_stress_exe, server, "exec")
    m = p.expect(r"^exec-child=(\d+) live=(\d+) rc=(-?\d+)$", timeout=60)
    child, live, rc = (int(x) for x in m.groups())
    assert (live, rc) == (1, 0) and child != p.pid
    m = p.expect(r"^parent live=(\d+) rc=(-?\d+) status=(-?\d+)$", timeout=60)
    assert m.groups() == ("1", "0", "0")
    server.wait_for_log(r"\[Device 0\] ALLOC: 65536 bytes L1_SMALL by PID %d" % child)
    server.wait_for_log(r"^⚠️  Process %d exited but left 1 buffer allocated:\n"
                        r"    \[Device 0\] Buffer 0x30000: 65536 bytes L1_SMALL" % child, timeout=10)
    q = server.query(0)
    assert (q["dram_allocated"], q["l1_small_allocated"]) == (MiB, 0)
    p.send("quit")
    assert_quits_cleanly(p)


def test_ttalloc_load_with_four_threads_churning_ends_at_zero(server):
    from conftest import BIN
    import subprocess
    res = subprocess.run([str(BIN / "ttalloc-load"), "-d", "0,1", "-j", "4", "-p", "churn", "-e", "40000",
                          "-n", "256", "-s", "4K", "-q"], env=stress_env(server), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    m = re.search(r"ttalloc-load: pid (\d+) allocated (\d+) buffers \(\d+ bytes\), freed (\d+), live 0", res.stdout)
    assert m and m.group(2) == m.group(3), res.stdout
    assert "ThreadSanitizer" not in res.stderr, res.stderr[-6000:]
    server.wait_for_log(r"Process %s \(\S+\) disconnected, no buffers left" % m.group(1), timeout=10)
    assert device_bytes(server, 0) == device_bytes(server, 1) == 0
    assert "was already live" not in server.log() and "no live buffer" not in server.log()
