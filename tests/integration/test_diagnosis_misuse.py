"""Misuse with both stacks, exports (collapsed stacks, Chrome trace), and
the diagnosis messages' bad input (issue 13)."""

import json
import re

from conftest import raw_socket, recv_frame, sync, wait_until
from diag_support import MiB, diag_app, doc, metric, raw, smi, start_app, start_py  # noqa: F401 (fixture)
from http_support import RawClient
import ttalloc
from ttalloc import protocol


def test_a_double_free_shows_both_stacks(server, processes, diag_app):
    mark = server.mark()
    p = start_app(processes, diag_app, server, "doublefree")
    entries = doc(server, "/api/misuse")["entries"]
    assert len(entries) == 1
    e = entries[0]
    assert (e["kind"], e["pid"], e["device_id"], e["address"], e["size"]) == \
        ("double_free", p.pid, 0, "0x800100000", 4096)
    assert e["alloc_stack"][0].startswith("make_buffer (diag_app.c:")
    assert e["first_free_stack"][0].startswith("release_buffer (diag_app.c:")
    assert e["offending_stack"][0].startswith("release_buffer (diag_app.c:")
    assert e["offending_stack"][1].startswith("run (diag_app.c:")
    server.wait_for_log(r"^⚠️  Misuse by PID %d \(diag_app\): double free: buffer 0x800100000 on device 0"
                        % p.pid, since=mark)
    server.wait_for_log(r"^    allocated at:\n      at make_buffer \(diag_app\.c:\d+\)", since=mark)
    assert metric(server, "ttalloc_misuse_total", kind="double_free") == 1
    assert metric(server, "ttalloc_protocol_errors_total", reason="unknown_free") == 1  # as before


def test_python_double_free_shows_python_frames(server, processes):
    p = start_py(processes, server, """
import sys, ttalloc
r = ttalloc.default_reporter()

def allocate():
    r.report_alloc(0, ttalloc.L1, 0x10000, 4096)

def release():
    r.report_free(0, 0x10000)

allocate(); release(); release(); r.flush()
print("ready", flush=True)
sys.stdin.readline()
""")
    e = doc(server, "/api/misuse?pid=%d" % p.pid)["entries"][0]
    assert e["kind"] == "double_free"
    assert e["alloc_stack"][0].startswith("allocate (<string>:")
    assert e["offending_stack"][0].startswith("release (<string>:")


def test_two_python_reporters_of_one_process_keep_their_own_stacks(server, processes):
    # The server keeps stacks per process; two Reporters numbered theirs
    # from 1 alike, so b's buffer showed a's stack (and a double free the
    # wrong three). Stack ids now come from the frames, as libttalloc's do.
    p = start_py(processes, server, """
import sys, ttalloc
a = ttalloc.Reporter(stack_traces=True)
b = ttalloc.Reporter(stack_traces=True)

def through_a():
    a.report_alloc(0, ttalloc.DRAM, 0x800000000, 4096)

def through_b():
    b.report_alloc(0, ttalloc.DRAM, 0x800100000, 8192)

through_a(); through_b(); a.flush(); b.flush()
print("ready", flush=True)
sys.stdin.readline()
""")
    rows = {b["address"]: b for b in doc(server, "/api/buffers?pid=%d" % p.pid)["buffers"]}
    assert rows["0x800000000"]["stack"][0].startswith("through_a (<string>:")
    assert rows["0x800100000"]["stack"][0].startswith("through_b (<string>:")
    lines = smi(server, "--export-stacks", "-").stdout.splitlines()
    assert any("through_a (<string>:" in line and line.endswith(" 4096") for line in lines), lines
    assert any("through_b (<string>:" in line and line.endswith(" 8192") for line in lines), lines


def test_wrong_device_overlapping_alloc_and_unknown_free(server):
    c = RawClient(server.socket)
    c.alloc(0, 0, 0x800000000, 4096)
    c.free(1, 0x800000000)             # the buffer is on device 0
    c.alloc(0, 0, 0x800000000, 8192)   # over the live one
    c.free(0, 0x123000)                # never allocated
    c.sync()
    kinds = [(e["kind"], e["device_id"], e["other_device_id"], e["size"])
             for e in reversed(doc(server, "/api/misuse")["entries"])]
    assert kinds == [("wrong_device", 1, 0, 4096), ("overlapping_alloc", 0, None, 4096),
                     ("unknown_free", 0, None, None)]
    for kind, n in (("wrong_device", 1), ("overlapping_alloc", 1), ("unknown_free", 1), ("double_free", 0)):
        assert metric(server, "ttalloc_misuse_total", kind=kind) == n
    assert metric(server, "ttalloc_protocol_errors_total", reason="duplicate_alloc") == 1
    c.close()


def collapsed(text):
    """{stack: bytes} of a collapsed-stacks export, checking its syntax."""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([^;\n]+(?:;[^;\n]+)*) (\d+)", line)
        assert m, "not a collapsed stack line: %r" % line
        out[m.group(1)] = int(m.group(2))
    return out


def test_flame_graph_export_names_the_allocating_functions_c_and_python(server, processes, diag_app, tmp_path):
    start_app(processes, diag_app, server, "flame")
    start_py(processes, server, """
import sys, tt_metal as ttm

def allocate_activations():
    return ttm.Buffer(ttm.CreateDevice(0), 3 << 20)

a = allocate_activations()
print("ready", flush=True)
sys.stdin.readline()
""")
    r = raw(server, "/api/export/stacks")
    assert r.status == 200 and r.content_type.startswith("text/plain")
    stacks = collapsed(r.body.decode())
    c_weights = [s for s in stacks if s.startswith("diag_app;") and re.search(r";load_weights \(diag_app\.c:\d+\)$", s)]
    assert len(c_weights) == 1 and stacks[c_weights[0]] == 8 * MiB and ";main (diag_app.c:" in c_weights[0]
    py = [s for s in stacks if "allocate_activations (<string>:" in s]
    assert len(py) == 1 and stacks[py[0]] == 3 * MiB and py[0].split(";")[-1].startswith("Buffer.__init__ (")
    # filters, and tt_smi writes the same text
    l1 = collapsed(raw(server, "/api/export/stacks?type=l1").body.decode())
    assert list(l1.values()) == [1 * MiB] and "make_cache (diag_app.c:" in next(iter(l1))
    out = tmp_path / "stacks.txt"
    smi(server, "--export-stacks", str(out))
    assert collapsed(out.read_text()) == stacks
    assert raw(server, "/api/export/stacks?device=9").status == 400


def test_buffers_without_stacks_are_one_bucket(server, processes, diag_app):
    start_app(processes, diag_app, server, "flame", stacks=False)
    assert collapsed(raw(server, "/api/export/stacks").body.decode()) == {"diag_app;[no stack]": 9 * MiB}


TRACE_PHASES = {"C", "i", "M"}


def check_trace(trace):
    """Chrome Trace Event Format (the JSON Object Format): a traceEvents list of
    events with the documented fields for each phase used."""
    assert isinstance(trace, dict) and isinstance(trace["traceEvents"], list)
    assert trace.get("displayTimeUnit") in ("ms", "ns")
    for ev in trace["traceEvents"]:
        assert isinstance(ev["name"], str) and ev["ph"] in TRACE_PHASES, ev
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int), ev
        if ev["ph"] == "M":
            assert ev["name"] == "process_name" and isinstance(ev["args"]["name"], str), ev
            continue
        assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0, ev
        assert isinstance(ev.get("args", {}), dict)
        if ev["ph"] == "C":
            assert ev["args"] and all(isinstance(v, (int, float)) for v in ev["args"].values()), ev
        if ev["ph"] == "i":
            assert ev["s"] in ("g", "p", "t"), ev


def test_the_trace_export_is_chrome_trace_event_format(server_factory, processes, diag_app, tmp_path):
    server = server_factory(args=["--history-interval", "100"])
    ttalloc.mark("begin", socket_path=server.socket)
    start_app(processes, diag_app, server, "doublefree")
    start_app(processes, diag_app, server, "oom")
    app = start_app(processes, diag_app, server, "flame")
    app.close()
    server.wait_for_log(r"Process %d exited but left" % app.pid)
    start_app(processes, diag_app, server, "flame")
    wait_until(lambda: any(p["dram_allocated"] and any(p["dram_allocated"]) for p in doc(server, "/api/history")["processes"]),
               what="a history sample with the flame buffers")
    trace = doc(server, "/api/export/trace")
    check_trace(trace)
    names = [e["name"] for e in trace["traceEvents"]]
    assert "mark: begin" in names and "misuse: double_free" in names
    assert any(n.startswith("OOM: PID") for n in names) and any(n.startswith("leak: PID %d" % app.pid) for n in names)
    dram = [e for e in trace["traceEvents"] if e["ph"] == "C" and e["name"] == "DRAM"]
    assert dram and max(e["args"]["bytes"] for e in dram) == 8 * MiB
    assert any(e["ph"] == "M" and e["args"]["name"].startswith("Device 0") for e in trace["traceEvents"])
    out = tmp_path / "trace.json"
    smi(server, "--export-trace", str(out))
    check_trace(json.loads(out.read_text()))
    check_trace(doc(server, "/api/export/trace?seconds=1&points=10"))
    assert raw(server, "/api/export/trace?seconds=x").status == 400


def test_alloc_failed_with_a_bad_device_size_or_type_is_a_counted_protocol_error(server):
    s = raw_socket(server.socket)
    s.sendall(protocol.pack(protocol.ALLOC_FAILED, 7, size=4096, buffer_type=0))
    s.sendall(protocol.pack(protocol.ALLOC_FAILED, 0, size=4096, buffer_type=9))
    s.sendall(protocol.pack(protocol.ALLOC_FAILED, 0, size=0, buffer_type=0))
    s.sendall(protocol.pack(protocol.ALLOC_FAILED, 0, size=protocol.MAX_REQUEST + 1, buffer_type=0))
    s.sendall(protocol.pack(protocol.ALLOC_FAILED, 0, size=20 << 30, buffer_type=0))  # larger than the device: kept
    sync(s, 1)
    assert metric(server, "ttalloc_protocol_errors_total", reason="bad_device") == 1
    assert metric(server, "ttalloc_protocol_errors_total", reason="bad_buffer_type") == 1
    assert metric(server, "ttalloc_protocol_errors_total", reason="bad_size") == 2
    reports = doc(server, "/api/oom")["reports"]
    assert [(r["requested_bytes"], r["cause"]) for r in reports] == [(20 << 30, "too_large")]
    assert doc(server, "/api/oom")["alloc_failures_total"] == 1
    for bad in ((64, 0, 1), (0, 9, 1), (0, 0, 0)):
        try:
            ttalloc.Reporter(socket_path=server.socket).alloc_failed(*bad)
            raise AssertionError("accepted %r" % (bad,))
        except ValueError:
            pass
    s.close()


def test_doc_query_serves_the_documents_without_http_and_refuses_bad_paths(server_factory):
    server = server_factory(args=["--no-http"])
    assert ttalloc.document("/api/oom", socket_path=server.socket)["reports"] == []
    assert smi(server, "--oom").stdout.startswith("No allocation failure")
    s = raw_socket(server.socket)
    for path, why in ((b"/api/nothing", "no such document"), (b"/api/oom/42", "no post-mortem 42"),
                      (b"", "")):
        s.sendall(protocol.pack(protocol.DOC_QUERY, -1, payload=path))
        ans = recv_frame(s)
        assert ans["type"] == protocol.ERROR
        assert why in protocol.unpack_error(ans["payload"])["message"]
    s.close()
