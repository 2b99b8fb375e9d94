"""Frames arrive however the kernel splits them: byte by byte, or thousands
in one write, and the server's totals stay exact."""

import os
import random
import select
import socket
import threading
import time

from conftest import MiB, raw_socket, recv_frame, wait_read_by_peer, process_rows
import ttalloc
from ttalloc import protocol


def test_a_query_sent_one_byte_at_a_time_is_answered(server):
    with raw_socket(server.socket) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        frame = protocol.pack(protocol.QUERY, 1)
        for i in range(len(frame)):
            s.sendall(frame[i:i + 1])
            if i % 16 == 0:
                wait_read_by_peer(s)  # the server has read the piece: the next comes in a later read
        ans = recv_frame(s)
    assert ans["type"] == protocol.RESPONSE and ans["device_id"] == 1
    assert protocol.unpack_seed(ans["payload"])["is_available"] == 1


def test_ten_thousand_allocations_in_one_write_are_counted_exactly(server):
    pid = os.getpid()
    frames = b"".join(protocol.pack(protocol.ALLOC, i % 2, size=4096 + i, buffer_type=ttalloc.DRAM,
                                    process_id=pid, buffer_id=0x800000000 + i * 0x10000)
                      for i in range(10000))
    with raw_socket(server.socket, timeout=20) as s:
        s.sendall(frames)
        s.sendall(protocol.pack(protocol.SYNC, -1, size=99))
        ans = recv_frame(s)
        assert (ans["type"], ans["size"]) == (protocol.SYNC_ACK, 99)
        want = [0, 0]
        for i in range(10000):
            want[i % 2] += 4096 + i
        assert server.query(0)["dram_allocated"] == want[0]
        assert server.query(1)["dram_allocated"] == want[1]
        st = ttalloc.device_status(0, socket_path=server.socket)
        assert st.buffer_count == 5000 and st.process_count == 1
        # and all freed again in one write
        s.sendall(b"".join(protocol.pack(protocol.FREE, i % 2, process_id=pid,
                                         buffer_id=0x800000000 + i * 0x10000) for i in range(10000)))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=100))
        assert recv_frame(s)["size"] == 100
        assert server.query(0)["dram_allocated"] == server.query(1)["dram_allocated"] == 0


def test_duplicate_alloc_replaces_the_record_and_counts_once(server):
    mark = server.mark()
    with raw_socket(server.socket) as s:
        for size in (MiB, 3 * MiB):
            s.sendall(protocol.pack(protocol.ALLOC, 0, size=size, buffer_type=ttalloc.DRAM,
                                    buffer_id=0x800000000))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=1))
        recv_frame(s)
        assert server.query(0)["dram_allocated"] == 3 * MiB
    server.wait_for_log(r"ALLOC at an address this process holds live: buffer 0x800000000 on device 0 "
                        r"was already live", since=mark)


def test_circular_and_host_buffers_stay_out_of_the_seed_totals(server):
    with ttalloc.Reporter(socket_path=server.socket) as r:
        assert r.report_alloc(0, ttalloc.CB, 0x40000, 2 * MiB)
        assert r.report_alloc(0, ttalloc.SYSTEM_MEMORY, 0x7f0000000000, 8 * MiB)
        assert r.flush()
        q = server.query(0)
        assert (q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"],
                q["trace_allocated"]) == (0, 0, 0, 0)
        st = ttalloc.device_status(0, socket_path=server.socket)
        assert (st.cb_allocated, st.system_memory_allocated) == (2 * MiB, 8 * MiB)
        (row,) = process_rows(server.socket)
        assert (row["cb_allocated"], row["system_memory_allocated"], row["buffer_count"]) == (2 * MiB, 8 * MiB, 2)


def test_long_leak_reports_are_cut_at_leak_lines(server_factory, reporter_client):
    server = server_factory(args=["--leak-lines", "2"])
    victim = reporter_client(server)
    for i in range(5):
        assert victim.command("alloc 0 0 %#x 4096" % (0x800000000 + i * 4096)).group(1) == "1"
    assert victim.command("flush").group(1) == "1"
    victim.kill()
    server.wait_for_log(r"Process %d exited but left 5 buffers allocated:\n"
                        r"    \[Device 0\] Buffer 0x800000000: 4096 bytes DRAM \(age: \d+s\)\n"
                        r"    \[Device 0\] Buffer 0x800001000: 4096 bytes DRAM \(age: \d+s\)\n"
                        r"    \.\.\. and 3 more buffers \(12288 bytes\)$" % victim.pid)


def test_random_frames_of_every_type_leave_consistent_totals(server):
    """Structured fuzzing: frames of every known (and some unknown) type with
    random fields; the server keeps answering, and once the sender is gone
    every total is back to zero."""
    rng = random.Random(7)
    types = sorted(protocol.TYPE_NAMES) + [0, 8, 12, 77, 127, 140, 255]
    pid = os.getpid()
    frames = []
    for _ in range(3000):
        t = rng.choice(types)
        frames.append(protocol.pack(
            t, rng.choice([0, 1, 1, 0, -1, 2, 63, 64, -2**31]),
            size=rng.choice([0, 1, 4096, MiB, 2**34, 2**64 - 1]),
            buffer_type=rng.choice([0, 1, 2, 3, 4, 5, 6, 255]),
            process_id=rng.choice([0, pid, pid, 1, -1]),
            buffer_id=rng.choice([0x800000000 + 4096 * rng.randrange(64), 0, 2**64 - 1]),
            timestamp=rng.choice([0, time.time_ns(), 2**64 - 1]),
            payload=rng.randbytes(72)))
    with raw_socket(server.socket, timeout=20) as s:
        # read answers concurrently so the server never has to queue much
        stop = threading.Event()

        def drain():
            # select, not settimeout: a timeout on the shared socket would
            # also bound the sendall below, which must wait for a busy server
            while not stop.is_set():
                try:
                    if select.select([s], [], [], 0.2)[0] and not s.recv(65536):
                        return
                except OSError:
                    return
        t = threading.Thread(target=drain)
        t.start()
        try:
            s.sendall(b"".join(frames))
            other = ttalloc.query_device_stats(0, socket_path=server.socket)
            assert other["device_id"] == 0
            mark = server.mark()  # before the close, whose line we wait for
        finally:
            stop.set()
            t.join(5)
    server.wait_for_log(r"Process %d (exited but left|\(\S+\) disconnected)" % pid, since=mark)
    for dev in (0, 1):
        q = server.query(dev)
        assert (q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"],
                q["trace_allocated"]) == (0, 0, 0, 0)
        st = ttalloc.device_status(dev, socket_path=server.socket)
        assert (st.buffer_count, st.cb_allocated, st.system_memory_allocated) == (0, 0, 0)
    assert process_rows(server.socket) == []
