"""ttalloc-run, the CI leak gate: a leaky and a clean pytest workload run
under it, its exit codes (86 on leaks, the command's own status otherwise,
--max-leak), its --json report, a shared server where other processes'
buffers must not count, --private and the automatic private server (which
must not take the dashboard's HTTP port), and a forked background child whose
leak must be attributed to the run."""

import glob
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from conftest import BIN, MiB, REPO, client_env, server_supports
import ttalloc

RUN_BIN = BIN / "ttalloc-run"
LOAD_BIN = BIN / "ttalloc-load"
EXIT_LEAKED = 86

CLEAN_TEST = """
import tt_metal as ttm

def test_allocates_and_frees():
    device = ttm.CreateDevice(0)
    buf = ttm.Buffer(device, size=4 * 1024 * 1024, buffer_type=ttm.BufferType.DRAM)
    l1 = ttm.Buffer(device, size=64 * 1024, buffer_type=ttm.BufferType.L1)
    buf.deallocate()
    l1.deallocate()
    ttm.CloseDevice(device)
"""

# Buffers reported through ttalloc and never freed: still allocated when the
# process exits. (A simulated tt_metal program's would not be: a normal exit
# closes its devices, as tt-metal's DevicePool does; see KEPT_TT_METAL_TEST.)
LEAKY_TEST = """
import ttalloc

_reporter = ttalloc.default_reporter()

def test_leaks_dram_on_device_0_and_l1_on_device_1():
    assert _reporter.report_alloc(0, ttalloc.DRAM, 0x800000000, 3 * 1024 * 1024)
    assert _reporter.report_alloc(1, ttalloc.L1, 0x10000, 1024 * 1024)
    assert _reporter.flush()
"""

# tt_metal buffers kept until the process ends normally: the exit closes the
# devices, which frees them (tt-metal's DevicePool destructor does the same).
KEPT_TT_METAL_TEST = """
import tt_metal as ttm

_kept = []  # alive until the process exits

def test_keeps_dram_on_device_0_until_exit():
    _kept.append(ttm.Buffer(ttm.CreateDevice(0), size=3 * 1024 * 1024,
                            buffer_type=ttm.BufferType.DRAM))
"""

FAILING_TEST = """
def test_fails_without_touching_the_device():
    assert 1 + 1 == 3
"""

# The parent exits at once; its forked child allocates once the parent is
# gone (it has been re-parented), writes its pid and exits without freeing
# (os._exit: no cleanup).
FORKING_COMMAND = """
import os, sys, time
parent = os.getpid()
if os.fork() == 0:
    deadline = time.monotonic() + 10
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.01)
    import tt_metal as ttm
    keep = ttm.Buffer(ttm.CreateDevice(0), size=2 * 1024 * 1024, buffer_type=ttm.BufferType.DRAM)
    with open(sys.argv[1], "w") as f:
        f.write(str(os.getpid()))
    os._exit(0)
sys.exit(0)
"""

LEAKED_BYTES = 4 * MiB  # LEAKY_TEST: 3 MiB DRAM + 1 MiB L1


@pytest.fixture
def workloads(tmp_path):
    """Paths of the tiny test files: clean, leaky, failing, kept_tt_metal, leaky+failing."""
    files = {}
    for name, text in (("clean", CLEAN_TEST), ("leaky", LEAKY_TEST), ("failing", FAILING_TEST),
                       ("kept_tt_metal", KEPT_TT_METAL_TEST)):
        p = tmp_path / ("test_%s.py" % name)
        p.write_text(text)
        files[name] = p
    both = tmp_path / "test_leaky_and_failing.py"
    both.write_text(LEAKY_TEST + FAILING_TEST)
    files["leaky_and_failing"] = both
    return files


def pytest_cmd(test_file):
    """The inner pytest: Debian's interpreter (it has pytest), no cache files."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]


def run_env(extra=None):
    """Environment for ttalloc-run: the simulated tt_metal on PYTHONPATH,
    tracking NOT set (ttalloc-run must set it), no inherited session."""
    env = client_env("/nonexistent/unused.sock", tracking=False, extra=extra)
    env.pop("TT_ALLOC_SERVER_SOCKET")
    env.pop("TTALLOC_SESSION", None)
    return env


def ttalloc_run(args, command, env=None, timeout=90):
    if not RUN_BIN.exists():
        pytest.fail("%s is missing: build first" % RUN_BIN)
    res = subprocess.run([str(RUN_BIN)] + [str(a) for a in args] + ["--"] + [str(c) for c in command],
                         env=env or run_env(), capture_output=True, text=True, timeout=timeout,
                         cwd=str(REPO))
    return res


def read_report(path):
    with open(path) as f:
        return json.load(f)


# ---- exit codes and the report ----

def test_clean_workload_exits_with_pytests_status_and_reports_no_leak(server, workloads, tmp_path):
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report], pytest_cmd(workloads["clean"]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed" in res.stdout
    assert "ttalloc-run: ✅ no device memory leaked" in res.stderr
    doc = read_report(report)
    assert doc["command_status"] == 0
    assert doc["leaked_bytes"] == 0 and doc["buffers"] == [] and doc["failed"] is False
    assert doc["max_leak_bytes"] == 0
    assert doc["session"].startswith("run-")
    # the workload really reported (to this server), then freed everything
    assert server.wait_for_log(r"ALLOC: 4194304 bytes DRAM by PID \d+")
    assert server.query(0)["dram_allocated"] == 0


def test_leaky_workload_exits_86_and_reports_each_leaked_buffer(server, workloads, tmp_path):
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report], pytest_cmd(workloads["leaky"]))
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    assert "1 passed" in res.stdout  # the tests themselves pass: the gate is the leak
    doc = read_report(report)
    assert doc["command_status"] == 0
    assert doc["leaked_bytes"] == LEAKED_BYTES and doc["failed"] is True
    bufs = doc["buffers"]
    # biggest first, one record per buffer, both from the inner pytest process
    assert [(b["device_id"], b["type"], b["size"]) for b in bufs] == [(0, "DRAM", 3 * MiB), (1, "L1", MiB)]
    assert len({b["pid"] for b in bufs}) == 1 and bufs[0]["pid"] != os.getpid()
    assert all(b["name"].startswith("python") and not b["still_running"] for b in bufs)
    assert all(int(b["address"], 16) > 0 and b["age_seconds"] >= 0 for b in bufs)
    assert all(b["stack"] is None for b in bufs)  # none captured: null, as in /api/buffers
    # the human summary: per device and type, the biggest buffers, the verdict
    err = res.stderr
    assert "ttalloc-run: ❌ 4.0MB of device memory leaked (2 records; limit 0 bytes)" in err
    assert "Device 0 DRAM" in err and "Device 1 L1" in err
    assert "[Device 0] Buffer %s: 3145728 bytes DRAM by PID %d" % (bufs[0]["address"], bufs[0]["pid"]) in err
    assert "ttalloc-run: failing: 4194304 bytes leaked, more than --max-leak 0" in err
    # the server printed the seed's leak report for the same process
    server.wait_for_log(r"Process %d exited but left 2 buffers allocated" % bufs[0]["pid"])


def test_tt_metal_buffers_kept_until_a_normal_exit_are_freed_by_the_device_close(server, workloads):
    res = ttalloc_run(["--socket", server.socket], pytest_cmd(workloads["kept_tt_metal"]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no device memory leaked" in res.stderr
    m = server.wait_for_log(r"ALLOC: 3145728 bytes DRAM by PID (\d+)")
    server.wait_for_log(r"FREE: buffer 0x800000000 by PID %s$" % m.group(1))


def test_failing_tests_without_leaks_keep_pytests_exit_status(server, workloads):
    res = ttalloc_run(["--socket", server.socket], pytest_cmd(workloads["failing"]))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 failed" in res.stdout
    assert "no device memory leaked" in res.stderr


def test_leaks_win_over_failing_tests_and_the_report_keeps_pytests_status(server, workloads, tmp_path):
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report],
                      pytest_cmd(workloads["leaky_and_failing"]))
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    doc = read_report(report)
    assert doc["command_status"] == 1 and doc["leaked_bytes"] == LEAKED_BYTES


@pytest.mark.parametrize("limit, expected", [
    ("4194304", 0),           # exactly what leaked: tolerated
    ("4M", 0),                # suffixes are 1024-based
    ("4194303", EXIT_LEAKED),  # one byte less: fails
    ("1M", EXIT_LEAKED),
])
def test_max_leak_is_the_number_of_bytes_tolerated(server, workloads, tmp_path, limit, expected):
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--max-leak", limit, "--json", report],
                      pytest_cmd(workloads["leaky"]))
    assert res.returncode == expected, res.stdout + res.stderr
    doc = read_report(report)
    assert doc["leaked_bytes"] == LEAKED_BYTES
    assert doc["failed"] is (expected == EXIT_LEAKED)
    if expected == 0:
        # tolerated leaks are still listed, with a warning, not a failure
        assert "⚠️  4.0MB of device memory leaked" in res.stderr and "failing:" not in res.stderr


def test_bad_max_leak_is_a_usage_error(workloads):
    res = ttalloc_run(["--max-leak", "12X"], pytest_cmd(workloads["clean"]))
    assert res.returncode == 2
    assert "bad byte count '12X'" in res.stderr


def test_quiet_prints_nothing_when_nothing_leaked(server, workloads):
    res = ttalloc_run(["--socket", server.socket, "--quiet"], pytest_cmd(workloads["clean"]))
    assert res.returncode == 0
    assert "ttalloc-run" not in res.stderr


def test_a_command_that_cannot_run_exits_127_and_a_killed_one_128_plus_signal(server):
    res = ttalloc_run(["--socket", server.socket], ["/nonexistent/program"])
    assert res.returncode == 127 and "cannot run /nonexistent/program" in res.stderr
    res = ttalloc_run(["--socket", server.socket], ["sh", "-c", "kill -TERM $$"])
    assert res.returncode == 128 + signal.SIGTERM


def test_c_library_workload_leaks_are_counted(server, tmp_path):
    """ttalloc-load reports through libttalloc: its leaked buffers count too."""
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report],
                      [LOAD_BIN, "--pattern", "leak", "--count", "3", "--size", "1M", "--type", "l1"])
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    doc = read_report(report)
    assert doc["leaked_bytes"] == 3 * MiB
    assert {(b["type"], b["size"]) for b in doc["buffers"]} == {("L1", MiB)}


# ---- only the command's processes count ----

def test_other_processes_on_a_shared_server_are_not_counted(server, workloads, tmp_path, reporter_client):
    # an unrelated client holds 100 MiB, and an unrelated process leaked 8 MiB
    holder = reporter_client(server)
    assert holder.command("alloc 0 0 0x7000000000 %d" % (100 * MiB)).group(1) == "1"
    assert holder.command("flush").group(1) == "1"
    leaker = subprocess.run(
        [sys.executable, "-c", "import os, tt_metal as ttm; "
         "b = ttm.Buffer(ttm.CreateDevice(1), size=8*1024*1024, buffer_type=ttm.BufferType.DRAM); "
         "os._exit(0)"],  # no exit handlers: the device is not closed, the buffer leaks
        env=server.env(), capture_output=True, text=True, timeout=30)
    assert leaker.returncode == 0, leaker.stderr
    server.wait_for_log(r"Process \d+ exited but left 1 buffers? allocated")
    assert ttalloc.leaks(socket_path=server.socket), "the unrelated leak should be on record"

    report = tmp_path / "clean.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report], pytest_cmd(workloads["clean"]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert read_report(report)["leaked_bytes"] == 0

    report = tmp_path / "leaky.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report], pytest_cmd(workloads["leaky"]))
    assert res.returncode == EXIT_LEAKED
    doc = read_report(report)
    assert doc["leaked_bytes"] == LEAKED_BYTES
    assert holder.pid not in {b["pid"] for b in doc["buffers"]}
    # the holder was left alone and still holds its buffer
    assert server.query(0)["dram_allocated"] == 100 * MiB
    assert holder.command("flush").group(1) == "1"


def test_forked_background_child_leak_is_attributed_to_the_run(server, tmp_path):
    script = tmp_path / "forking.py"
    script.write_text(FORKING_COMMAND)
    pid_file = tmp_path / "child.pid"
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", server.socket, "--json", report],
                      [sys.executable, script, pid_file])
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    child = int(pid_file.read_text())
    doc = read_report(report)
    assert doc["command_status"] == 0
    assert [(b["pid"], b["device_id"], b["type"], b["size"]) for b in doc["buffers"]] == \
        [(child, 0, "DRAM", 2 * MiB)]


# ---- private servers ----

def private_dirs():
    return set(glob.glob("/tmp/ttalloc-run.*"))


def test_private_runs_its_own_server_and_leaves_the_shared_one_alone(server, workloads, tmp_path):
    before = private_dirs()
    report = tmp_path / "report.json"
    res = ttalloc_run(["--private", "--socket", server.socket, "--json", report],
                      pytest_cmd(workloads["leaky"]))
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    assert read_report(report)["leaked_bytes"] == LEAKED_BYTES
    # the shared server never heard of the workload
    assert server.query(0)["dram_allocated"] == 0
    assert ttalloc.leaks(socket_path=server.socket) == []
    assert "ALLOC" not in server.log()
    # the private server's temporary directory is gone
    assert private_dirs() <= before


def test_no_reachable_server_starts_a_private_one(short_dir, workloads, tmp_path):
    report = tmp_path / "report.json"
    res = ttalloc_run(["--socket", short_dir / "nobody-here.sock", "--json", report],
                      pytest_cmd(workloads["leaky"]))
    assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    assert read_report(report)["leaked_bytes"] == LEAKED_BYTES
    assert not (short_dir / "nobody-here.sock").exists()


def test_private_server_does_not_compete_for_the_http_port(workloads):
    """The private server runs with --no-http: a dashboard port already in
    use (here, the one $TTALLOC_HTTP names) must not stop it."""
    if not server_supports("--no-http"):
        pytest.skip("this ttalloc-server has no HTTP endpoint")
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        env = run_env({"TTALLOC_HTTP": "127.0.0.1:%d" % port})
        res = ttalloc_run(["--private"], pytest_cmd(workloads["clean"]), env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "did not start" not in res.stderr
        res = ttalloc_run(["--private"], pytest_cmd(workloads["leaky"]), env=env)
        assert res.returncode == EXIT_LEAKED, res.stdout + res.stderr
    finally:
        taken.close()
