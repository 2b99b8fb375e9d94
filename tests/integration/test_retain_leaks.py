"""Leaks stay visible for CI (issue 15): with --retain-leaks, or $CI set in
the server's environment, what an exited process leaked stays in every
total until `tt_smi --clear-leaks`, so the seed's CI script
(examples/seed/test_memory_leaks.sh, verbatim) fails on a leaking test run;
without it the totals are the live picture."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, BUILD, MiB, PYTHON_DIR, REPO, SIM_DIR, process_rows, smi
from http_support import dashboard_url, get
import ttalloc

LOAD = str(BIN / "ttalloc-load")


def leak(server, size="1M"):
    """A process that leaks one DRAM buffer of `size` on device 0 and exits; returns its pid."""
    res = subprocess.run([LOAD, "-n", "1", "-s", size, "-p", "leak", "-q"], env=server.env(),
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    pid = int(re.search(r"pid (\d+)", res.stdout).group(1))
    server.wait_for_log(r"^⚠️  Process %d exited but left 1 buffer allocated:" % pid)
    return pid


def test_without_retain_leaks_the_totals_are_the_live_picture(server):
    leak(server)
    assert server.query(0)["dram_allocated"] == 0


def test_retained_leaks_stay_in_every_total_until_cleared(server_factory):
    srv = server_factory("retain", args=["--retain-leaks"])
    pid = leak(srv)
    srv.wait_for_log(r"kept in the totals as \"exited \(leaked\)\" until tt_smi --clear-leaks")
    assert srv.query(0)["dram_allocated"] == MiB
    rows = [r for r in process_rows(srv.socket) if r["pid"] == pid]
    assert [(r["device_id"], r["dram_allocated"], r["exited"]) for r in rows] == [(0, MiB, True)]
    table = smi(srv).stdout
    assert re.search(r"\b%d\b.*\(exited \(leaked\)\)" % pid, table)
    assert "(exited (leaked)): its leaks stay counted until tt_smi --clear-leaks" in table  # whole at 80 columns
    data = json.loads(smi(srv, "--json").stdout)
    assert [p["exited"] for p in data["processes"] if p["pid"] == pid] == [True]
    api = json.loads(get(dashboard_url(srv) + "api/processes").body)
    assert [(p["exited"], p["exit_time"] is not None) for p in api if p["pid"] == pid] == [(True, True)]
    assert smi(srv, "--clear-leaks").stdout == "Cleared 1 leaked buffer of 1 exited process\n"
    assert srv.query(0)["dram_allocated"] == 0
    assert not [r for r in process_rows(srv.socket) if r["pid"] == pid]
    assert ttalloc.clear_leaks(socket_path=srv.socket) == ttalloc.ClearedLeaks(buffer_count=0, process_count=0)
    # the leak report itself is kept as before
    assert [lk.pid for lk in ttalloc.leaks(socket_path=srv.socket)] == [pid]


@pytest.mark.parametrize("ci,retained", [("true", True), ("1", True), ("false", False), ("", False)])
def test_ci_in_the_environment_chooses_retain_leaks(server_factory, monkeypatch, ci, retained):
    monkeypatch.setenv("CI", ci)
    srv = server_factory("ci", leak_mode=False)  # no explicit flag: the environment decides
    leak(srv)
    assert srv.query(0)["dram_allocated"] == (MiB if retained else 0)
    assert ("the default with $CI set" in srv.log()) == retained


@pytest.fixture
def seed_ci_dir(tmp_path):
    """The layout the seed's script expects: ./build/programming_examples,
    query_stats.py next to it, and a tests/ folder for pytest."""
    (tmp_path / "build").symlink_to(BUILD)
    shutil.copy(REPO / "examples/seed/query_stats.py", tmp_path / "query_stats.py")
    shutil.copy(REPO / "examples/seed/test_memory_leaks.sh", tmp_path / "test_memory_leaks.sh")
    (tmp_path / "tests").mkdir()
    return tmp_path


LEAKY_TEST = '''
import tt_metal as ttm

def test_forgets_its_buffer():
    device = ttm.CreateDevice(0)
    buf = ttm.Buffer(device, size=4 * 1024 * 1024, buffer_type=ttm.BufferType.DRAM)
    import os
    os._exit(0)  # dies without tearing down: the buffer is leaked (tt-metal could not free it either)
'''

CLEAN_TEST = '''
import tt_metal as ttm

def test_frees_its_buffer():
    device = ttm.CreateDevice(0)
    buf = ttm.Buffer(device, size=4 * 1024 * 1024, buffer_type=ttm.BufferType.DRAM)
    buf.deallocate()
    ttm.CloseDevice(device)
'''


def run_seed_ci_script(workdir, default_socket_lock):
    env = dict(os.environ)
    env["CI"] = "true"  # what every CI system sets, and the script's server inherits
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), str(SIM_DIR)])
    env.pop("TT_ALLOC_SERVER_SOCKET", None)  # the script uses the default socket
    env["TTALLOC_HTTP"] = "127.0.0.1:0"
    return subprocess.run(["bash", "./test_memory_leaks.sh"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_seeds_ci_script_verbatim_fails_on_a_leaking_test_run(seed_ci_dir, default_socket_lock):
    (seed_ci_dir / "tests" / "test_leaky.py").write_text(LEAKY_TEST)
    res = run_seed_ci_script(seed_ci_dir, default_socket_lock)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAIL: Memory leak detected: %d bytes" % (4 * MiB) in res.stdout


def test_the_seeds_ci_script_verbatim_passes_on_a_clean_test_run(seed_ci_dir, default_socket_lock):
    (seed_ci_dir / "tests" / "test_clean.py").write_text(CLEAN_TEST)
    res = run_seed_ci_script(seed_ci_dir, default_socket_lock)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "PASS: No memory leaks" in res.stdout
