"""libttalloc (include/ttalloc.h) against the real server: a small C program
linked to build/lib/libttalloc.so reports allocations and frees, and the
server's totals follow exactly, whatever the start order."""

import re
import time

import pytest

from conftest import BUILD, LIB_DIR, REPO, MiB, compile_c, wait_until, process_rows
import ttalloc


def error_codes():
    """TTALLOC_E* codes from include/ttalloc.h: -99, -98, ... in map order."""
    text = (REPO / "include/ttalloc.h").read_text()
    first = int(re.search(r"TTALLOC_ERRNO_FIRST_ = (-\d+)", text).group(1))
    names = re.findall(r"^\s*X\((\w+),", text.split("TTALLOC_ERRNO_MAP(X)", 1)[1], re.M)
    return {name: first + 1 + i for i, name in enumerate(names)}


CODES = error_codes()
ENOSERVER = CODES["NOSERVER"]


@pytest.fixture(scope="module")
def c_client_exe(tmp_path_factory):
    if not (LIB_DIR / "libttalloc.so").exists():
        pytest.fail("%s/libttalloc.so is missing: build first (cmake --build %s)" % (LIB_DIR, BUILD))
    exe = tmp_path_factory.mktemp("cclient") / "c_client"
    return compile_c([REPO / "tests/integration/c_client.c"], exe,
                     ["-I", str(REPO / "include")],
                     ["-L", str(LIB_DIR), "-lttalloc", "-Wl,-rpath," + str(LIB_DIR)])


@pytest.fixture
def c_client(c_client_exe, processes):
    """c_client(env) -> LineProcess running c_client.c."""
    def spawn(env):
        p = processes([c_client_exe], env=env)
        p.expect(r"^pid=\d+")
        return p
    return spawn


def rc(proc, line, timeout=5.0):
    return int(proc.command(line, timeout).group(1))


def totals(server, dev=0):
    q = server.query(dev)
    return (q["dram_allocated"], q["l1_allocated"], q["l1_small_allocated"], q["trace_allocated"])


def test_c_library_reports_allocs_and_frees_exactly(server, c_client):
    p = c_client(server.env())
    assert rc(p, "enabled") == 1
    assert rc(p, "init") == 0
    assert rc(p, "alloc 0 0 0x800000000 %d" % MiB) == 0
    assert rc(p, "alloc 0 1 0x10000 4096") == 0
    assert rc(p, "alloc 0 3 0x20000 512") == 0
    assert rc(p, "alloc 0 4 0x900000000 8192") == 0
    assert rc(p, "alloc 1 0 0x800000000 %d" % (2 * MiB)) == 0
    assert rc(p, "alloc 0 2 0x7f0000000000 %d" % MiB) == 0  # host memory: not a device total
    assert rc(p, "free 0 0x10000") == 0
    assert rc(p, "flush") == 0
    assert rc(p, "live") == 5
    assert totals(server, 0) == (MiB, 0, 512, 8192)
    assert totals(server, 1) == (2 * MiB, 0, 0, 0)
    rows = {(r["pid"], r["device_id"]): r for r in process_rows(server.socket)}
    assert rows[(p.pid, 0)]["system_memory_allocated"] == MiB
    assert rows[(p.pid, 0)]["buffer_count"] == 4
    server.wait_for_log(r"\[Device 0\] ALLOC: 1048576 bytes DRAM by PID %d \(buffer 0x800000000\)"
                        % p.pid)
    server.wait_for_log(r"\[Device 0\] FREE: buffer 0x10000 by PID %d" % p.pid)
    # free the rest: back to zero
    for line in ("free 0 0x800000000", "free 0 0x20000", "free 0 0x900000000",
                 "free 1 0x800000000", "free 0 0x7f0000000000"):
        assert rc(p, line) == 0
    assert rc(p, "flush") == 0
    assert totals(server, 0) == totals(server, 1) == (0, 0, 0, 0)
    assert rc(p, "live") == 0


def test_c_library_rejects_bad_arguments_locally(server, c_client):
    p = c_client(server.env())
    einval = CODES["INVAL"]
    assert rc(p, "alloc 0 9 0x1000 4096") == einval      # buffer type 9
    assert rc(p, "alloc 0 0 0x1000 0") == einval         # size 0
    assert rc(p, "alloc -1 0 0x1000 4096") == einval     # device -1
    assert rc(p, "free 0 0x1000") == CODES["UNKNOWN_BUFFER"]
    assert rc(p, "flush") == 0
    assert totals(server) == (0, 0, 0, 0)


def stats(proc):
    """The c_client's `stats` line as a dict of ints (and the socket path)."""
    m = proc.command("stats")
    line = proc.lines[proc._consumed - 1]
    assert m.group(1) == "0", line
    out = dict(kv.split("=", 1) for kv in line.split()[1:])
    return {k: (v if k == "socket" else int(v)) for k, v in out.items()}


def test_c_library_refuses_a_device_the_server_does_not_have_without_asking_it(server, c_client):
    from reliability_support import protocol_errors
    p = c_client(server.env())
    enodev = CODES["NODEV"]
    bad_before = protocol_errors(server, "bad_device")
    assert rc(p, "init") == 0
    assert stats(p)["server_devices"] == 2  # HELLO_ACK's count: devices 0 and 1
    assert rc(p, "alloc 2 0 0x1000 4096") == enodev
    assert rc(p, "alloc 63 1 0x1000 4096") == enodev
    assert rc(p, "free 5 0x1000") == enodev
    assert rc(p, "alloc_failed 4 0 4096") == enodev  # & co.
    assert rc(p, "alloc 64 0 0x1000 4096") == CODES["INVAL"]  # outside the protocol's 0..63
    assert rc(p, "alloc 1 0 0x1000 4096") == 0
    assert rc(p, "flush") == 0
    st = stats(p)
    assert (st["refused_device"], st["events"], st["unconfirmed"]) == (4, 1, 0)
    assert rc(p, "live") == 1
    assert totals(server, 1) == (4096, 0, 0, 0)
    # no round trip: the server never saw them (it would have counted bad_device)
    assert protocol_errors(server, "bad_device") == bad_before
    assert "for device 2" not in server.log() and "for device 5" not in server.log()


def test_c_library_before_any_server_cannot_know_and_the_server_refuses_itself(short_dir, c_client,
                                                                               server_factory):
    from conftest import client_env
    from reliability_support import protocol_errors
    path = short_dir / "late.sock"
    p = c_client(client_env(path))
    assert rc(p, "alloc 7 0 0x1000 4096") == ENOSERVER  # kept: the library does not know yet
    server = server_factory(socket_path=path)
    wait_until(lambda: rc(p, "flush") == 0, timeout=3.0, interval=0.1, what="the library to connect")
    server.wait_for_log(r"ALLOC for device 7; devices are 0\.\.1")
    assert protocol_errors(server, "bad_device") in (None, 1)
    assert rc(p, "alloc 7 0 0x2000 4096") == CODES["NODEV"]  # now it knows


def test_c_library_reports_with_no_server_never_claim_success(short_dir, c_client):
    # The library's watcher thread looks for a server every 200 ms, holding
    # the session lock; a report that met it there returned 0 as if a
    # connection were being made (found in CI; 95 to 452 of these 6 M reports
    # before the fix).
    from conftest import client_env
    p = c_client(client_env(short_dir / "absent.sock"))
    p.send("churn 3000000 0 0x1000")
    m = p.expect(r"^rc=(-?\d+) .* ok=(\d+) enoserver=(\d+)$", timeout=120)
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (ENOSERVER, 0, 6000000)


def test_c_library_stats_say_whether_events_reached_a_server(short_dir, c_client, server_factory):
    from conftest import client_env
    path = short_dir / "stats.sock"
    p = c_client(client_env(path))
    assert rc(p, "alloc 0 0 0x1000 4096") == ENOSERVER
    assert rc(p, "alloc 0 0 0x2000 4096") == ENOSERVER
    assert rc(p, "free 0 0x1000") == ENOSERVER
    st = stats(p)
    assert (st["events"], st["unconfirmed"], st["connections"], st["connected"]) == (3, 3, 0, 0)
    assert st["socket"] == str(path) and st["server_devices"] == 0
    m = p.command("lasterror")
    assert m.group(1) == "1"
    assert p.lines[p._consumed - 1] == ("rc=1 text=cannot reach the allocation server at %s (No such file or "
                                         "directory): start ttalloc-server" % path)
    server = server_factory(socket_path=path)
    wait_until(lambda: rc(p, "flush") == 0, timeout=3.0, interval=0.1, what="the library to connect")
    st = stats(p)
    assert (st["events"], st["unconfirmed"], st["connections"], st["connected"]) == (3, 0, 1, 1)
    assert p.command("lasterror").group(1) == "0" and p.lines[p._consumed - 1] == "rc=0 text="
    assert totals(server) == (4096, 0, 0, 0)
    # after the flush, new events are unconfirmed until the next one
    assert rc(p, "alloc 0 0 0x3000 4096") == 0
    assert stats(p)["unconfirmed"] == 1
    assert rc(p, "flush") == 0
    assert stats(p)["unconfirmed"] == 0


def test_c_library_reports_nothing_when_tracking_is_disabled(server, c_client):
    p = c_client(server.env(tracking=False))
    mark = server.mark()
    assert rc(p, "enabled") == 0
    assert rc(p, "init") == 0
    assert rc(p, "alloc 0 0 0x800000000 %d" % MiB) == 0
    assert rc(p, "flush") == 0
    assert rc(p, "live") == 0
    assert totals(server) == (0, 0, 0, 0)
    assert "PID %d" % p.pid not in server.log()[mark:]
    assert all(r["pid"] != p.pid for r in process_rows(server.socket))


def test_c_library_without_server_returns_enoserver_and_continues(short_dir, c_client, server_factory):
    from conftest import client_env
    p = c_client(client_env(short_dir / "nobody.sock"))
    assert rc(p, "init") == ENOSERVER
    start = time.monotonic()
    m = p.command("burst 1000 0 0 0x800000000 4096")
    assert int(m.group(1)) == ENOSERVER
    assert time.monotonic() - start < 2.0, "reporting must not block without a server"
    assert rc(p, "free 0 0x800000000") == ENOSERVER
    assert rc(p, "flush") == ENOSERVER
    assert rc(p, "live") == 999
    assert p.proc.poll() is None


def test_c_library_resyncs_when_the_server_starts_later(short_dir, c_client, server_factory):
    from conftest import client_env
    path = short_dir / "late.sock"
    p = c_client(client_env(path))
    assert rc(p, "alloc 0 0 0x800000000 %d" % MiB) == ENOSERVER
    assert rc(p, "alloc 0 1 0x10000 %d" % (2 * MiB)) == ENOSERVER
    assert rc(p, "alloc 1 0 0x800000000 %d" % (3 * MiB)) == ENOSERVER
    assert rc(p, "free 0 0x10000") == ENOSERVER
    server = server_factory(socket_path=path)
    # within the reconnect backoff (at most 1 s) a flush has re-sent the table
    wait_until(lambda: rc(p, "flush") == 0, timeout=3.0, interval=0.1,
               what="the client library to reconnect")
    assert totals(server, 0) == (MiB, 0, 0, 0)
    assert totals(server, 1) == (3 * MiB, 0, 0, 0)
    # later events add to the re-sent table; nothing is counted twice
    assert rc(p, "alloc 0 0 0x800100000 %d" % MiB) == 0
    assert rc(p, "flush") == 0
    assert rc(p, "flush") == 0
    assert totals(server, 0) == (2 * MiB, 0, 0, 0)
    rows = [r for r in process_rows(server.socket) if r["pid"] == p.pid]
    assert sorted((r["device_id"], r["buffer_count"]) for r in rows) == [(0, 2), (1, 1)]
    assert "already live" not in server.log()


def test_c_library_resyncs_after_a_server_restart(short_dir, c_client, server_factory):
    from conftest import client_env
    path = short_dir / "restart.sock"
    first = server_factory("first", socket_path=path)
    p = c_client(client_env(path))
    assert rc(p, "alloc 0 0 0x800000000 %d" % MiB) == 0
    assert rc(p, "alloc 0 1 0x10000 %d" % MiB) == 0
    assert rc(p, "flush") == 0
    assert totals(first) == (MiB, MiB, 0, 0)
    first.stop()
    second = server_factory("second", socket_path=path)

    def resynced():
        rc(p, "flush")
        return totals(second) == (MiB, MiB, 0, 0)
    wait_until(resynced, timeout=3.0, interval=0.1,
               what="the live table to be re-sent to the new server")
    assert rc(p, "free 0 0x10000") == 0
    assert rc(p, "flush") == 0
    assert totals(second) == (MiB, 0, 0, 0)
    assert "already live" not in second.log()
    assert "exited but left" not in first.log()


def test_idle_c_client_resyncs_by_itself_after_a_server_restart(short_dir, c_client, server_factory):
    from conftest import client_env
    path = short_dir / "idle.sock"
    first = server_factory("first", socket_path=path)
    p = c_client(client_env(path))
    assert rc(p, "alloc 0 0 0x800000000 %d" % (7 * MiB)) == 0
    assert rc(p, "flush") == 0
    first.stop()
    second = server_factory("second", socket_path=path)
    # no call from the application: the library's watcher reconnects
    wait_until(lambda: totals(second) == (7 * MiB, 0, 0, 0), timeout=3.0, interval=0.05,
               what="an idle client to re-send its table to the new server")
    second.wait_for_log(r"\[Device 0\] ALLOC: %d bytes DRAM by PID %d" % (7 * MiB, p.pid))


def test_free_of_an_unknown_buffer_reaches_the_server_even_as_the_first_call(server, c_client):
    # include/ttalloc.h: ttalloc_report_free of a buffer this process never
    # reported returns TTALLOC_EUNKNOWN_BUFFER and "the server is still told,
    # so its counters see the mistake" -- also when that FREE is the call
    # that opens the connection.
    p = c_client(server.env())
    mark = server.mark()
    assert rc(p, "free 0 0xdead000") == CODES["UNKNOWN_BUFFER"]
    assert rc(p, "flush") == 0
    server.wait_for_log(r"❌ PID %d: FREE of an address with no live buffer: FREE of buffer 0xdead000 "
                        r"on device 0" % p.pid, timeout=2.0, since=mark)


def test_free_of_an_unknown_buffer_reaches_the_server_on_an_open_connection(server, c_client):
    p = c_client(server.env())
    assert rc(p, "init") == 0
    mark = server.mark()
    assert rc(p, "free 0 0xdead000") == CODES["UNKNOWN_BUFFER"]
    assert rc(p, "flush") == 0
    server.wait_for_log(r"❌ PID %d: FREE of an address with no live buffer: FREE of buffer 0xdead000 "
                        r"on device 0" % p.pid, timeout=2.0, since=mark)
