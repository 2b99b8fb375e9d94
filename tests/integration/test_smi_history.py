"""tt_smi --history against the real server: the server samples every 100 ms,
a client raises and lowers its DRAM, and the sparkline, the peak and the
HISTORY_QUERY rows behind them show it."""

import os
import socket
import subprocess
import time

import pytest

from conftest import MiB, SMI_BIN, recv_exact, wait_until
from ttalloc import protocol

BLOCKS = "▁▂▃▄▅▆▇█"


def smi(*args, timeout=10):
    return subprocess.run([str(SMI_BIN), "--no-color", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def history_rows(path, device=-1, seconds=0, points=0):
    """HISTORY_QUERY's rows, as dicts with the header's device_id."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(protocol.pack(protocol.HISTORY_QUERY, device,
                                payload=protocol.pack_history(seconds=seconds, points=points)))
        rows = []
        while True:
            head = protocol.unpack_header(recv_exact(s))
            if head["type"] == protocol.ROWS_END:
                assert head["size"] == len(rows)
                return rows
            assert head["type"] == protocol.HISTORY_ROW, head
            row = protocol.unpack_history(head["payload"])
            row["device_id"] = head["device_id"]
            rows.append(row)


def spark_of(out, device, kind):
    """The sparkline cell of one row of the history box."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        cells = line.strip("│").split()
        if kind == "DRAM" and cells[:2] == [str(device), "DRAM"]:
            return line.rstrip("│ ")[31 + 1:], cells
        if kind == "L1" and cells[:1] == ["L1"] and lines[i - 1].strip("│").split()[:1] == [str(device)]:
            return line.rstrip("│ ")[31 + 1:], cells
    raise AssertionError("no %s row for device %d in:\n%s" % (kind, device, out))


def newest_dram(path, count):
    """Device 0's DRAM in the server's newest `count` samples (at most 10, at
    --history-interval 100: one sample per row); None where there is none yet."""
    rows = history_rows(path, device=0, seconds=1, points=10)
    return [r["used"][0] if r["flags"] & protocol.HISTORY_VALID else None for r in rows[-count:]]


@pytest.fixture
def busy(server_factory, reporter_client):
    """Device 0's DRAM goes 64 MiB, 256 MiB, 64, 0, then 16 MiB, each for 3
    samples or more (100 ms samples). Returns (server, client, time.time()
    before the server started)."""
    started = time.time()
    server = server_factory("hist", args=("--history-interval", "100"))
    client = reporter_client(server)
    steps = [("alloc 0 0 0x1000 %d" % (64 * MiB), 64), ("alloc 0 0 0x2000 %d" % (192 * MiB), 256),
             ("free 0 0x2000", 64), ("free 0 0x1000", 0), ("alloc 0 0 0x3000 %d" % (16 * MiB), 16)]
    for line, total in steps:
        assert client.command(line).group(1) == "1"
        assert client.command("flush").group(1) == "1"
        wait_until(lambda: newest_dram(server.socket, 3) == [total * MiB] * 3, timeout=5,
                   what="3 history samples of %d MiB" % total)
    # the newest half second holds only the last state
    wait_until(lambda: newest_dram(server.socket, 5) == [16 * MiB] * 5, timeout=5,
               what="5 history samples of 16 MiB")
    return server, client, started


def test_history_view_draws_the_rise_and_fall(busy):
    server, _, _ = busy
    r = smi("--socket", server.socket, "--history", "10")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "tt-smi v1.0 - memory history" in out
    assert "History: last 10s, 0.3s per column, █ = peak" in out  # 100 samples in 48 columns of 3
    line, cells = spark_of(out, 0, "DRAM")
    assert cells[2:4] == ["16MB", "256MB"]  # now, and the peak of the span
    spark = line.strip()
    assert spark and set(spark) <= set(BLOCKS), repr(spark)
    assert "█" in spark  # the 256 MiB peak
    assert spark[-1] == BLOCKS[1]  # now: 16 MiB of 256, the lowest non-zero level
    assert spark.index("█") < len(spark) - 1
    # the server started a moment ago: the older columns are blank, not zero
    assert line.startswith(" ") and len(line) == 48
    l1, cells = spark_of(out, 0, "L1")
    assert cells[1:3] == ["0MB", "0MB"] and set(l1.strip()) == {"▁"}
    line, cells = spark_of(out, 1, "DRAM")
    assert cells[2:4] == ["0MB", "0MB"]
    assert "Server Status: ✅ Connected | Updates: One-shot" in out


def test_history_rows_carry_the_peak_of_each_bucket(busy):
    server, _, started = busy
    rows = history_rows(server.socket, device=0, seconds=5, points=10)
    asked = time.time()
    assert len(rows) == 10
    assert [r["index"] for r in rows] == list(range(10))
    assert all(r["device_id"] == 0 and r["points"] == 10 and r["step_ms"] == 500 and r["interval_ms"] == 100
               for r in rows)
    valid = [r for r in rows if r["flags"] & protocol.HISTORY_VALID]
    assert valid and max(r["used"][0] for r in valid) == 256 * MiB
    assert valid[-1]["used"][0] == 16 * MiB
    times = [r["time_ms"] for r in valid]
    # the newest bucket's time is its newest sample's: taken since the server started
    assert times == sorted(times) and int(started * 1000) <= times[-1] <= asked * 1000
    # every device, all the ring keeps (3600 samples), at most 600 buckets each
    rows = history_rows(server.socket, points=100000)
    assert {r["device_id"] for r in rows} == {0, 1}
    assert len(rows) == 2 * 600 and rows[0]["step_ms"] == 600


def test_history_watch_redraws(busy):
    server, _, _ = busy
    p = subprocess.Popen([str(SMI_BIN), "--no-color", "--history", "5", "-r", "100", "--socket", server.socket],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.monotonic() + 10
        while out.count("memory history".encode()) < 2 and time.monotonic() < deadline:
            out += os.read(p.stdout.fileno(), 65536)
        assert out.count(b"memory history") >= 2
        assert b"Updates: Real-time" in out
    finally:
        p.terminate()
        assert p.wait(timeout=5) == 0
        p.stdout.close()
        p.stderr.close()


def test_history_needs_the_server(tmp_path):
    r = smi("--socket", tmp_path / "absent.sock", "--history")
    assert r.returncode == 1
    assert "cannot reach the allocation server" in r.stderr and r.stdout == ""
    for bad in (["--history", "0"], ["--history=x"], ["--history", "--json"],
                ["--history", "--query-gpu=index"]):
        r = smi("--socket", tmp_path / "absent.sock", *bad)
        assert r.returncode == 2, (bad, r.stderr)
