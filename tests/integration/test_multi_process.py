"""The seed's Multi-Process Example, end to end: three `python -c` programs
(verbatim from the seed, on the simulated tt_metal module) report through the
server, and tt_smi, the Python API and QUERY all show them.

The seed keeps each process alive with time.sleep(60); here the test kills
them once it has looked, instead of waiting, or runs them with a short sleep
to see what a normal end does: as in tt-metal, whose DevicePool destructor
closes the devices still open, a normal exit frees the buffers, and only a
process that runs no exit handlers (a signal, os._exit) leaks them."""

import re
import signal
import subprocess
import sys

import pytest

from conftest import SEED_PROCESSES, SMI_BIN, MiB, process_rows
import ttalloc

ANNOUNCEMENTS = ("Process A: Allocated 100MB DRAM on device 0",
                 "Process B: Allocated 200MB DRAM on device 0",
                 "Process C: Allocated 150MB L1 on device 1")


@pytest.fixture
def seed_processes(server, processes):
    """Starts the seed's processes A, B and C; returns their LineProcesses."""
    started = []
    for code in SEED_PROCESSES:
        started.append(processes([sys.executable, "-c", code], env=server.env()))
    for p, announcement in zip(started, ANNOUNCEMENTS):
        p.expect("^" + re.escape(announcement) + "$", timeout=15)
    return started


def test_seed_processes_are_counted_per_device(server, seed_processes):
    d0, d1 = server.query(0), server.query(1)
    assert (d0["dram_allocated"], d0["l1_allocated"]) == (300 * MiB, 0)
    assert (d1["dram_allocated"], d1["l1_allocated"]) == (0, 150 * MiB)
    assert d0["l1_small_allocated"] == d0["trace_allocated"] == 0


def test_seed_processes_each_have_a_process_row(server, seed_processes):
    rows = sorted(process_rows(server.socket), key=lambda r: r["dram_allocated"] + r["l1_allocated"])
    a, b, c = (p.pid for p in seed_processes)
    summary = [(r["device_id"], r["pid"], r["dram_allocated"], r["l1_allocated"], r["buffer_count"]) for r in rows]
    assert sorted(summary) == sorted([(0, a, 100 * MiB, 0, 1), (0, b, 200 * MiB, 0, 1),
                                      (1, c, 0, 150 * MiB, 1)])
    assert all(r["name"].startswith("python") for r in rows)


def test_seed_processes_log_their_allocations(server, seed_processes):
    a, b, c = (p.pid for p in seed_processes)
    for pid, dev, size, kind in ((a, 0, 100 * MiB, "DRAM"), (b, 0, 200 * MiB, "DRAM"),
                                 (c, 1, 150 * MiB, "L1")):
        server.wait_for_log(r"^\[Device %d\] ALLOC: %d bytes %s by PID %d \(buffer 0x[0-9a-f]+\)$"
                            % (dev, size, kind, pid))


def test_killing_the_seed_processes_releases_their_memory(server, seed_processes):
    for p in seed_processes:
        p.kill(signal.SIGTERM)
    for p in seed_processes:
        server.wait_for_log(r"Process %d exited but left 1 buffer allocated:" % p.pid)
    assert server.query(0)["dram_allocated"] == 0
    assert server.query(1)["l1_allocated"] == 0
    assert process_rows(server.socket) == []


def test_tt_smi_shows_the_seed_multi_process_result(server, seed_processes):
    res = subprocess.run([str(SMI_BIN)], env=server.env(), capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    out = res.stdout
    # the seed's table: title, column headers, process section, and the status line
    assert re.match(r"┌─+┐\n│ tt-smi v1\.0 +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d +│\n", out), out
    assert "│ GPU    Name             Temp    Power     Memory-Usage        Utilization      │" in out, out
    assert re.search(r"^│   GPU   PID      User      Process name +DRAM +L1 +│$", out, re.M), out
    assert "No processes using this device" not in out, out
    assert out.rstrip("\n").endswith("Server Status: ✅ Connected | Updates: One-shot"), out
    # The memory column of the seed's table, in order: device 0 then device 1.
    expected = ["DRAM:  300MB / 12.0GB  ( 2%)", "L1:      0MB / 1440MB  ( 0%)",
                "DRAM:    0MB / 12.0GB  ( 0%)", "L1:    150MB / 1440MB  (10%)"]
    pos = 0
    for text in expected:
        found = out.find(text, pos)
        assert found >= 0, "%r not found (in order) in tt_smi output:\n%s" % (text, out)
        pos = found + len(text)
    assert re.search(r"^│ 0 +Wormhole_B0 ", out, re.M), out
    assert re.search(r"^│ 1 +Wormhole_B0 ", out, re.M), out
    a, b, c = (p.pid for p in seed_processes)
    for dev, pid, dram, l1 in ((0, a, "100MB", "0MB"), (0, b, "200MB", "0MB"), (1, c, "0MB", "150MB")):
        assert re.search(r"^│ +%d +%d +\S+ +python\S* +%s +%s +│$" % (dev, pid, dram, l1), out, re.M), \
            "no process row for PID %d in:\n%s" % (pid, out)


def seed_process_ending(code, end):
    """A seed process whose time.sleep(60) is replaced with `end`."""
    changed = code.replace("time.sleep(60)", end)
    assert changed != code
    return changed


def test_the_seed_processes_run_to_completion_free_their_buffers_at_exit(server, processes):
    started = [processes([sys.executable, "-c", seed_process_ending(code, "time.sleep(0.01)")],
                         env=server.env()) for code in SEED_PROCESSES]
    for p, announcement in zip(started, ANNOUNCEMENTS):
        p.expect("^" + re.escape(announcement) + "$", timeout=15)
        assert p.wait(timeout=15) == 0
    for p, dev in zip(started, (0, 0, 1)):
        # the device closed at exit: FREE reported, then the process leaves with nothing
        free = server.wait_for_log(r"^\[Device %d\] FREE: buffer 0x[0-9a-f]+ by PID %d$" % (dev, p.pid))
        server.wait_for_log(r"^📤 Process %d \(\S+\) disconnected, no buffers left$" % p.pid,
                            since=free.end())
        assert "Process %d exited but left" % p.pid not in server.log()
    assert server.query(0)["dram_allocated"] == 0 and server.query(1)["l1_allocated"] == 0
    assert ttalloc.leaks(socket_path=server.socket) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_seed_process_killed_while_it_sleeps_leaks_its_buffer(server, processes, sig):
    # SIGTERM's default action, like SIGKILL, ends the process without exit handlers
    p = processes([sys.executable, "-c", SEED_PROCESSES[0]], env=server.env())
    p.expect("^" + re.escape(ANNOUNCEMENTS[0]) + "$", timeout=15)
    p.kill(sig)
    server.wait_for_log(r"^⚠️  Process %d exited but left 1 buffer allocated:\n"
                        r"    \[Device 0\] Buffer 0x800000000: 104857600 bytes DRAM \(age: \d+s\)$" % p.pid)
    assert not re.search(r"FREE: .* by PID %d$" % p.pid, server.log(), re.M)
    assert [(b.pid, b.address, b.size) for x in ttalloc.leaks(socket_path=server.socket) for b in x.buffers] \
        == [(p.pid, 0x800000000, 100 * MiB)]


def test_a_seed_process_ending_with_os_exit_leaks_its_buffer(server, processes):
    code = seed_process_ending(SEED_PROCESSES[0], "__import__('os')._exit(0)")
    p = processes([sys.executable, "-c", code], env=server.env())
    p.expect("^" + re.escape(ANNOUNCEMENTS[0]) + "$", timeout=15)
    assert p.wait(timeout=15) == 0
    server.wait_for_log(r"^⚠️  Process %d exited but left 1 buffer allocated:\n"
                        r"    \[Device 0\] Buffer 0x800000000: 104857600 bytes DRAM \(age: \d+s\)$" % p.pid)
    assert not re.search(r"FREE: .* by PID %d$" % p.pid, server.log(), re.M)
