"""Processes that hold a device without reporting (the kernel's view), end to
end: the real server on a copy of the n150 fixture whose tt-kmd pids file
lists real test processes, asked by tt_smi (table and --json), the JSON API
and /metrics; and tt_smi's hardware view when the server is down.

The pids file is rewritten while the server runs (it reads the kernel's view
at most once a second), so every check waits with a bound.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import MiB, REPO, SMI_BIN, wait_until
from http_support import dashboard_url

FIXTURES = REPO / "tests" / "fixtures"
SLEEPER = "import os, time; print('pid=%d' % os.getpid(), flush=True); time.sleep(120)"


def smi(*args, env=None, timeout=10):
    e = dict(os.environ)
    e.pop("TTALLOC_HW_ROOT", None)
    e.update(env or {})
    return subprocess.run([str(SMI_BIN), "--no-color", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=e)


def hw_tree(tmp_path):
    """The n150 card with no holders yet: the fixture's fake pids removed."""
    root = tmp_path / "hw"
    shutil.copytree(FIXTURES / "n150", root, symlinks=True)
    for entry in (root / "proc").iterdir():
        if entry.name.isdigit():
            shutil.rmtree(entry)
    set_holders(root, [])
    return root


def set_holders(root, pids):
    """tt-kmd's pids file: one line per open fd (two for the first pid)."""
    lines = [pids[0]] + list(pids) if pids else []
    path = root / "proc/driver/tenstorrent/0/pids"
    tmp = path.with_suffix(".new")
    tmp.write_text("".join("%d\n" % p for p in lines))
    tmp.rename(path)


def expose_identity(root, pid):
    """/proc/PID/comm and status under the hardware root, copied from the real /proc."""
    d = root / "proc" / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    for name in ("comm", "status"):
        (d / name).write_text(Path("/proc/%d/%s" % (pid, name)).read_text())


def row_of(text, pid):
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if len(cells) > 2 and cells[1] == str(pid):
            return line
    return None


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def metrics(url):
    with urllib.request.urlopen(url + "metrics", timeout=5) as r:
        return r.read().decode()


@pytest.fixture
def scene(tmp_path, server_factory, processes, reporter_client):
    """A server on the tree; a sleeper that never reports, a reporter the driver
    lists (tracked) and one it does not (vanished)."""
    root = hw_tree(tmp_path)
    server = server_factory("hw", args=("--hw-root", str(root), "--history-interval", "200"))
    sleeper = processes([sys.executable, "-c", SLEEPER])
    sleeper.expect(r"^pid=\d+")
    expose_identity(root, sleeper.pid)
    tracked = reporter_client(server)
    assert tracked.command("alloc 0 0 0x800000000 %d" % (3 * MiB)).group(1) == "1"
    assert tracked.command("flush").group(1) == "1"
    gone = reporter_client(server)
    assert gone.command("alloc 0 0 0x900000000 %d" % (1 * MiB)).group(1) == "1"
    assert gone.command("flush").group(1) == "1"
    set_holders(root, [tracked.pid, sleeper.pid])
    return server, root, sleeper, tracked, gone


def test_tt_smi_lists_untracked_and_flags_vanished_processes(scene):
    server, _, sleeper, tracked, gone = scene

    def table():
        r = smi("--socket", server.socket)
        assert r.returncode == 0, r.stderr
        if "(vanished)" in r.stdout and "(untracked)" in r.stdout:
            return r.stdout
        return None
    out = wait_until(table, timeout=10, what="tt_smi to show the kernel's view")
    row = row_of(out, sleeper.pid)
    assert row and "python" in row and "(untracked)" in row, out
    assert row.split()[-3:] == ["N/A", "N/A", "│"], row  # memory unknown
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    assert user[:9] in row
    assert "(vanished)" in row_of(out, gone.pid) and "1MB" in row_of(out, gone.pid)
    trow = row_of(out, tracked.pid)
    assert "3MB" in trow and "(" not in trow.split("│")[1].split("python")[1]  # no marker
    assert "(untracked): holds the device but never reported to ttalloc; memory N/A" in out
    assert "(vanished): reported buffers, but the driver no longer lists it" in out

    r = smi("--socket", server.socket, "--json")
    doc = json.loads(r.stdout)
    mine = {p["pid"]: p for p in doc["processes"]}
    assert mine[sleeper.pid]["tracked"] is False and mine[sleeper.pid]["source"] == "kernel"
    assert mine[sleeper.pid]["dram_allocated"] is None and mine[sleeper.pid]["buffer_count"] is None
    assert mine[sleeper.pid]["name"].startswith("python")
    assert mine[gone.pid]["vanished"] is True and mine[gone.pid]["dram_allocated"] == 1 * MiB
    assert mine[tracked.pid]["tracked"] is True and mine[tracked.pid]["vanished"] is False


def test_json_api_and_metrics_show_the_kernels_view(scene):
    server, _, sleeper, tracked, gone = scene
    url = dashboard_url(server)

    def processes():
        doc = get_json(url + "api/processes")
        by_pid = {p["pid"]: p for p in doc}
        if sleeper.pid in by_pid and by_pid.get(gone.pid, {}).get("vanished"):
            return by_pid
        return None
    by_pid = wait_until(processes, timeout=10, what="/api/processes to show the kernel's view")
    s = by_pid[sleeper.pid]
    assert s["tracked"] is False and s["source"] == "kernel" and s["vanished"] is False
    assert s["name"] == Path("/proc/%d/comm" % sleeper.pid).read_text().strip()
    assert s["uid"] == os.getuid()
    assert s["dram_allocated"] is None and s["buffer_count"] is None and s["used_bytes"] is None
    assert [(d["device_id"], d["used_bytes"], d["seen_by"]) for d in s["devices"]] == [(0, None, ["driver"])]
    g = by_pid[gone.pid]
    assert g["tracked"] is True and g["vanished"] is True and g["source"] == "socket"
    assert g["devices"][0]["vanished"] is True and g["dram_allocated"] == 1 * MiB
    t = by_pid[tracked.pid]
    assert t["tracked"] is True and t["vanished"] is False and t["dram_allocated"] == 3 * MiB

    text = metrics(url)
    assert 'ttalloc_untracked_processes{device="0"} 1\n' in text
    assert 'ttalloc_vanished_processes{device="0"} 1\n' in text
    info = [l for l in text.splitlines() if l.startswith("ttalloc_process_info{")]
    assert any('pid="%d"' % sleeper.pid in l and 'tracked="false"' in l and 'state="untracked"' in l
               for l in info), info
    assert any('pid="%d"' % gone.pid in l and 'state="vanished"' in l and 'tracked="true"' in l for l in info)
    assert any('pid="%d"' % tracked.pid in l and 'state="tracked"' in l for l in info)
    # an untracked process has no memory sample: its memory is unknown, not 0
    assert not [l for l in text.splitlines()
                if l.startswith("ttalloc_process_memory_used_bytes") and 'pid="%d"' % sleeper.pid in l]


def test_a_holder_that_starts_reporting_is_no_longer_untracked(scene, reporter_client):
    server, root, sleeper, tracked, gone = scene
    late = reporter_client(server)
    set_holders(root, [tracked.pid, sleeper.pid, late.pid])
    url = dashboard_url(server)
    wait_until(lambda: any(p["pid"] == late.pid and not p["tracked"] for p in get_json(url + "api/processes")),
               timeout=10, what="the late process to be seen holding the device")
    # the reporter connects on its first report: from then on it is tracked
    assert late.command("alloc 0 0 0xa00000000 %d" % MiB).group(1) == "1"
    assert late.command("flush").group(1) == "1"
    doc = {p["pid"]: p for p in get_json(url + "api/processes")}
    assert doc[late.pid]["tracked"] is True and doc[late.pid]["dram_allocated"] == MiB


def test_simulated_devices_have_no_kernel_view(server):
    r = smi("--socket", server.socket)
    assert r.returncode == 0 and "(untracked)" not in r.stdout
    text = metrics(dashboard_url(server))
    assert "# TYPE ttalloc_untracked_processes gauge" in text
    assert "ttalloc_untracked_processes{" not in text  # unknown for simulated devices: no sample


# ---- tt_smi without the server ----

def test_hardware_view_without_the_server(tmp_path):
    sock = tmp_path / "absent.sock"
    r = smi("--socket", sock, "--hw-root", FIXTURES / "n300")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "│ 0      Wormhole_B0      53°C    61W       DRAM:    N/A / 12.0GB            N/A │" in out
    # the card's serial and the chip's PCI address under its name (the remote chip has no address)
    assert "│        010001851172E02A 0000:02:00.0      L1:      N/A / 96MB                  │" in out
    assert "│ 1      Wormhole_B0      N/A     N/A       DRAM:    N/A / 12.0GB            N/A │" in out
    assert "│        010001851172E02A                   L1:      N/A / 96MB                  │" in out
    assert row_of(out, 5000) and row_of(out, 5001)
    assert row_of(out, 5000).split()[-3:] == ["N/A", "N/A", "│"]
    assert "Server Status: ❌ Not running — hardware view only (no allocation data) | Updates: One-shot" in out
    assert "cannot reach the allocation server at %s" % sock in r.stderr
    assert "showing the hardware only (no allocation data)" in r.stderr
    # the same root from the environment
    r = smi("--socket", sock, env={"TTALLOC_HW_ROOT": str(FIXTURES / "p150")})
    assert r.returncode == 0, r.stderr
    assert "Blackhole" in r.stdout and "DRAM:    N/A / 32.0GB" in r.stdout


def test_without_hardware_or_server_it_is_still_an_error(tmp_path):
    sock = tmp_path / "absent.sock"
    for args in (("--hw-root", tmp_path), ("--hw-root", FIXTURES / "n150", "--devices", "sim")):
        r = smi("--socket", sock, *args)
        assert r.returncode == 1
        assert r.stdout == ""
        assert "cannot reach the allocation server at %s" % sock in r.stderr
        assert "start ttalloc-server" in r.stderr
    r = smi("--socket", sock, "--hw-root", tmp_path / "missing")
    assert r.returncode == 2 and "is not a directory" in r.stderr
    r = smi("--socket", sock, "--hw-root", tmp_path, "--devices", "tenstorrent")
    assert r.returncode == 1 and "found no devices" in r.stderr
    # the scripting modes need the server
    r = smi("--socket", sock, "--hw-root", FIXTURES / "n150", "--json")
    assert r.returncode == 1 and r.stdout == ""


def test_watch_mode_goes_from_hardware_view_to_the_server(tmp_path, server_factory):
    root = FIXTURES / "n150"
    sock = tmp_path / "later.sock"
    e = dict(os.environ)
    e.pop("TTALLOC_HW_ROOT", None)
    p = subprocess.Popen([str(SMI_BIN), "--no-color", "-w", "-r", "100", "--socket", str(sock),
                          "--hw-root", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    try:
        out = b""
        deadline = time.monotonic() + 10
        while b"hardware view only" not in out and time.monotonic() < deadline:
            out += os.read(p.stdout.fileno(), 65536)
        assert b"Not running" in out and b"Wormhole_B0" in out
        server_factory("later", args=("--hw-root", str(root)), socket_path=sock)
        out = b""
        deadline = time.monotonic() + 10
        while b"Connected" not in out and time.monotonic() < deadline:
            out += os.read(p.stdout.fileno(), 65536)
        assert b"Server Status: \xe2\x9c\x85 Connected" in out
        assert b"(untracked)" in out  # the fixture's holders never report
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0
        p.stdout.close()
        p.stderr.close()
