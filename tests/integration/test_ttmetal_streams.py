"""The real tt-metal socket client: recorded byte streams of its 112-byte and
144-byte AllocMessage (tests/fixtures/ttmetal_streams, written by
make_streams.py from the layouts in tt-metal's allocation_client.cpp) replayed
against the server. SYSTEM_MEMORY is host memory, in no device total; circular
buffers and kernel binaries are L1 categories of their own; the frame size is
told per connection, and 112-byte clients keep working beside 144-byte ones.
"""

import importlib.util
import json
import os
import re
import socket
import struct

import pytest

from conftest import REPO, raw_socket, recv_exact, recv_frame, smi, wait_read_by_peer
from http_support import get_json
from test_http_metrics import scrape, value
import ttalloc
from ttalloc import protocol

STREAMS = REPO / "tests" / "fixtures" / "ttmetal_streams"
KiB, MiB = 1024, 1024 * 1024
TYPES = {"dram": ttalloc.DRAM, "l1": ttalloc.L1, "system_memory": ttalloc.SYSTEM_MEMORY,
         "l1_small": ttalloc.L1_SMALL, "trace": ttalloc.TRACE, "cb": ttalloc.CB, "kernel": ttalloc.KERNEL}


def generator():
    spec = importlib.util.spec_from_file_location("make_streams", STREAMS / "make_streams.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = generator()


def recorded(name, frame_size):
    """The stream with this process's pid over the recorded one (offset 20 of every frame)."""
    data = bytearray((STREAMS / name).read_bytes())
    assert len(data) % frame_size == 0
    for off in range(0, len(data), frame_size):
        assert struct.unpack_from("<i", data, off + 20)[0] == GEN.RECORDED_PID
        struct.pack_into("<i", data, off + 20, os.getpid())
    return bytes(data)


def mine(frame):
    """A frame of the generator's with this process's pid in it."""
    data = bytearray(frame)
    struct.pack_into("<i", data, 20, os.getpid())
    return bytes(data)


def test_the_recorded_streams_are_what_the_generator_writes(tmp_path):
    GEN.main(str(tmp_path))
    for name in GEN.STREAMS:
        assert (tmp_path / name).read_bytes() == (STREAMS / name).read_bytes(), name
    assert len((STREAMS / "tt_metal_144.bin").read_bytes()) % 144 == 0
    assert len((STREAMS / "tt_metal_112.bin").read_bytes()) % 112 == 0


def check_views(srv, url, expected, pid):
    """Every view agrees with `expected` ({device: {type: bytes}}); device totals leave out host memory."""
    snap = json.loads(smi(srv, "--json").stdout)
    metrics = scrape(url)
    api = get_json(url + "api/devices")
    for dev, want in expected.items():
        q = srv.query(dev)  # the seed's binary QUERY (112 bytes)
        assert (q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"], q["trace_allocated"]) == \
            (want["dram"], want["l1"], want["l1_small"], want["trace"])
        st = ttalloc.device_status(dev, socket_path=srv.socket)
        assert (st.cb_allocated, st.kernel_allocated, st.system_memory_allocated) == \
            (want["cb"], want["kernel"], want["system_memory"])
        d = snap["devices"][dev]
        assert (d["dram_allocated"], d["cb_allocated"], d["kernel_allocated"], d["system_memory_allocated"]) == \
            (want["dram"], want["cb"], want["kernel"], want["system_memory"])
        a = api[dev]
        for key in ("dram", "l1", "l1_small", "trace", "cb", "kernel", "system_memory"):
            assert a[key + "_allocated"] == want[key], (dev, key)
            assert value(metrics, "ttalloc_device_memory_used_bytes", device=dev, type=key) == want[key]
        # tt_smi's DRAM and L1 columns: host memory in neither; L1 = L1 + L1_SMALL + CB + kernels
        gpu = smi(srv, "--query-gpu=index,memory.dram.used,memory.l1.used,memory.kernel.used,"
                  "memory.system.used", "--format=csv,noheader,nounits").stdout
        row = [r for r in gpu.splitlines() if r.startswith("%d," % dev)][0]
        l1 = want["l1"] + want["l1_small"] + want["cb"] + want["kernel"]
        assert row == "%d, %d, %d, %d, %d" % (dev, round((want["dram"] + want["trace"]) / MiB), round(l1 / MiB),
                                              round(want["kernel"] / MiB), round(want["system_memory"] / MiB))
    (proc,) = [p for p in ttalloc.processes(socket_path=srv.socket) if p.pid == pid]
    assert proc.source == "socket"
    for dev, want in expected.items():
        if any(want.values()):
            assert proc.device(dev).kernel_allocated == want["kernel"] and proc.device(dev).cb_allocated == want["cb"]


def test_the_144_byte_client_is_detected_and_every_type_counted(web):
    srv, url = web
    mark = srv.mark()
    stream = recorded("tt_metal_144.bin", 144)
    with raw_socket(srv.socket) as s:
        s.sendall(stream)
        # its QUERY: a 144-byte RESPONSE with the cb and kernel totals in their fields
        s.sendall(GEN.up144(GEN.QUERY, 0))
        ans = protocol.unpack_upstream(recv_exact(s, 144))
        want = GEN.EXPECTED["tt_metal_144.bin"][0]
        assert ans["type"] == protocol.RESPONSE and ans["is_available"] == 1 and ans["num_devices"] == 2
        assert (ans["dram_allocated"], ans["l1_allocated"], ans["l1_small_allocated"], ans["trace_allocated"],
                ans["cb_allocated"], ans["kernel_allocated"]) == \
            (want["dram"], want["l1"], want["l1_small"], want["trace"], want["cb"], want["kernel"])
        assert ans["total_dram_size"] == 12 * 1024 * MiB and ans["ringbuffer_total_size"] == 0
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)  # exactly one 144-byte answer, nothing more
        s.settimeout(5)
        check_views(srv, url, GEN.EXPECTED["tt_metal_144.bin"], os.getpid())
        srv.wait_for_log(r"🔌 PID %d speaks tt-metal's 144-byte frames" % os.getpid(), since=mark)
        srv.wait_for_log(r"\[Device 0\] KERNEL_LOAD: 20480 bytes KERNEL by PID %d \(id 0x11\)" % os.getpid(),
                         since=mark)
        srv.wait_for_log(r"\[Device 0\] CB_FREE: 65536 bytes CB by PID %d" % os.getpid(), since=mark)
        srv.wait_for_log(r"📋 Loaded kernels \(requested by PID %d\):" % os.getpid(), since=mark)
        srv.wait_for_log(r"    \[Device 0\] Kernel 0x11: 20480 bytes by PID %d" % os.getpid(), since=mark)
        srv.wait_for_log(r"    2 kernels listed, 28672 bytes", since=mark)
        assert "unknown message type" not in srv.log()[mark:]
        mark = srv.mark()
    # what was left is a leak, circular buffers and kernels included
    m = srv.wait_for_log(r"Process %d exited but left (\d+) buffers allocated:" % os.getpid(), since=mark)
    # device 0: DRAM, SYSTEM_MEMORY, L1_SMALL, TRACE, 2 CBs, 1 kernel; device 1: 1 CB, 1 kernel
    assert int(m.group(1)) == 9
    log = srv.log()[mark:]
    assert re.search(r"\[Device 0\] Buffer 0x11: 20480 bytes KERNEL", log)
    assert re.search(r"\[Device 1\] Buffer 0x80000: 16384 bytes CB", log)


def test_the_112_byte_client_counts_host_memory_apart(web):
    srv, url = web
    with raw_socket(srv.socket) as s:
        s.sendall(recorded("tt_metal_112.bin", 112))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=7))
        assert recv_frame(s)["size"] == 7  # a 112-byte answer: the connection stayed at 112
        check_views(srv, url, GEN.EXPECTED["tt_metal_112.bin"], os.getpid())
        assert value(scrape(url), "ttalloc_process_memory_used_bytes", pid=os.getpid(), device=0,
                     type="system_memory") == 16 * MiB
    assert "speaks tt-metal's 144-byte" not in srv.log()


def test_a_144_byte_frame_split_after_112_bytes_is_still_read_as_144(web):
    srv, url = web
    stream = recorded("tt_metal_144.bin", 144)
    with raw_socket(srv.socket) as s:
        s.sendall(stream[:112])  # looks like a whole 112-byte frame on its own...
        wait_read_by_peer(s)  # (the server has read those 112 bytes, and nothing more)
        s.sendall(stream[112:130])  # ...until 32 zero bytes follow it
        wait_read_by_peer(s)
        s.sendall(stream[130:])
        s.sendall(GEN.up144(GEN.QUERY, 1))
        ans = protocol.unpack_upstream(recv_exact(s, 144))
        assert (ans["cb_allocated"], ans["kernel_allocated"]) == (16 * KiB, 8 * KiB)
        check_views(srv, url, GEN.EXPECTED["tt_metal_144.bin"], os.getpid())


def test_112_and_144_byte_clients_side_by_side(web):
    srv, url = web
    with raw_socket(srv.socket) as old, raw_socket(srv.socket) as new:
        new.sendall(mine(GEN.up144(GEN.KERNEL_LOAD, 1, 4 * KiB, GEN.KERNEL_APP, 0x99)))
        old.sendall(protocol.pack(protocol.QUERY, 1))
        assert protocol.unpack_seed(recv_frame(old)["payload"])["is_available"] == 1
        new.sendall(GEN.up144(GEN.DEVICE_INFO_QUERY, -1))
        info = protocol.unpack_upstream(recv_exact(new, 144))
        assert info["type"] == protocol.DEVICE_INFO_RESPONSE and info["num_devices"] == 2
        assert ttalloc.device_status(1, socket_path=srv.socket).kernel_allocated == 4 * KiB
