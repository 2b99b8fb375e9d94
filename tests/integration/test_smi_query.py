"""tt_smi's scriptable modes against the real server: --query-gpu,
--query-compute-apps, --format, --json, -l/-lms loops and the seed's
--csv-log, with buffers reported by a tiny raw-protocol client (this test
process itself, so the pid tt_smi shows is ours)."""

import csv
import datetime
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import time

import pytest

from conftest import MiB, SMI_BIN, sync, wait_until
from wire_support import FRAME

ALLOC = 1
DRAM, L1 = 0, 1

# (device, type, address, size) this process holds while the tests look
HELD = [(0, DRAM, 0x800000000, 3 * MiB),
        (0, L1, 0x10000, 1 * MiB),
        (1, DRAM, 0x800000000, 5 * MiB)]


class RawClient:
    """Reports buffers the seed's way over one connection, kept open."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5.0)
        self.sock.connect(str(path))

    def send(self, kind, device=0, size=0, buffer_type=0, address=0):
        self.sock.sendall(FRAME.pack(kind, 0, 0, 0, device, size, buffer_type, 0, 0, 0, os.getpid(),
                                     address, time.time_ns(), *([0] * 12)))

    def sync(self):
        """Returns once the server has applied every frame sent before."""
        before = sync(self.sock)
        assert before == [], "expected SYNC_ACK, got types %s" % [f[0] for f in before]

    def close(self):
        self.sock.close()


@pytest.fixture
def holder(server):
    client = RawClient(server.socket)
    for device, btype, address, size in HELD:
        client.send(ALLOC, device, size, btype, address)
    client.sync()
    yield client
    client.close()


def tt_smi(server_socket, *args, timeout=10):
    return subprocess.run([str(SMI_BIN), "--socket", str(server_socket)] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def csv_rows(text):
    return [row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row]


def voluntary_switches(pid):
    """How often process `pid` has given up the CPU to wait (sleep, poll),
    from /proc/PID/status; 0 once it has exited."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)$", f.read(), re.M).group(1))
    except OSError:
        return 0


def my_comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


class Looper:
    """A looping tt_smi; stdout read line by line with bounded waits."""

    def __init__(self, argv, stderr_path):
        self.err = open(stderr_path, "wb")
        self.stderr_path = stderr_path
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        self.buf = b""
        self.lines = []

    def read_lines(self, count, timeout):
        """Waits until `count` lines have arrived in all; returns them."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("tt_smi printed %d lines of %d in %.1f s: %r\nstderr: %s"
                            % (len(self.lines), count, timeout, self.lines, self.stderr()))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                pytest.fail("tt_smi exited (rc %s) after %r\nstderr: %s"
                            % (self.proc.wait(5), self.lines, self.stderr()))
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [line.decode() for line in done]
        return self.lines[:count]

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        """Signals tt_smi and returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(5)
        finally:
            self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.err.close()


@pytest.fixture
def loopers(tmp_path):
    started = []

    def start(*argv):
        looper = Looper([SMI_BIN] + list(argv), tmp_path / ("tt_smi-%d.stderr" % len(started)))
        started.append(looper)
        return looper

    yield start
    for looper in started:
        looper.close()


# ---- one-shot queries ----

def test_query_gpu_noheader_nounits_shows_used_dram_in_mib(server, holder):
    res = tt_smi(server.socket, "--query-gpu=index,memory.dram.used", "--format=csv,noheader,nounits")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["0, 3", "1, 5"]


def test_query_gpu_default_format_has_header_and_units(server, holder):
    res = tt_smi(server.socket, "--query-gpu=index,name,memory.dram.used,memory.l1.used,memory.dram.total,buffers")
    assert res.returncode == 0, res.stderr
    rows = csv_rows(res.stdout)
    assert rows[0] == ["index", "name", "memory.dram.used [MiB]", "memory.l1.used [MiB]",
                       "memory.dram.total [MiB]", "buffers"]
    assert rows[1][0] == "0" and rows[1][2:4] == ["3 MiB", "1 MiB"] and rows[1][5] == "2"
    assert rows[2][0] == "1" and rows[2][2:4] == ["5 MiB", "0 MiB"] and rows[2][5] == "1"
    assert rows[1][4].endswith(" MiB") and int(rows[1][4].split()[0]) > 5
    assert rows[1][1]  # a device name


def test_query_compute_apps_lists_this_process_per_device(server, holder):
    res = tt_smi(server.socket, "--query-compute-apps=pid,process_name,gpu,dram,l1,buffers",
                 "--format=csv,noheader,nounits")
    assert res.returncode == 0, res.stderr
    pid = str(os.getpid())
    mine = [row for row in csv_rows(res.stdout) if row[0] == pid]
    assert mine == [[pid, my_comm(), "0", "3", "1", "2"],
                    [pid, my_comm(), "1", "5", "0", "1"]]


def test_json_snapshot_has_seed_keys_and_processes(server, holder):
    res = tt_smi(server.socket, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    dev0 = doc["devices"][0]
    assert dev0["device_id"] == 0
    assert dev0["dram_allocated"] == 3 * MiB
    assert dev0["l1_allocated"] == 1 * MiB
    assert dev0["l1_small_allocated"] == 0 and dev0["trace_allocated"] == 0
    assert dev0["dram_capacity"] > 0 and dev0["l1_capacity"] > 0
    for key in ("name", "arch", "temperature_c", "power_w", "utilization_pct", "buffer_count", "process_count"):
        assert key in dev0
    assert dev0["temperature_c"] is None or isinstance(dev0["temperature_c"], (int, float))
    assert doc["devices"][1]["dram_allocated"] == 5 * MiB
    (mine,) = [p for p in doc["processes"] if p["pid"] == os.getpid()]  # one object per process
    assert [(d["device_id"], d["dram_allocated"], d["l1_allocated"], d["buffer_count"]) for d in mine["devices"]] \
        == [(0, 3 * MiB, 1 * MiB, 2), (1, 5 * MiB, 0, 1)]
    assert (mine["dram_allocated"], mine["buffer_count"]) == (8 * MiB, 3)
    assert mine["name"] == my_comm()
    assert abs(doc["time"] / 1000 - time.time()) < 60  # ms since the epoch


def test_unknown_field_exits_2_with_a_suggestion_or_the_valid_ones(server):
    res = tt_smi(server.socket, "--query-gpu=index,memory.usd")
    assert res.returncode == 2
    assert res.stdout == ""
    assert "unknown field 'memory.usd' for --query-gpu; did you mean 'memory.used'?" in res.stderr
    res = tt_smi(server.socket, "--query-gpu=index,flux")
    assert res.returncode == 2
    assert "valid fields: timestamp, index, name" in res.stderr
    assert "memory.dram.used" in res.stderr


def test_query_without_a_server_fails_with_exit_1(short_dir):
    res = tt_smi(short_dir / "none.sock", "--query-gpu=index")
    assert res.returncode == 1
    assert "start ttalloc-server" in res.stderr


# ---- loops ----

def test_loop_ms_repeats_the_query_until_sigterm(server, holder, loopers):
    started = time.monotonic()
    smi = loopers("--socket", server.socket, "--query-gpu=index,memory.dram.used",
                  "--format=csv,nounits", "-lms", "200")
    lines = smi.read_lines(5, timeout=5)  # header once, then two rows per pass
    elapsed = time.monotonic() - started
    assert lines == ["index, memory.dram.used [MiB]", "0, 3", "1, 5", "0, 3", "1, 5"]
    assert elapsed < 2.5, "two passes 200 ms apart took %.2f s" % elapsed
    assert smi.stop() == 0
    assert smi.stderr() == ""


def test_json_loop_prints_one_document_per_line(server, holder, loopers):
    smi = loopers("--socket", server.socket, "--json", "-lms", "200")
    for line in smi.read_lines(2, timeout=5):
        assert json.loads(line)["devices"][0]["dram_allocated"] == 3 * MiB
    assert smi.stop(signal.SIGINT) == 0


def test_loop_reports_a_missing_server_and_keeps_trying(server_factory, short_dir, loopers):
    path = short_dir / "later.sock"
    smi = loopers("--socket", path, "--query-gpu=index", "--format=csv,noheader", "-lms", "100")
    wait_until(lambda: "start ttalloc-server" in smi.stderr(), timeout=5, what="tt_smi's error line")
    # tt_smi sleeps once per period (poll() for 100 ms) and then tries again:
    # three more of its sleeps are three more tries, each without a server
    slept = voluntary_switches(smi.proc.pid)
    wait_until(lambda: smi.proc.poll() is not None or voluntary_switches(smi.proc.pid) >= slept + 3,
               timeout=5, what="tt_smi to try three more times")
    assert smi.proc.poll() is None, "tt_smi gave up: %s" % smi.stderr()
    assert smi.stderr().count("\n") == 1, "one line per outage, not one per try: %s" % smi.stderr()
    server_factory(socket_path=path)
    assert smi.read_lines(2, timeout=5) == ["0", "1"]
    assert smi.stop() == 0
    assert "connected to %s again" % path in smi.stderr()


# ---- the seed's CSV log ----

def read_log(path):
    try:
        with open(path, newline="") as f:
            return list(csv.reader(f))
    except FileNotFoundError:
        return []


def test_csv_log_appends_the_seed_columns_every_interval(server, holder, loopers, tmp_path):
    log = tmp_path / "memory_log.csv"
    smi = loopers("--socket", server.socket, "--csv-log", log, "--interval", "0.2")
    rows = wait_until(lambda: (lambda r: r if len(r) >= 5 else None)(read_log(log)), timeout=5,
                      what="two passes in the CSV log")
    assert smi.stop() == 0
    assert rows[0] == ["timestamp", "device", "dram", "l1"]
    for row in rows[1:]:
        datetime.datetime.fromisoformat(row[0])
    by_device = {}
    for _, device, dram, l1 in rows[1:]:
        by_device.setdefault(device, set()).add((int(dram), int(l1)))
    assert by_device == {"0": {(3 * MiB, 1 * MiB)}, "1": {(5 * MiB, 0)}}

    # a second run appends to the same file without a second header
    before = len(read_log(log))
    smi = loopers("--socket", server.socket, "--csv-log", log, "--interval", "0.2")
    wait_until(lambda: len(read_log(log)) >= before + 2, timeout=5, what="rows appended by a second run")
    assert smi.stop() == 0
    rows = read_log(log)
    assert [r[0] for r in rows].count("timestamp") == 1
    assert all(len(r) == 4 for r in rows)


# ---- nvidia-smi habits: -L, -q [-d], -i, --help-query-*, echoed names, used_memory ----

def test_list_gpus_names_each_device_and_id_takes_its_identity(server):
    res = tt_smi(server.socket, "-L")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    uuids = [re.fullmatch(r"GPU %d: Wormhole_B0 \(UUID: (TT-SIM-[0-9a-f-]+)\)" % i, line).group(1)
             for i, line in enumerate(lines)]
    assert len(uuids) == 2 and uuids[0] != uuids[1]
    # the same device by UUID, serial or bus id, as nvidia-smi -i takes them
    serial, bus = csv_rows(tt_smi(server.socket, "-i", "1", "--query-gpu=serial,pci.bus_id",
                                  "--format=csv,noheader").stdout)[0]
    for key in (uuids[1], uuids[1].lower(), serial, bus):
        assert tt_smi(server.socket, "-i", key, "-L").stdout == lines[1] + "\n", key
    apps_fields = "gpu_uuid,gpu_bus_id,gpu_serial"
    assert tt_smi(server.socket, "--query-compute-apps=" + apps_fields).stdout.splitlines()[0] == \
        "gpu_uuid, gpu_bus_id, gpu_serial"


def report_value(text, name, after=None):
    """The value of the first 'name : value' line (after the line starting with `after`)."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip().startswith(after)) if after else 0
    for line in lines[start:]:
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    raise AssertionError("no %r line in\n%s" % (name, text))


def test_query_report_shows_memory_by_type_and_this_process(server, holder):
    res = tt_smi(server.socket, "-q", "-i", "0")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "==============TT-SMI LOG==============" in out
    assert report_value(out, "Attached GPUs") == "1"
    assert "\nGPU 0\n" in out and "\nGPU 1\n" not in out
    assert report_value(out, "Used", after="DRAM Memory Usage") == "3 MiB"
    assert report_value(out, "Total", after="DRAM Memory Usage") == "12288 MiB"
    assert report_value(out, "L1 Buffers") == "1 MiB"
    assert report_value(out, "Live Buffers") == "2"
    assert report_value(out, "Process ID") == str(os.getpid())
    # used memory is every device region: 3 MiB DRAM + 1 MiB L1
    assert report_value(out, "Used Memory") == "4 MiB"
    # the colons line up as nvidia-smi's do
    assert len({l.index(":") for l in out.splitlines() if " : " in l}) == 1


def test_query_report_sections_follow_display(server, holder):
    res = tt_smi(server.socket, "-q", "-d", "temperature,POWER")
    assert res.returncode == 0, res.stderr
    assert "Current Temp" in res.stdout and "Power Draw" in res.stdout
    assert "DRAM Memory Usage" not in res.stdout and "Process ID" not in res.stdout
    bad = tt_smi(server.socket, "-q", "-d", "MEMROY")
    assert bad.returncode == 2 and "unknown -d/--display section 'MEMROY'" in bad.stderr
    assert tt_smi(server.socket, "-d", "MEMORY").returncode == 2  # -d goes with -q


def test_id_selects_devices_in_every_view(server, holder):
    rows = csv_rows(tt_smi(server.socket, "-i", "1", "--query-gpu=index,memory.used",
                           "--format=csv,noheader,nounits").stdout)
    assert rows == [["1", "5"]]
    apps = csv_rows(tt_smi(server.socket, "--id=1", "--query-compute-apps=pid,gpu",
                           "--format=csv,noheader").stdout)
    assert apps == [[str(os.getpid()), "1"]]
    table = tt_smi(server.socket, "-i", "1").stdout
    assert "Wormhole_B0" in table and re.search(r"│ 0 +Wormhole", table) is None
    doc = json.loads(tt_smi(server.socket, "-i", "0,1", "--json").stdout)
    assert [d["device_id"] for d in doc["devices"]] == [0, 1]
    missing = tt_smi(server.socket, "-i", "0,7", "-L")
    assert missing.returncode == 2 and missing.stdout == ""
    assert "no device matches -i '7' (devices: 0, 1)" in missing.stderr
    assert tt_smi(server.socket, "-i", "0,,1").returncode == 2


def test_headers_echo_the_names_asked(server, holder):
    res = tt_smi(server.socket, "--query-gpu=index,memory.used,memory.dram.used,power.draw,utilization.gpu")
    assert res.stdout.splitlines()[0] == \
        "index, memory.used [MiB], memory.dram.used [MiB], power.draw [W], utilization.gpu [%]"
    res = tt_smi(server.socket, "--query-compute-apps=pid,used_memory,used_gpu_memory,dram",
                 "--format=csv,nounits")
    rows = csv_rows(res.stdout)
    assert rows[0] == ["pid", "used_memory [MiB]", "used_gpu_memory [MiB]", "dram [MiB]"]
    # device 0: 3 MiB DRAM + 1 MiB L1 is 4 MiB used; dram alone is 3
    assert rows[1] == [str(os.getpid()), "4", "4", "3"]


def test_help_query_lists_fields_and_exits(server):
    for option, field in (("--help-query-gpu", "memory.dram.used"), ("--help-query-compute-apps", "used_memory")):
        res = tt_smi(server.socket, option)
        assert res.returncode == 0 and field in res.stdout and "Usage" not in res.stdout


def test_list_and_report_show_the_hardware_without_a_server(tmp_path):
    from conftest import REPO
    root = REPO / "tests" / "fixtures" / "n300"
    res = tt_smi(tmp_path / "absent.sock", "-L", "--hw-root", str(root))
    assert res.returncode == 0, res.stderr
    # an n300 is one board (one serial) with two chips
    assert res.stdout.splitlines() == ["GPU 0: Wormhole_B0 (Serial: 010001851172E02A)",
                                       "GPU 1: Wormhole_B0 (Serial: 010001851172E02A)"]
    res = tt_smi(tmp_path / "absent.sock", "-q", "-d", "MEMORY", "--hw-root", str(root))
    assert res.returncode == 0, res.stderr
    assert report_value(res.stdout, "Allocation Data").startswith("N/A")
    assert report_value(res.stdout, "Used", after="DRAM Memory Usage") == "N/A"
    assert report_value(res.stdout, "Total", after="DRAM Memory Usage") == "12288 MiB"
    assert report_value(res.stdout, "Driver Version") == "1.31"  # tt-kmd's /sys/module/tenstorrent/version
    assert report_value(res.stdout, "Bus Id") == "0000:02:00.0"
    res = tt_smi(tmp_path / "absent.sock", "-i", "02:00.0", "--hw-root", str(root), "-q", "-d", "POWER")
    assert report_value(res.stdout, "Attached GPUs") == "1"
