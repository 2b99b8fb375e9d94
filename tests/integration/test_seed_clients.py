"""The seed's own clients (examples/seed/query_stats.py and
monitor_allocations.cpp) work against ttalloc-server.

Both hard-code /tmp/tt_allocation_server.sock. The tests run copies in which
only that path is replaced by the test server's socket; one more test runs
query_stats.py unmodified against a server on the default socket, when that
path is free."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import DEFAULT_SOCKET, REPO, MiB, wait_until
import ttalloc

QUERY_STATS = REPO / "examples/seed/query_stats.py"
MONITOR = REPO / "examples/seed/monitor_allocations.cpp"
SEED_PATH_LINE_PY = 'SOCKET_PATH = "/tmp/tt_allocation_server.sock"\n'
SEED_PATH_LINE_CPP = '#define SOCKET_PATH "/tmp/tt_allocation_server.sock"\n'

# What the reporter below puts on device 0.
DEVICE0 = [  # (type, address, size)
    (ttalloc.DRAM, 0x800000000, 60 * MiB),
    (ttalloc.DRAM, 0x803C00000, 40 * MiB),
    (ttalloc.L1, 0x10000, 450 * MiB),
    (ttalloc.L1_SMALL, 0x20000000, 64 * 1024),
    (ttalloc.TRACE, 0x900000000, 1000),
]


def with_socket(src, line, path, dest):
    """Copies a seed program, replacing only its socket path line."""
    text = src.read_text()
    assert text.count(line) == 1, "the seed program's socket line changed"
    dest.write_text(text.replace(line, line.replace(DEFAULT_SOCKET, str(path))))
    return dest


def populate(reporter_client, server):
    client = reporter_client(server)
    for btype, addr, size in DEVICE0:
        assert client.command("alloc 0 %d %#x %d" % (btype, addr, size)).group(1) == "1"
    assert client.command("flush").group(1) == "1"
    return client


def expected_query_stats_output(device_id, dram, l1, l1_small, trace):
    f = ttalloc.format_bytes
    return ("Device %d Allocation Statistics:\n"
            "  DRAM:      %s\n  L1:        %s\n  L1_SMALL:  %s\n  TRACE:     %s\n"
            "  Total:     %s\n" % (device_id, f(dram), f(l1), f(l1_small), f(trace),
                                  f(dram + l1 + l1_small + trace)))


def run_query_stats(script, device_id):
    return subprocess.run([sys.executable, str(script), str(device_id)], capture_output=True,
                          text=True, timeout=20)


def test_seed_query_stats_prints_the_servers_totals(server, reporter_client, tmp_path):
    populate(reporter_client, server)
    script = with_socket(QUERY_STATS, SEED_PATH_LINE_PY, server.socket, tmp_path / "query_stats.py")
    res = run_query_stats(script, 0)
    assert res.returncode == 0, res.stderr
    assert res.stdout == expected_query_stats_output(0, 100 * MiB, 450 * MiB, 64 * 1024, 1000)
    # the lines a person reads
    assert "  DRAM:      100.00 MB\n" in res.stdout
    assert "  L1:        450.00 MB\n" in res.stdout
    assert "  L1_SMALL:  64.00 KB\n" in res.stdout
    assert "  TRACE:     1000 B\n" in res.stdout
    assert "  Total:     550.06 MB\n" in res.stdout


def test_seed_query_stats_shows_zero_for_an_idle_device(server, reporter_client, tmp_path):
    populate(reporter_client, server)
    script = with_socket(QUERY_STATS, SEED_PATH_LINE_PY, server.socket, tmp_path / "query_stats.py")
    res = run_query_stats(script, 1)
    assert res.returncode == 0, res.stderr
    assert res.stdout == expected_query_stats_output(1, 0, 0, 0, 0)


def test_seed_query_stats_without_server_prints_its_error_and_exits_1(short_dir, tmp_path):
    script = with_socket(QUERY_STATS, SEED_PATH_LINE_PY, short_dir / "absent.sock",
                         tmp_path / "query_stats.py")
    res = run_query_stats(script, 0)
    assert res.returncode == 1
    assert "Error: Cannot connect to allocation server at %s" % (short_dir / "absent.sock") in res.stdout


def test_ttalloc_package_api_matches_the_seed_script(server, reporter_client, tmp_path):
    populate(reporter_client, server)
    sys.path.insert(0, str(QUERY_STATS.parent))
    try:
        import query_stats
        query_stats.SOCKET_PATH = server.socket
        assert ttalloc.query_device_stats(0, socket_path=server.socket) == \
            query_stats.query_device_stats(0)
        for v in [0, 1, 1023, 1024, 1536, MiB - 1, MiB, 3 * MiB // 2, 1024**3 - 1, 1024**3,
                  int(3.25 * 1024**3), 5 * 1024**4]:
            assert ttalloc.format_bytes(v) == query_stats.format_bytes(v)
    finally:
        sys.path.remove(str(QUERY_STATS.parent))
        sys.modules.pop("query_stats", None)


def test_seed_dashboard_device_loop_stops_at_the_last_device(server, tmp_path):
    # web_dashboard.py's list_devices(), verbatim in its loop, over the seed's
    # query_stats.py: a missing device must make query_device_stats raise
    sys.path.insert(0, str(QUERY_STATS.parent))
    try:
        import query_stats
        query_stats.SOCKET_PATH = server.socket
        query_device_stats = query_stats.query_device_stats
        devices = []
        for i in range(8):  # Max 8 devices
            try:
                stats = query_device_stats(i)
                devices.append(stats)
            except:  # noqa: E722 (the seed's own bare except)
                break
        assert [d["device_id"] for d in devices] == [0, 1]
        # and ttalloc's own client gets a typed error
        with pytest.raises(ValueError, match="device 2 does not exist: the server has 2 device"):
            ttalloc.query_device_stats(2, socket_path=server.socket)
    finally:
        sys.path.remove(str(QUERY_STATS.parent))
        sys.modules.pop("query_stats", None)


def test_seed_query_stats_unmodified_on_the_default_socket(default_socket_lock, server_factory,
                                                          reporter_client):
    if os.path.lexists(DEFAULT_SOCKET):
        pytest.skip("%s exists (a server may be running there); not touching it" % DEFAULT_SOCKET)
    server = server_factory(socket_path=DEFAULT_SOCKET)
    populate(reporter_client, server)
    res = run_query_stats(QUERY_STATS, 0)
    assert res.returncode == 0, res.stderr
    assert res.stdout == expected_query_stats_output(0, 100 * MiB, 450 * MiB, 64 * 1024, 1000)
    server.stop()
    assert not os.path.lexists(DEFAULT_SOCKET)


def test_seed_cpp_monitor_shows_the_servers_totals(server, reporter_client, tmp_path):
    gxx = shutil.which("g++")
    if not gxx:
        pytest.skip("g++ is not installed")
    populate(reporter_client, server)
    src = with_socket(MONITOR, SEED_PATH_LINE_CPP, server.socket, tmp_path / "monitor_allocations.cpp")
    exe = tmp_path / "monitor_allocations"
    build = subprocess.run([gxx, "-std=c++17", str(src), "-o", str(exe)], capture_output=True,
                           text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    out_path = tmp_path / "monitor.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([str(exe), "0"], stdout=out, stderr=subprocess.STDOUT)
        try:
            # about 1.5 s: the first line comes at once, the next ~500 ms later
            start = time.monotonic()
            wait_until(lambda: out_path.read_bytes().count(b"\r") >= 3 or proc.poll() is not None,
                       timeout=5, what="three refreshes of monitor_allocations")
            assert time.monotonic() - start < 5
        finally:
            proc.kill()
            proc.wait(5)
    text = out_path.read_bytes().decode()
    assert text.startswith("Monitoring device 0 (press Ctrl+C to stop)\n\n")
    expected = ("DRAM:     100 MB | L1:     450 MB | L1_SMALL:      64 KB | TRACE:     1000 B")
    refreshes = [r for r in text.split("\r")[1:] if r]
    assert refreshes and all(r == expected for r in refreshes), text
