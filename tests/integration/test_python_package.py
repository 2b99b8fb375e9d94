"""python/ttalloc (query API and Reporter) and python/sim/tt_metal against
the real server."""

import ast
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import PYTHON_DIR, MiB, wait_until
import ttalloc

GiB = 1024 * MiB


def run_py(code, env, timeout=20):
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr
    return res.stdout


# ---- query API ----

def test_query_without_server_raises_connection_error_saying_what_to_do(short_dir):
    path = str(short_dir / "absent.sock")
    with pytest.raises(ConnectionError) as err:
        ttalloc.query_device_stats(0, socket_path=path)
    assert path in str(err.value) and "start ttalloc-server" in str(err.value)
    assert isinstance(err.value, ttalloc.ServerNotRunning)
    assert not ttalloc.is_server_running(path)


def test_socket_path_comes_from_the_environment(server):
    out = run_py("import ttalloc; print(ttalloc.socket_path); print(ttalloc.num_devices())",
                 server.env())
    assert out.split() == [server.socket, "2"]


def test_module_socket_path_attribute_is_used(server, monkeypatch):
    monkeypatch.setattr(ttalloc, "socket_path", server.socket)
    assert ttalloc.is_server_running()
    assert ttalloc.query_device_stats(1)["device_id"] == 1


def test_hello_ack_names_the_devices_and_the_servers_release(server):
    from conftest import SERVER_BIN
    from ttalloc import protocol
    from ttalloc.connection import _Connection
    with _Connection(server.socket) as conn:
        ack = conn.exchange(protocol.pack(protocol.HELLO, -1, payload=protocol.pack_hello()), protocol.HELLO_ACK)
    hello = protocol.unpack_hello(ack["payload"])
    version = subprocess.run([str(SERVER_BIN), "--version"], capture_output=True, text=True).stdout.split()[-1]
    assert protocol.release_text(hello["server_release"]) == version
    assert hello["num_devices"] == 2 and hello["server_pid"] == server.proc.pid


def test_device_info_and_status_describe_the_simulated_wormhole(server):
    info = ttalloc.device_info(0, socket_path=server.socket)
    assert isinstance(info, ttalloc.DeviceInfo) and info.arch == "Wormhole_B0"
    assert info.dram_capacity == 12 * GiB and info.l1_capacity == 1440 * MiB
    assert (info.dram_channel_count, info.dram_channel_capacity) == (12, GiB)
    assert info.device_count == 2
    st = ttalloc.device_status(1, socket_path=server.socket)
    assert isinstance(st, ttalloc.Device) and st.device_id == 1
    assert st.name == "Wormhole_B0" and st.simulated
    assert st.buffer_count == 0 and st.process_count == 0
    assert st.dram_capacity == 12 * GiB and isinstance(st.temperature_c, float)
    with pytest.raises(ValueError):
        ttalloc.device_info(2, socket_path=server.socket)
    with pytest.raises(ValueError, match="device 2 does not exist"):
        ttalloc.device_status(2, socket_path=server.socket)



# ---- the package's modules ----

PACKAGE_DIR = PYTHON_DIR / "ttalloc"
MODULES = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__")


def package_imports(module):
    """The ttalloc modules `module` imports ("" stands for the package itself)."""
    tree = ast.parse((PACKAGE_DIR / (module + ".py")).read_text(), module)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, sub = alias.name.partition(".")
                if top == "ttalloc":
                    found.add("")  # `import ttalloc[.x]` binds the package
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] != "ttalloc":
                continue
            if node.level > 1:
                found.add("..")
                continue
            inside = node.module or ""
            if node.level == 0:
                inside = inside.partition(".")[2]
            if inside:
                found.add(inside)
            else:  # from ttalloc import x / from . import x: fine only for a submodule
                found.update(a.name if a.name in MODULES else "" for a in node.names)
    return found


def test_the_package_has_the_documented_modules():
    assert MODULES == ["connection", "library", "model", "monitor", "protocol", "pytest_plugin", "query", "reporter",
                       "ttmetal"]


@pytest.mark.parametrize("module", MODULES)
def test_no_module_of_the_package_imports_the_package_itself(module):
    imports = package_imports(module)
    assert "" not in imports and ".." not in imports, \
        "ttalloc/%s.py imports the package ttalloc (or a name defined in its __init__): import the " \
        "module that defines it instead" % module
    assert imports <= set(MODULES), imports


def test_the_modules_import_each_other_without_a_cycle():
    graph = {m: package_imports(m) for m in MODULES}
    order = []
    while graph:
        ready = sorted(m for m, deps in graph.items() if deps <= set(order))
        assert ready, "import cycle among %s" % {m: sorted(d) for m, d in graph.items()}
        order += ready
        for m in ready:
            del graph[m]
    assert order.index("connection") < order.index("query") < order.index("monitor")
    assert order.index("connection") < order.index("reporter") < order.index("monitor")


@pytest.mark.parametrize("module", MODULES + ["ttalloc"])
def test_each_module_imports_first_in_a_fresh_interpreter(module, tmp_path):
    name = module if module == "ttalloc" else "ttalloc." + module
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), PYTHONDONTWRITEBYTECODE="1")
    out = run_py("import %s, ttalloc; print(len(ttalloc.__all__), ttalloc.monitor.track is ttalloc.track)"
                 % name, env)
    assert out.split() == [str(len(ttalloc.__all__)), "True"]


def test_the_package_reexports_each_module_public_names():
    for module in ("connection", "model", "query", "reporter", "monitor"):
        mod = getattr(ttalloc, module)
        for n in mod.__all__:
            assert getattr(ttalloc, n) is getattr(mod, n), "ttalloc.%s is not ttalloc.%s.%s" % (n, module, n)
    for n in ttalloc.__all__:
        assert hasattr(ttalloc, n), n
    assert ttalloc.protocol.DRAM == ttalloc.DRAM and ttalloc.protocol.MSG_SIZE == 112


PUBLIC_API = [
    "Buffer", "CB", "ClearedLeaks", "DRAM", "Device", "DeviceInfo", "KERNEL", "L1", "L1_SMALL", "LeakDevice",
    "LeakReport", "MemoryDeltas", "PeakWatch", "Process", "ProcessDevice", "Reporter", "SYSTEM_MEMORY",
    "ServerAccessDenied", "ServerError", "ServerNotRunning", "TRACE", "Tracker", "clear_leaks", "default_reporter",
    "device_info", "device_status", "devices", "document", "dump_remaining", "format_bytes", "is_server_running",
    "leaks", "mark", "num_devices", "processes", "profile", "profile_function", "query_device_stats", "socket_path",
    "track", "tracking_enabled",
]


def test_dir_of_the_package_is_its_public_api_and_nothing_else():
    assert dir(ttalloc) == PUBLIC_API
    assert sorted(ttalloc.__all__) == PUBLIC_API
    # the modules behind it stay importable for what they document
    from ttalloc import protocol
    assert protocol.MSG_SIZE == 112 and ttalloc.connection.QUERY_TIMEOUT > 0


def test_errors_speak_to_installed_users_not_to_a_build_tree(short_dir):
    path = str(short_dir / "absent.sock")
    for call in (lambda: ttalloc.devices(socket_path=path), lambda: ttalloc.processes(socket_path=path),
                 lambda: ttalloc.leaks(socket_path=path), lambda: ttalloc.document("/api/oom", path)):
        with pytest.raises(ttalloc.ServerNotRunning) as err:
            call()
        assert "start ttalloc-server" in str(err.value) and "build" not in str(err.value)
    r = ttalloc.Reporter(socket_path=path)
    assert r.report_alloc(0, ttalloc.DRAM, 0x1000, 4096) is False
    assert "start ttalloc-server" in r.last_error and "build" not in r.last_error


# A fresh interpreter whose environment names an absent socket: setting
# ttalloc.socket_path later must reach every module, and ttalloc.connection's
# attribute is the same one.
SET_SOCKET_PATH = r"""
import sys, ttalloc
absent, live = sys.argv[1], sys.argv[2]
assert ttalloc.socket_path == ttalloc.connection.socket_path == absent
assert not ttalloc.is_server_running()
r = ttalloc.Reporter()
ttalloc.socket_path = live
assert ttalloc.connection.socket_path == live and r.socket_path == live
print("devices", ttalloc.num_devices(), len(ttalloc.devices()))
print("report", r.report_alloc(1, ttalloc.L1, 0x10000, 4096), r.flush())
print("rows", [(d.device_id, d.l1_allocated) for p in ttalloc.processes() for d in p.devices])
print("track", ttalloc.track(1, reporter=False).__enter__().l1_before)
from ttalloc import *
print("star", socket_path == live)
ttalloc.connection.socket_path = absent
print("back", ttalloc.socket_path == absent, ttalloc.is_server_running(), r.socket_path == absent)
"""


def test_setting_ttalloc_socket_path_is_seen_by_every_module(server, short_dir):
    absent = str(short_dir / "absent.sock")
    env = server.env(extra={"TT_ALLOC_SERVER_SOCKET": absent})
    res = subprocess.run([sys.executable, "-c", SET_SOCKET_PATH, absent, server.socket], env=env,
                         capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["devices 2 2", "report True True", "rows [(1, 4096)]",
                                       "track 4096", "star True", "back True False True"]

# ---- Reporter ----

def test_reporter_reports_with_its_own_pid_and_flushes(server):
    with ttalloc.Reporter(socket_path=server.socket) as r:
        assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 3 * MiB)
        assert r.report_alloc(1, ttalloc.L1, 0x10000, MiB)
        assert r.report_free(1, 0x10000)
        assert r.flush()
        assert r.live_buffers == 1
        assert server.query(0)["dram_allocated"] == 3 * MiB
        assert server.query(1)["l1_allocated"] == 0
        server.wait_for_log(r"\[Device 0\] ALLOC: %d bytes DRAM by PID %d \(buffer 0x800000000\)"
                            % (3 * MiB, os.getpid()))
        rows = ttalloc.processes(socket_path=server.socket)
        assert [(p.pid, [d.device_id for d in p.devices], p.dram_allocated) for p in rows] == \
            [(os.getpid(), [0], 3 * MiB)]


def test_reporter_without_server_returns_false_and_never_raises(short_dir):
    r = ttalloc.Reporter(socket_path=str(short_dir / "absent.sock"))
    start = time.monotonic()
    for i in range(500):
        assert r.report_alloc(0, ttalloc.DRAM, 0x1000 * (i + 1), 4096) is False
    assert r.report_free(0, 0x1000) is False
    assert r.flush() is False
    assert time.monotonic() - start < 1.0
    assert r.live_buffers == 499
    assert "start ttalloc-server" in r.last_error


def test_reporter_tries_to_connect_at_most_once_per_second(short_dir, monkeypatch):
    attempts = []
    real_socket = socket.socket

    class CountingSocket(real_socket):
        def connect(self, address):
            attempts.append(time.monotonic())
            return super().connect(address)

    monkeypatch.setattr(ttalloc.reporter.socket, "socket", CountingSocket)  # the stdlib module
    r = ttalloc.Reporter(socket_path=str(short_dir / "absent.sock"))
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        r.report_alloc(0, ttalloc.DRAM, 0x1000, 4096)
        r.flush()
    # the first try at once, a next one no sooner than reconnect_interval (1 s)
    # after it: none in a half-second loop, unless a stalled machine made the
    # loop outlast a second (the gap then still shows the backoff)
    assert attempts, "the reporter never tried to connect"
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert all(g >= 0.9 for g in gaps), "tries %s s apart" % gaps


def test_reporter_resyncs_its_table_when_the_server_starts_later(short_dir, server_factory):
    path = short_dir / "late.sock"
    r = ttalloc.Reporter(socket_path=str(path))
    assert not r.report_alloc(0, ttalloc.DRAM, 0x800000000, 5 * MiB)
    assert not r.report_alloc(0, ttalloc.L1, 0x10000, MiB)
    assert not r.report_alloc(1, ttalloc.TRACE, 0x900000000, 4096)
    assert not r.report_free(0, 0x10000)
    server = server_factory(socket_path=path)
    wait_until(r.flush, timeout=3.0, interval=0.05, what="the reporter to reconnect (<= 1 s)")
    assert server.query(0)["dram_allocated"] == 5 * MiB
    assert server.query(0)["l1_allocated"] == 0
    assert server.query(1)["trace_allocated"] == 4096
    # nothing is counted twice afterwards
    assert r.report_alloc(0, ttalloc.DRAM, 0x800500000, MiB) and r.flush()
    assert server.query(0)["dram_allocated"] == 6 * MiB
    assert "already live" not in server.log()
    r.close()


def test_reporter_resyncs_after_a_server_restart(short_dir, server_factory):
    path = short_dir / "restart.sock"
    first = server_factory("first", socket_path=path)
    # no watcher thread: it could notice the stop first and spend the one
    # connect a second allows while the second server is still starting
    r = ttalloc.Reporter(socket_path=str(path), watch=False)
    assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 2 * MiB) and r.flush()
    first.stop()
    second = server_factory("second", socket_path=path)
    # the next report notices the broken connection, reconnects and re-sends
    assert r.report_alloc(0, ttalloc.L1, 0x10000, MiB)
    assert r.flush()
    q = second.query(0)
    assert (q["dram_allocated"], q["l1_allocated"]) == (2 * MiB, MiB)
    assert r.connects == 2
    r.close()


def test_reporter_tells_the_server_about_a_free_of_an_unknown_buffer(server):
    with ttalloc.Reporter(socket_path=server.socket) as r:
        mark = server.mark()
        assert r.report_free(0, 0xdead000)  # the call that connects
        assert r.flush()
        server.wait_for_log(r"FREE of an address with no live buffer: FREE of buffer 0xdead000 on "
                            r"device 0", since=mark, timeout=2.0)


def test_reporter_does_not_resend_a_free_the_resync_already_covers(short_dir, server_factory):
    path = short_dir / "covered.sock"
    # watch=False: the FREE below, not the watcher thread, must open the connection
    r = ttalloc.Reporter(socket_path=str(path), reconnect_interval=0, watch=False)
    assert not r.report_alloc(0, ttalloc.DRAM, 0x800000000, MiB)
    server = server_factory(socket_path=path)
    # the FREE of a known buffer is the call that connects; the re-sent
    # table no longer holds the buffer, so nothing else is needed
    assert r.report_free(0, 0x800000000)
    assert r.flush()
    assert server.query(0)["dram_allocated"] == 0
    assert "no live buffer" not in server.log()
    assert "FREE" not in server.log()
    r.close()


def test_reporter_rejects_bad_arguments(short_dir):
    r = ttalloc.Reporter(socket_path=str(short_dir / "absent.sock"))
    for args in [(0, 9, 0x1000, 1), (0, ttalloc.DRAM, 0x1000, 0), (-1, ttalloc.DRAM, 0x1000, 1),
                 (64, ttalloc.DRAM, 0x1000, 1)]:
        with pytest.raises(ValueError):
            r.report_alloc(*args)
    assert r.live_buffers == 0


def test_reporter_refuses_a_device_the_server_does_not_have(server):
    from reliability_support import protocol_errors
    bad_before = protocol_errors(server, "bad_device")
    with ttalloc.Reporter(socket_path=server.socket) as r:
        assert r.report_alloc(1, ttalloc.DRAM, 0x1000, 4096) is True  # connects: 2 devices
        assert r.server_devices == 2
        with pytest.raises(ValueError, match=r"device_id 2: the allocation server at %s has devices 0\.\.1"
                           % server.socket):
            r.report_alloc(2, ttalloc.DRAM, 0x2000, 4096)
        with pytest.raises(ValueError, match="device_id 3"):
            r.report_free(3, 0x2000)
        with pytest.raises(ValueError, match="device_id 4"):
            r.alloc_failed(4, ttalloc.DRAM, 4096)
        assert r.refused_device == 3 and r.live_buffers == 1
        assert r.flush()
    assert protocol_errors(server, "bad_device") == bad_before  # no round trip


def test_disabled_reporter_sends_nothing(server):
    r = ttalloc.Reporter(socket_path=server.socket, enabled=False)
    mark = server.mark()
    assert r.report_alloc(0, ttalloc.DRAM, 0x1000, 4096) is False
    assert r.flush() is False
    assert server.query(0)["dram_allocated"] == 0
    assert "ALLOC" not in server.log()[mark:]


def test_forked_child_reports_as_itself_with_an_empty_table(server):
    code = """
import os, ttalloc
r = ttalloc.Reporter()
assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 1048576) and r.flush()
pid = os.fork()
if pid == 0:
    ok = r.live_buffers == 0 and r.report_alloc(0, ttalloc.L1, 0x10000, 4096) and r.flush()
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert status == 0, status
assert r.flush() and r.live_buffers == 1
print(pid)
"""
    child = int(run_py(code, server.env()))
    server.wait_for_log(r"\[Device 0\] ALLOC: 4096 bytes L1 by PID %d" % child)
    server.wait_for_log(r"Process %d exited but left 1 buffer allocated" % child)
    assert server.query(0)["l1_allocated"] == 0


def test_session_tag_filters_processes_and_leaks(server):
    code = """
import os, ttalloc
r = ttalloc.Reporter()
assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 1048576) and r.flush()
print(os.getpid())
"""
    pid = int(run_py(code, server.env(extra={"TTALLOC_SESSION": "job-42"})))
    server.wait_for_log(r"Process %d exited but left 1 buffer" % pid)
    assert [x.pid for x in ttalloc.leaks(socket_path=server.socket, session="job-42")] == [pid]
    assert ttalloc.leaks(socket_path=server.socket, session="job-43") == []
    with ttalloc.Reporter(socket_path=server.socket, session="live-7") as r:
        assert r.report_alloc(0, ttalloc.DRAM, 0x800000000, 4096) and r.flush()
        assert [x.pid for x in ttalloc.processes(socket_path=server.socket, session="live-7")] \
            == [os.getpid()]
        assert ttalloc.processes(socket_path=server.socket, session="job-42") == []


# ---- simulated tt_metal ----

def test_tt_metal_addresses_are_bank_local_and_each_process_has_its_own_allocator(server):
    code = """
import tt_metal as ttm
d = ttm.CreateDevice(0)
bufs = [ttm.Buffer(d, size=1000, buffer_type=t) for t in
        (ttm.BufferType.DRAM, ttm.BufferType.DRAM, ttm.BufferType.L1, ttm.BufferType.L1_SMALL,
         ttm.BufferType.TRACE, ttm.BufferType.SYSTEM_MEMORY)]
print(" ".join(hex(b.address()) for b in bufs))
"""
    first = run_py(code, server.env()).split()
    second = run_py(code, server.env()).split()
    assert first == second  # one allocator per process, as in tt-metal: the same addresses
    dram = [int(a, 16) for a in first[:2] + [first[4]]]
    l1 = [int(a, 16) for a in first[2:4]]
    # 1000 B over 12 DRAM banks: 84 B a bank, 96 with the 32-byte alignment
    assert dram == [0x800000000, 0x800000000 + 96, 0x800000000 + 2 * 96]
    # over 960 L1 banks: 2 B a bank, 16 with the 16-byte alignment
    assert l1 == [0x10000, 0x10000 + 16]
    assert int(first[5], 16) == 0x8000000000


def test_tt_metal_frees_on_del_close_context_exit_and_closedevice(server):
    code = """
import gc, ttalloc, tt_metal as ttm
def dram(): return ttalloc.query_device_stats(0)["dram_allocated"]
d = ttm.CreateDevice(0)
a = ttm.Buffer(d, size=1048576, buffer_type=ttm.BufferType.DRAM)
b = ttm.Buffer(d, size=2097152, buffer_type=ttm.BufferType.DRAM)
c = ttm.Buffer(d, size=4194304, buffer_type=ttm.BufferType.DRAM)
assert dram() == 7340032, dram()
del a; gc.collect()
assert dram() == 6291456, dram()
b.close(); b.close()
assert dram() == 4194304, dram()
with ttm.Buffer(d, size=1048576) as e:
    assert dram() == 5242880, dram()
assert dram() == 4194304, dram()
ttm.CloseDevice(d)
assert dram() == 0, dram()
assert not c.is_allocated()
print("ok")
"""
    assert run_py(code, server.env()).strip() == "ok"


def test_tt_metal_raises_tt_metals_out_of_memory_error_when_a_device_is_full(server):
    code = """
import ttalloc, tt_metal as ttm
d = ttm.CreateDevice(1)
big = ttm.Buffer(d, size=8 * 1024**3, buffer_type=ttm.BufferType.DRAM)
try:
    ttm.Buffer(d, size=5 * 1024**3, buffer_type=ttm.BufferType.DRAM)
    raise SystemExit("no MemoryError for DRAM")
except RuntimeError as e:  # tt-metal's TT_FATAL, in Python
    assert isinstance(e, MemoryError)
    print("DRAM:", e)
l1 = ttm.Buffer(d, size=1400 * 1024**2, buffer_type=ttm.BufferType.L1)
try:
    ttm.Buffer(d, size=41 * 1024**2, buffer_type=ttm.BufferType.L1_SMALL)
    raise SystemExit("no MemoryError for L1")
except MemoryError as e:
    print("L1:", e)
big.deallocate()
again = ttm.Buffer(d, size=5 * 1024**3, buffer_type=ttm.BufferType.DRAM)  # space is reused
print(ttalloc.query_device_stats(1)["dram_allocated"], ttalloc.query_device_stats(1)["l1_allocated"])
"""
    out = run_py(code, server.env()).splitlines()
    # 8 GiB takes 715827904 B of each 1 GiB bank; 5 GiB would need 447392448 more
    assert out[0] == ("DRAM: Out of Memory: Not enough space to allocate 5368709120 B DRAM buffer across 12 "
                      "banks, where each bank needs to store 447392448 B, but bank size is 1073741824 B "
                      "(allocated: 715827904 B, free: 357913920 B, largest free block: 357913920 B)")
    assert out[1].startswith("L1: Out of Memory: Not enough space to allocate 42991616 B L1_SMALL buffer "
                             "across 960 banks")
    assert out[2] == "%d %d" % (5 * GiB, 1400 * MiB)
    # each failure reached the server as ALLOC_FAILED: a post-mortem each
    reports = ttalloc.document("/api/oom", socket_path=server.socket)["reports"]
    assert [(r["device_id"], r["type"], r["requested_bytes"]) for r in reports] == \
        [(1, "L1_SMALL", 41 * MiB), (1, "DRAM", 5 * GiB)]


def test_tt_metal_without_tracking_reports_nothing(server):
    mark = server.mark()
    code = """
import os, tt_metal as ttm
d = ttm.CreateDevice(0)
b = ttm.Buffer(d, size=1048576, buffer_type=ttm.BufferType.DRAM)
print(os.getpid())
"""
    pid = int(run_py(code, server.env(tracking=False)))
    assert server.query(0)["dram_allocated"] == 0
    assert "PID %d" % pid not in server.log()[mark:]


def test_tt_metal_works_without_a_server(short_dir):
    from conftest import client_env
    code = """
import tt_metal as ttm
d = ttm.CreateDevice(0)
b = ttm.Buffer(d, size=1048576, buffer_type=ttm.BufferType.DRAM)
b.deallocate()
ttm.CloseDevice(d)
print("ok")
"""
    assert run_py(code, client_env(short_dir / "absent.sock")).strip() == "ok"


def test_tt_metal_rejects_a_device_that_does_not_exist(short_dir):
    from conftest import client_env
    code = """
import tt_metal as ttm
try:
    ttm.CreateDevice(2)
except RuntimeError as e:
    print(e)
"""
    assert "device 2 does not exist" in run_py(code, client_env(short_dir / "absent.sock"))
