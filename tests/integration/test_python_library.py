"""The Python Reporter's two implementations, pure Python and libttalloc
through ctypes (ttalloc.reporter, ttalloc.library): the same API, return
values and semantics, checked by running the same client scripts with
$TTALLOC_LIBRARY=off and with the build's libttalloc.so.0, against real
servers.
"""

import json
import subprocess
import sys

import pytest

from conftest import LIBTTALLOC, MiB, preload_env, wait_until
import ttalloc

BACKENDS = ["python", "library"]


def backend_env(server, backend, extra=None):
    env = server.env(extra={"TTALLOC_LIBRARY": str(LIBTTALLOC) if backend == "library" else "off"})
    env.update(extra or {})
    if backend == "library":
        preload_env(env, [])  # a sanitized build's libttalloc needs its runtimes first in Python
    return env


def run_py(code, env, args=(), timeout=30):
    res = subprocess.run([sys.executable, "-c", code] + [str(a) for a in args], env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "library" and not LIBTTALLOC.exists():
        pytest.skip("no %s in this build" % LIBTTALLOC)
    return request.param


REPORTS = r"""
import json, os, ttalloc
MiB = 1 << 20
r = ttalloc.default_reporter()
out = {"library": r.library}
out["alloc"] = [r.report_alloc(0, ttalloc.DRAM, 0x800000000, 3 * MiB), r.report_alloc(1, ttalloc.L1, 0x10000, MiB),
                r.report_alloc(0, ttalloc.TRACE, 0x900000000, 4096.0)]  # a float is taken as int() takes it
out["free"] = [r.report_free(1, 0x10000), r.report_free(1, 0x10000)]  # the second: unknown, still sent
w = r.watch_peaks()
r.report_alloc(0, ttalloc.DRAM, 0x880000000, 8 * MiB)
r.report_free(0, 0x880000000)
w.close()
out["peak"] = w.increase(0, ttalloc.DRAM)
out["flush"] = r.flush()
out["live"] = r.live_buffers
out["table"] = sorted([dev, addr, t, size] for (dev, addr), (t, size) in r.live_table().items())
out["usage"] = r.usage(0, ttalloc.DRAM)
out["server"] = [ttalloc.query_device_stats(d) for d in (0, 1)]
(me,) = [p for p in ttalloc.processes() if p.pid == os.getpid()]
out["process"] = [me.buffer_count, me.dram_allocated, me.trace_allocated]
errors = []
for bad in ((5, ttalloc.DRAM, 0x1000, 1), (0, 9, 0x1000, 1), (0, ttalloc.DRAM, -1, 1), (0, ttalloc.DRAM, 0x1000, 0)):
    try:
        r.report_alloc(*bad)
        errors.append("accepted")
    except ValueError as e:
        errors.append("ValueError")
out["errors"] = errors
out["refused_device"] = r.refused_device
out["server_devices"] = r.server_devices
out["connected"] = r.connected
out["mark"] = r.mark("after-reports")
out["alloc_failed"] = r.alloc_failed(1, ttalloc.DRAM, 64 * MiB)
print(json.dumps(out))
"""


def test_reports_queries_and_errors_are_the_same_through_both(server, backend):
    out = json.loads(run_py(REPORTS, backend_env(server, backend)))
    assert out["library"] is (backend == "library")
    assert out["alloc"] == [True, True, True] and out["free"] == [True, True]
    assert out["peak"] == 8 * MiB and out["flush"] is True
    assert out["live"] == 2 and out["usage"] == 3 * MiB
    assert out["table"] == [[0, 0x800000000, ttalloc.DRAM, 3 * MiB], [0, 0x900000000, ttalloc.TRACE, 4096]]
    assert [(s["dram_allocated"], s["trace_allocated"]) for s in out["server"]] == [(3 * MiB, 4096), (0, 0)]
    assert out["process"] == [2, 3 * MiB, 4096]
    # a device the server does not have, a bad type, a negative address, a zero size
    assert out["errors"] == ["ValueError"] * 4
    assert out["refused_device"] == 1 and out["server_devices"] == 2 and out["connected"] is True
    assert out["mark"] is True and out["alloc_failed"] is True
    assert ttalloc.document("/api/marks", server.socket)["marks"][-1]["label"] == "after-reports"
    assert ttalloc.document("/api/oom", server.socket)["reports"][0]["requested_bytes"] == 64 * MiB
    # the FREE of an unknown buffer reached the server too (its counters see the mistake)
    assert ttalloc.document("/api/misuse", server.socket)["totals"]["double_free"] == 1


CLOSE_EARLY = r"""
import os, sys, ttalloc
r = ttalloc.default_reporter()
assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 1 << 20)
r.close()                         # GOODBYE: what is live is this process's leak now
print("closed", r.connected, flush=True)
sys.stdin.readline()
assert r.report_alloc(1, ttalloc.L1, 0x10000, 4096) and r.flush()  # a later report connects again
print("again", r.live_buffers, flush=True)
sys.stdin.readline()
"""


def test_close_says_goodbye_and_a_later_report_connects_again(server, backend, processes):
    p = processes([sys.executable, "-c", CLOSE_EARLY], env=backend_env(server, backend))
    assert p.expect(r"^closed (\w+)$").group(1) == "False"
    # the leak is reported while the process still runs: GOODBYE, not its exit
    server.wait_for_log(r"Process %d exited but left 1 buffer allocated" % p.pid)
    assert p.proc.poll() is None
    p.send("")
    assert p.expect(r"^again (\d+)$").group(1) == "2"
    # the table it kept was given to the server again with the new report
    assert (server.query(0)["dram_allocated"], server.query(1)["l1_allocated"]) == (1 << 20, 4096)


IDLE = r"""
import sys, ttalloc
r = ttalloc.default_reporter()
assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 5 << 20) and r.report_alloc(1, ttalloc.TRACE, 0x900000000, 4096)
assert r.flush()
print("held", flush=True)
sys.stdin.readline()
"""


def test_an_idle_process_is_sent_again_to_a_restarted_server(short_dir, server_factory, backend, processes):
    path = short_dir / "restart.sock"
    first = server_factory("first", socket_path=path)
    p = processes([sys.executable, "-c", IDLE], env=backend_env(first, backend))
    p.expect("^held$")
    first.stop()
    second = server_factory("second", socket_path=path)
    # no call from the application: its watcher thread reconnects and re-sends the table
    wait_until(lambda: (second.query(0)["dram_allocated"], second.query(1)["trace_allocated"]) == (5 << 20, 4096),
               timeout=5, what="the idle process's buffers on the new server")


FORK = r"""
import os, ttalloc
r = ttalloc.default_reporter()
assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 1 << 20) and r.flush()
pid = os.fork()
if pid == 0:
    ok = r.live_buffers == 0 and r.report_alloc(0, ttalloc.L1, 0x10000, 4096) and r.flush()
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status), pid, r.live_buffers, os.getpid(), flush=True)
"""


def test_a_forked_child_starts_with_an_empty_table(server, backend):
    rc, child, live, parent = map(int, run_py(FORK, backend_env(server, backend)).split()[1:])
    assert (rc, live) == (0, 1)
    # each left its own buffer, and only its own: the parent's was not the child's too
    for pid, what in ((child, "4096 bytes L1"), (parent, "1048576 bytes DRAM")):
        m = server.wait_for_log(r"Process %d exited but left 1 buffer allocated:\n.*%s" % (pid, what))
        assert m
    assert (server.query(0)["dram_allocated"], server.query(0)["l1_allocated"]) == (0, 0)


def test_python_stacks_keep_the_pure_python_reporter(server):
    if not LIBTTALLOC.exists():
        pytest.skip("no %s in this build" % LIBTTALLOC)
    code = ("import ttalloc, json; r = ttalloc.default_reporter()\n"
            "assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 4096) and r.flush()\n"
            "from ttalloc.reporter import _LibReporter\n"
            "print(json.dumps([r.library, _LibReporter.refusal]))")
    env = backend_env(server, "library", {"TT_ALLOC_STACK_TRACE": "1"})
    library, why = json.loads(run_py(code, env))
    assert library is False and "TT_ALLOC_STACK_TRACE=1" in why
    (report,) = ttalloc.document("/api/leaks", server.socket)["reports"]  # its buffer, left at exit
    assert report["buffers"][0]["stack"][0].startswith("<module> (<string>:")


def test_without_the_library_the_reporter_is_pure_python_and_says_why(server, short_dir):
    code = ("import ttalloc\nfrom ttalloc import library\nr = ttalloc.default_reporter()\n"
            "print(r.library, library.why)")
    missing = short_dir / "libttalloc.so.0"
    out = run_py(code, server.env(extra={"TTALLOC_LIBRARY": str(missing)}))
    assert out == "False libttalloc.so.0 not found (TTALLOC_LIBRARY=%s)\n" % missing
    out = run_py(code, server.env(extra={"TTALLOC_LIBRARY": "off"}))
    assert out == "False TTALLOC_LIBRARY=off: pure Python\n"
    with pytest.raises(ValueError, match="libttalloc cannot serve this reporter"):
        ttalloc.Reporter(socket_path=server.socket, library=True)  # tracking is off in this process


def test_one_reporter_per_process_uses_the_library(server):
    if not LIBTTALLOC.exists():
        pytest.skip("no %s in this build" % LIBTTALLOC)
    code = ("import ttalloc\na = ttalloc.Reporter()\nb = ttalloc.Reporter()\n"
            "c = ttalloc.Reporter(library=False)\nd = ttalloc.Reporter(session='other')\n"
            "print(a.library, b.library, c.library, d.library)")
    out = run_py(code, backend_env(server, "library"))
    assert out == "True False False False\n"
