"""Nothing is lost across crashes, restarts and start order (issue 5,
guarantees 1-3): real server binary, real clients (the C library through
bench/soak_producer.c, the Python Reporter, the seed's tt_metal snippet),
real SIGKILLs, every wait bounded."""

import signal
import statistics
import sys
import time

from conftest import MiB, SEED_PROCESS_A, client_env, wait_until, process_rows
from reliability_support import ServerView, producer_exe, producers, soak  # noqa: F401
import ttalloc

# --- 1. late server start -------------------------------------------------

IDLE_REPORTER = r"""
import sys, ttalloc
r = ttalloc.Reporter()
ok = [r.report_alloc(0, ttalloc.DRAM, 0x800000000, 3 * 1048576),
      r.report_alloc(1, ttalloc.L1, 0x10000, 65536),
      r.report_alloc(0, ttalloc.TRACE, 0x900000000, 8192),
      r.report_free(0, 0x900000000)]
print("reported", ok, flush=True)
sys.stdin.readline()   # idle from here on: no call into the reporter
"""


def totals(server, dev):
    q = server.query(dev)
    return (q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"], q["trace_allocated"])


def test_idle_python_reporter_is_resent_to_a_server_that_starts_later(short_dir, server_factory, processes):
    path = short_dir / "late.sock"
    p = processes([sys.executable, "-c", IDLE_REPORTER], env=client_env(path))
    p.expect(r"^reported \[False, False, False, False\]$", timeout=20)
    server = server_factory(socket_path=path)
    # the Reporter's watcher thread connects and re-sends, with no report call
    wait_until(lambda: totals(server, 0) == (3 * MiB, 0, 0, 0) and totals(server, 1) == (0, 65536, 0, 0),
               timeout=3.0, what="the idle reporter's table on the late server (backoff <= 1 s)")
    server.wait_for_log(r"\[Device 0\] ALLOC: %d bytes DRAM by PID %d" % (3 * MiB, p.pid))
    assert "already live" not in server.log()
    assert "TRACE" not in server.log()  # freed before the server existed: never sent


def test_the_seeds_process_started_before_the_server_shows_up(short_dir, server_factory, processes):
    # The seed warned: "Always start server first". Not needed any more.
    path = short_dir / "seed.sock"
    p = processes([sys.executable, "-c", SEED_PROCESS_A], env=client_env(path))
    p.expect(r"^Process A: Allocated 100MB DRAM on device 0$", timeout=20)
    server = server_factory(socket_path=path)
    wait_until(lambda: server.query(0)["dram_allocated"] == 100 * MiB, timeout=3.0,
               what="the seed's process A to appear on a server started after it")
    (row,) = process_rows(server.socket)
    assert (row["pid"], row["buffer_count"]) == (p.pid, 1)


def test_idle_python_reporter_resyncs_after_a_server_kill_9(short_dir, server_factory, processes):
    path = short_dir / "restart.sock"
    first = server_factory("first", socket_path=path)
    p = processes([sys.executable, "-c", IDLE_REPORTER], env=client_env(path))
    p.expect(r"^reported \[True, True, True, True\]$", timeout=20)
    wait_until(lambda: totals(first, 0) == (3 * MiB, 0, 0, 0), timeout=5.0, what="the first server's totals")
    first.expect_exit = True
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    second = server_factory("second", socket_path=path)
    start = time.monotonic()
    wait_until(lambda: totals(second, 0) == (3 * MiB, 0, 0, 0) and totals(second, 1) == (0, 65536, 0, 0),
               timeout=3.0, what="the idle reporter to re-send its table")
    print("idle Python reporter back %.2f s after the restart" % (time.monotonic() - start))
    assert "already live" not in second.log()


# --- 2. server kill -9 under load -----------------------------------------

def drive_to_done(procs, timeout=180.0):
    """Lets every producer run its phases ("go" at each pause) until "done"."""
    deadline = time.monotonic() + timeout
    for p in procs:
        while True:
            m = p.expect(r"^(phase|done) \d+ rc=(-?\d+) live=\d+ events=\d+ failed=(\d+)$",
                         max(1.0, deadline - time.monotonic()))
            assert m.group(3) == "0", "library errors other than 'no server'"
            if m.group(1) == "done":
                break
            p.send("go")
        p.flush()


def test_server_kill_9_under_load_every_client_resyncs_within_2_s(short_dir, server_factory, producers):
    path = short_dir / "load.sock"
    first = server_factory("first", socket_path=path, args=["--quiet"])
    procs = [producers(first, i, 200_000, 4, 300) for i in range(4)]
    pids = [p.pid for p in procs]
    # all four are reporting ...
    wait_until(lambda: {r["pid"] for r in process_rows(first.socket)} >= set(pids),
               timeout=30.0, what="the producers' first reports")
    # ... when the server dies; a new one starts on the same socket
    first.expect_exit = True
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    second = server_factory("second", socket_path=path, args=["--quiet"])
    view = ServerView(second)
    took = soak.wait_resynced(view, pids, timeout=10.0)
    print("4 producers under load back on the new server %.2f s after it accepted" % took)
    assert took < 2.0, "resync took %.2f s" % took
    drive_to_done(procs)
    # byte for byte: every buffer of every producer, and the totals
    n, nbytes = soak.check_server_state(view, procs)
    assert n > 0
    log = second.log()
    for bad in soak.BAD_LINES:
        assert bad not in log, bad
    assert "exited but left" not in log


# --- 3. kill -9 of a client -----------------------------------------------

def server_totals(server):
    """Per device: {buffer_type: bytes} from QUERY and DEVICE_STATUS."""
    out = []
    for dev in (0, 1):
        q = server.query(dev)
        st = ttalloc.device_status(dev, socket_path=server.socket)
        out.append({ttalloc.DRAM: q["dram_allocated"], ttalloc.L1: q["l1_allocated"],
                    ttalloc.L1_SMALL: q["l1_small_allocated"], ttalloc.TRACE: q["trace_allocated"],
                    ttalloc.CB: st.cb_allocated, ttalloc.SYSTEM_MEMORY: st.system_memory_allocated,
                    "buffers": st.buffer_count})
    return out


def test_kill_9_of_a_client_is_reported_at_once_and_totals_drop_by_exactly_its_buffers(server_factory,
                                                                                       producers):
    server = server_factory(args=["--leak-lines", "100000"])
    rounds = 10
    view = ServerView(server)
    procs = [producers(server, i, 3000, 1, 200, seed=7) for i in range(rounds + 1)]
    for p in procs:
        p.expect(r"^done 0 rc=0 live=\d+ events=3000 failed=0$", 60)
    survivor, victims = procs[0], procs[1:]
    latencies = []
    alive = list(procs)
    for victim in victims:
        victim.flush()
        before = server_totals(server)
        expected = victim.live_set()
        latencies.append(soak.time_leak_report(view, victim, 10.0, interval=0.0005))
        soak.check_leak_report(view, victim, expected)
        alive.remove(victim)
        # the server's totals lost exactly the victim's buffers, per device and type
        after = server_totals(server)
        gone, counts = soak.expected_device_totals([expected])
        for dev in (0, 1):
            for btype in before[dev]:
                want = counts[dev] if btype == "buffers" else gone[dev].get(btype, 0)
                assert before[dev][btype] - after[dev][btype] == want, (dev, btype)
        soak.check_server_state(view, alive)
    print("leak report after kill -9: median %.1f ms, max %.1f ms (%s)"
          % (statistics.median(latencies), max(latencies), ", ".join("%.1f" % x for x in latencies)))
    assert max(latencies) < 1000, latencies
    assert statistics.median(latencies) < 500, latencies
    assert survivor.proc.poll() is None
