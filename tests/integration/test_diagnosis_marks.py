"""Marks, diffs and snapshots (issue 13): ttalloc.mark / ttalloc_mark /
tt_smi --mark record named points in the server's timeline; GET /api/diff
says exactly what was allocated and freed between two of them; tt_smi
--snapshot and --diff compare whole pictures."""

import json
import os

from conftest import raw_socket, sync
from diag_support import MiB, doc, raw, smi, start_app, start_py, diag_app  # noqa: F401 (fixture)
import ttalloc
from ttalloc import protocol

STEPS = """
import sys, ttalloc, tt_metal as ttm
MiB = 1 << 20
d = ttm.CreateDevice(0)

def load():
    return ttm.Buffer(d, 64 * MiB)

def grow(n):
    return [ttm.Buffer(d, (i + 1) * MiB, buffer_type=ttm.BufferType.L1 if i == 1 else ttm.BufferType.DRAM)
            for i in range(n)]

old = load()
ttalloc.mark("step-1")
new = grow(3)
old.deallocate()
print("ready", flush=True)
sys.stdin.readline()
late = ttm.Buffer(d, 5 * MiB)
print("late", flush=True)
sys.stdin.readline()
"""


def test_a_diff_between_two_marks_is_exact(server, processes):
    p = start_py(processes, server, STEPS)
    smi(server, "--mark", "step-2")  # another process: after everything p flushed
    p.send("go")
    p.expect("^late$")
    d = doc(server, "/api/diff?from=step-1&to=step-2")
    assert d["exact"] is True and d["from"]["label"] == "step-1" and d["to"]["label"] == "step-2"
    allocated = sorted((i["size"], i["type"]) for i in d["allocated"]["buffers"])
    assert allocated == [(1 * MiB, "DRAM"), (2 * MiB, "L1"), (3 * MiB, "DRAM")]
    assert [(i["size"], i["address"]) for i in d["freed"]["buffers"]] == [(64 * MiB, "0x800000000")]
    assert (d["allocated"]["bytes"], d["freed"]["bytes"]) == (6 * MiB, 64 * MiB)
    assert d["growth_bytes"] == 6 * MiB - 64 * MiB
    assert [(t["pid"], t["growth_bytes"]) for t in d["by_process"]] == [(p.pid, 6 * MiB - 64 * MiB)]
    assert [(t["type"], t["growth_bytes"]) for t in d["by_type"]] == [("L1", 2 * MiB), ("DRAM", -60 * MiB)]
    stacks = d["by_stack"]
    assert stacks[0]["growth_bytes"] == 6 * MiB and any("grow" in f for f in stacks[0]["stack"])
    assert stacks[-1]["growth_bytes"] == -64 * MiB and any("load" in f for f in stacks[-1]["stack"])
    # up to now, the buffer allocated after step-2 is there too
    now = doc(server, "/api/diff?from=step-2")
    assert [i["size"] for i in now["allocated"]["buffers"]] == [5 * MiB] and now["to"] == "now"
    assert doc(server, "/api/diff?from=step-1&pid=%d" % p.pid)["allocated"]["bytes"] == 11 * MiB
    assert doc(server, "/api/diff?from=step-1&pid=1")["allocated"]["buffer_count"] == 0
    # over the socket, the same document
    assert ttalloc.document("/api/diff?from=step-1&to=step-2", socket_path=server.socket) == d


def test_a_process_exit_between_marks_counts_as_freed(server, processes):
    ttalloc.mark("before", socket_path=server.socket)
    p = start_py(processes, server, "import sys, tt_metal as ttm\nb = ttm.Buffer(ttm.CreateDevice(1), 7 << 20)\n"
                 "print('ready', flush=True)\nsys.stdin.readline()\n")
    ttalloc.mark("during", socket_path=server.socket)
    p.close()
    server.wait_for_log(r"Process %d exited but left 1 buffer" % p.pid)
    ttalloc.mark("after", socket_path=server.socket)
    d = doc(server, "/api/diff?from=during&to=after")
    assert [(i["pid"], i["size"], i["device_id"]) for i in d["freed"]["buffers"]] == [(p.pid, 7 * MiB, 1)]
    d = doc(server, "/api/diff?from=before&to=during")
    assert d["allocated"]["bytes"] == 7 * MiB and d["freed"]["bytes"] == 0
    assert doc(server, "/api/diff?from=before&to=after")["allocated"]["bytes"] == 0


def test_bad_diffs_are_refused(server):
    assert raw(server, "/api/diff").status == 400
    assert raw(server, "/api/diff?from=nope").status == 404
    ttalloc.mark("one", socket_path=server.socket)
    ttalloc.mark("two", socket_path=server.socket)
    assert raw(server, "/api/diff?from=two&to=one").status == 400
    assert raw(server, "/api/diff?from=now").status == 400
    assert raw(server, "/api/diff?from=one&limit=x").status == 400
    marks = doc(server, "/api/marks")
    assert [m["label"] for m in marks["marks"]] == ["one", "two"] and marks["marks_total"] == 2


def test_c_marks_and_a_one_megabyte_label_is_refused(server, processes, diag_app):
    p = start_app(processes, diag_app, server, "marks")
    assert p.lines[0] == "huge %d" % -98  # TTALLOC_EINVAL
    d = doc(server, "/api/diff?from=c-start&to=c-end")
    assert [i["size"] for i in d["allocated"]["buffers"]] == [8 * MiB]
    assert any(f.startswith("load_weights") for f in d["by_stack"][0]["stack"])
    for bad in ("x" * (1 << 20), "", "tab\there"):
        try:
            ttalloc.mark(bad, socket_path=server.socket)
            raise AssertionError("accepted %r" % bad[:20])
        except ValueError:
            pass
    for label in ("y" * 100000, "z" * 72):  # 72: one more than fits (tt_smi took it and stored 71)
        res = smi(server, "--mark", label, check=False)
        assert res.returncode == 2 and "a mark label is 1..71 bytes" in res.stderr
    assert doc(server, "/api/marks")["marks_total"] == 2
    assert smi(server, "--mark", "w" * 71).returncode == 0
    assert doc(server, "/api/marks")["marks"][-1]["label"] == "w" * 71


def test_bad_mark_frames_are_counted_protocol_errors(server):
    from diag_support import metric
    s = raw_socket(server.socket)
    for payload in (b"", b"\x01bell", b"z" * 72):
        s.sendall(protocol.pack(protocol.MARK, -1, payload=payload))
    sync(s, 1)
    assert metric(server, "ttalloc_protocol_errors_total", reason="bad_text") == 3
    assert doc(server, "/api/marks")["marks_total"] == 0
    s.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def test_a_hundred_thousand_marks_keep_the_server_memory_bounded(server):
    s = raw_socket(server.socket, timeout=30)
    frames = b"".join(protocol.pack(protocol.MARK, -1, payload=protocol.pack_text("m%d" % i)) for i in range(1000))
    ttalloc.mark("warm", socket_path=server.socket)  # the ring of marks exists from here
    before = rss_kib(server.proc.pid)
    for batch in range(100):
        s.sendall(frames)
    sync(s, 1)
    grown = rss_kib(server.proc.pid) - before
    marks = doc(server, "/api/marks")
    assert marks["marks_total"] == 100001 and marks["marks_kept"] == marks["marks_keep_max"] == 4096
    assert grown < 8 * 1024, "the server grew by %d KiB for 100 000 marks" % grown
    assert raw(server, "/api/diff?from=warm").status == 404  # forgotten: refused, not wrong
    s.close()


def test_snapshots_and_their_diff(server, processes, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    p = start_py(processes, server, STEPS)
    smi(server, "--snapshot", str(a))
    p.send("go")
    p.expect("^late$")
    smi(server, "--snapshot", str(b))
    snap = json.loads(a.read_text())
    assert snap["format"] == "ttalloc-snapshot" and snap["buffer_count"] == 3 and snap["buffers_omitted"] == 0
    assert {d["device_id"] for d in snap["devices"]} == {0, 1}
    assert all(b["stack_id"] is not None and str(b["stack_id"]) in snap["stacks"] for b in snap["buffers"])
    out = smi(server, "--diff", str(a), str(b)).stdout
    assert "allocated +5.0 MB in 1 buffers, freed -0 B in 0 buffers: growth +5.0 MB" in out
    assert "PID %d" % p.pid in out and "<module>" in out
    live = smi(server, "--diff", str(a)).stdout
    assert "and the live server" in live and "growth +5.0 MB" in live
    res = smi(server, "--diff", str(tmp_path / "missing.json"), check=False)
    assert res.returncode == 1 and "cannot read the snapshot" in res.stderr
    # a snapshot that lists only its biggest buffers is compared by totals
    small = json.loads(b.read_text())
    small["buffers"] = small["buffers"][:1]
    small["buffers_omitted"] = small["buffer_count"] - 1
    (tmp_path / "c.json").write_text(json.dumps(small))
    out = smi(server, "--diff", str(a), str(tmp_path / "c.json")).stdout
    assert "compared by totals" in out and "growth +5.0 MB" in out
    os.remove(a)
