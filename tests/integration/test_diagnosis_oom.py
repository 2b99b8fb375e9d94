"""Allocation failures and fragmentation (issue 13): the simulated tt_metal
fills a device with equal buffers, frees every other one and asks for twice
their size; the allocation fails the way tt-metal's does, the server keeps
a post-mortem that says why (fragmentation: largest free < request <= free),
and every front end shows it: GET /api/oom, tt_smi --oom and --json, the
log, /metrics, the address map."""

import json
import re

from conftest import wait_until
from diag_support import GiB, MiB, doc, metric, raw, smi, start_py
import ttalloc

FRAGMENT = """
import sys, tt_metal as ttm
MiB = 1 << 20
d = ttm.CreateDevice(0)

def fill_device():
    return [ttm.Buffer(d, 768 * MiB) for _ in range(16)]

bufs = fill_device()
for b in bufs[::2]:
    b.deallocate()
try:
    ttm.Buffer(d, 1536 * MiB)
    print("no error")
except RuntimeError as e:
    print("error", isinstance(e, MemoryError), e)
print("ready", flush=True)
sys.stdin.readline()
"""


def fragmented(processes, server):
    p = start_py(processes, server, FRAGMENT)
    line = p.lines[0]  # printed before "ready"
    assert line == ("error True Out of Memory: Not enough space to allocate 1610612736 B DRAM buffer across 12 "
                    "banks, where each bank needs to store 134217728 B, but bank size is 1073741824 B "
                    "(allocated: 536870912 B, free: 536870912 B, largest free block: 67108864 B)")
    return p


def test_a_fragmentation_failure_leaves_a_post_mortem_that_blames_fragmentation(server, processes):
    p = fragmented(processes, server)
    reports = doc(server, "/api/oom")["reports"]
    assert len(reports) == 1
    r = reports[0]
    assert (r["pid"], r["device_id"], r["type"]) == (p.pid, 0, "DRAM")
    assert r["requested_bytes"] == 1536 * MiB
    assert r["largest_free_bytes"] < r["requested_bytes"] <= r["free_bytes"]
    assert (r["capacity_bytes"], r["free_bytes"], r["largest_free_bytes"]) == (12 * GiB, 6 * GiB, 768 * MiB)
    assert r["fragmentation"] == 0.875 and r["free_block_count"] == 8 and r["cause"] == "fragmentation"
    assert r["summary"] == "needs 1.5 GB, 6.0 GB free, largest free block 768.0 MB: fragmentation"
    assert [h["pid"] for h in r["holders"]] == [p.pid] and r["holders"][0]["bytes"] == 6 * GiB
    assert len(r["buffers"]) == 8 and all(b["size"] == 768 * MiB for b in r["buffers"])
    assert all(any("fill_device" in f for f in b["stack"]) for b in r["buffers"])
    assert all(b["age_seconds"] >= 0 for b in r["buffers"])
    kinds = [e["kind"] for e in r["recent_events"]]
    assert kinds[:9] == ["alloc_failed"] + ["free"] * 8 and kinds[9:25] == ["alloc"] * 16
    assert r["recent_events"][0]["size"] == 1536 * MiB
    # a free shows where the buffer was allocated and where it was freed
    freed = r["recent_events"][1]
    assert any("fill_device" in f for f in freed["stack"])
    assert any("deallocate" in f for f in freed["call_stack"]) and not any("fill_device" in f
                                                                         for f in freed["call_stack"])
    assert any("Buffer.__init__" in f for f in r["stack"])
    # the same report by id; an id not kept is a 404
    assert doc(server, "/api/oom/%d" % r["id"]) == r
    assert raw(server, "/api/oom/999").status == 404
    assert raw(server, "/api/oom/x").status == 404


def test_every_front_end_shows_the_failure(server, processes):
    mark = server.mark()
    p = fragmented(processes, server)
    server.wait_for_log(r"^❗ PID %d \(python3?\S*\): allocation of 1\.5 GB DRAM on device 0 failed: needs 1\.5 GB, "
                        r"6\.0 GB free, largest free block 768\.0 MB: fragmentation \(post-mortem 1: "
                        r"GET /api/oom/1, tt_smi --oom\)$" % p.pid, since=mark)
    out = smi(server, "--oom").stdout
    assert "PID %d" % p.pid in out
    assert "DRAM buffer of 1.5 GB: needs 1.5 GB, 6.0 GB free, largest free block 768.0 MB: fragmentation" in out
    assert re.search(r"fragmentation 88% in 8 free blocks", out), out
    assert "fill_device" in out
    js = ttalloc.document("/api/oom?limit=1", socket_path=server.socket)
    assert js["reports"][0]["summary"].endswith("fragmentation")
    full = json.loads(smi(server, "--json").stdout)
    assert full["oom"]["requested_bytes"] == 1536 * MiB and full["oom"]["cause"] == "fragmentation"
    assert metric(server, "ttalloc_alloc_failures_total", device=0, type="dram") == 1
    assert metric(server, "ttalloc_alloc_failures_total", device=1, type="dram") == 0


def test_tt_smi_oom_and_json_without_a_failure(server):
    assert smi(server, "--oom").stdout == "No allocation failure reported since the server started.\n"
    assert json.loads(smi(server, "--json").stdout)["oom"] is None


def test_the_address_map_shows_the_holes(server, processes):
    p = fragmented(processes, server)
    m = doc(server, "/api/devices/0/map?type=dram&pid=%d&cells=16&blocks=3" % p.pid)
    assert (m["capacity_bytes"], m["used_bytes"], m["free_bytes"]) == (12 * GiB, 6 * GiB, 6 * GiB)
    assert m["largest_free_bytes"] == 768 * MiB and m["fragmentation"] == 0.875
    assert m["free_block_count"] == 8 and len(m["free_blocks"]) == 3
    assert m["free_blocks"][0] == {"address": "0x800000000", "size": 768 * MiB}
    assert m["cells"] == [0.0, 1.0] * 8
    assert (m["base"], m["bank_count"], m["bank_size"], m["alignment"]) == ("0x800000000", 12, GiB, 32)
    # every process's view is the same here; L1 is empty
    assert doc(server, "/api/devices/0/map")["free_bytes"] == 6 * GiB
    l1 = doc(server, "/api/devices/0/map?type=l1")
    assert l1["used_bytes"] == 0 and l1["free_block_count"] == 1 and l1["fragmentation"] == 0
    out = smi(server, "--map", "-i", "0", "--type", "dram").stdout
    strip = re.search(r"\[([·█▓░]+)\]", out).group(1)
    assert strip == "····████" * 8
    assert "capacity 12.0 GB, used 6.0 GB, free 6.0 GB in 8 blocks, largest free block 768.0 MB: " \
           "fragmentation 88%" in out


def test_bad_map_requests_are_refused(server):
    assert raw(server, "/api/devices/0/map?type=system_memory").status == 400
    assert raw(server, "/api/devices/0/map?type=bogus").status == 400
    assert raw(server, "/api/devices/7/map").status == 404
    assert raw(server, "/api/devices/0/map?pid=1").status == 404
    assert raw(server, "/api/devices/0/map?blocks=100000").status == 400
    res = smi(server, "--map", "-i", "1", "--type", "cb", check=False)
    assert res.returncode == 2 and "CB buffers have no address range of their own" in res.stderr
    # -i names a device as everywhere else; one that is not there is a usage error
    serial = json.loads(smi(server, "--json").stdout)["devices"][1]["serial"]
    assert smi(server, "--map", "-i", serial).stdout.startswith("Device 1 DRAM")
    for bad in ("7", "0,1", "NOSUCHSERIAL"):
        res = smi(server, "--map", "-i", bad, check=False)
        assert res.returncode == 2 and res.stdout == "", bad
    res = smi(server, "--export-stacks", "-", "-i", "5", check=False)
    assert res.returncode == 2 and "no device matches -i '5' (devices: 0, 1)" in res.stderr


def test_failures_of_two_processes_sharing_a_device(server, processes):
    """Each tt-metal process has its own allocator: their buffers share
    addresses; a post-mortem shows the failing process's view and the
    device's use by all."""
    hold = start_py(processes, server, "import sys, tt_metal as ttm\n"
                    "b = ttm.Buffer(ttm.CreateDevice(0), 8 << 30)\nprint('ready', flush=True)\nsys.stdin.readline()\n")
    asker = start_py(processes, server, "import sys, tt_metal as ttm\n"
                     "try:\n    ttm.Buffer(ttm.CreateDevice(0), 13 << 30)\nexcept RuntimeError:\n    pass\n"
                     "print('ready', flush=True)\nsys.stdin.readline()\n")
    r = wait_until(lambda: doc(server, "/api/oom")["reports"], what="the post-mortem")[0]
    assert r["pid"] == asker.pid and r["cause"] == "too_large"
    assert r["free_bytes"] == 12 * GiB and r["device_free_bytes"] == 4 * GiB and r["used_bytes"] == 8 * GiB
    assert [h["pid"] for h in r["holders"]] == [hold.pid]


def test_a_tt_metal_out_of_memory_error_becomes_a_post_mortem(server):
    """ttalloc.ttmetal turns tt-metal's exception into ALLOC_FAILED through a Reporter."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no tt-metal here: buffers untracked, said once
        from ttalloc import ttmetal
    text = ("TT_FATAL @ tt_metal/impl/allocator/bank_manager.cpp:439: false\ninfo:\nOut of Memory: Not enough "
            "space to allocate 1061683200 B DRAM buffer across 8 banks, where each bank needs to store 132710400 B, "
            "but bank size is 4273390016 B (allocated: 4221954688 B, free: 51435328 B, largest free block: "
            "45589184 B)")
    with ttalloc.Reporter(socket_path=server.socket, watch=False) as r:
        assert ttmetal.report_out_of_memory(RuntimeError(text), device=1, reporter=r) is True
    rep = doc(server, "/api/oom")["reports"][0]
    assert (rep["device_id"], rep["type"], rep["requested_bytes"]) == (1, "DRAM", 1061683200)
