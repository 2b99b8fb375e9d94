"""The Python package's tools against the real server: devices(),
profile_function(), track(), the pytest plugin (--ttalloc-leaks), the
offline `pip install ./python` into a venv (entry point included), and the
seed's examples in examples/ run as scripts."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest

from conftest import MiB, PYTHON_DIR, REPO, client_env, wait_until
import ttalloc

IN_CI = os.environ.get("CI") == "true"
FIXTURES = REPO / "tests" / "fixtures"
EXAMPLES = REPO / "examples"
SEED_KEYS = {"device_id", "dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated"}


def run_py(code, env, args=(), timeout=30, expect_rc=0):
    res = subprocess.run([sys.executable, "-c", code] + [str(a) for a in args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    if expect_rc is not None:
        assert res.returncode == expect_rc, res.stdout + res.stderr
    return res


# ---- devices() ----

def test_devices_lists_seed_keys_name_arch_totals_and_readings(server, reporter_client):
    holder = reporter_client(server)
    assert holder.command("alloc 1 0 0x800000000 %d" % (5 * MiB)).group(1) == "1"
    assert holder.command("alloc 1 1 0x10000 %d" % MiB).group(1) == "1"
    assert holder.command("flush").group(1) == "1"
    devs = ttalloc.devices(socket_path=server.socket)
    assert [d.device_id for d in devs] == [0, 1]
    for d in devs:
        assert isinstance(d, ttalloc.Device)
        assert d.name == "Wormhole_B0" and d.arch == "Wormhole_B0" and d.simulated is True
        assert d.dram_capacity == 12 * 1024 * MiB and d.l1_capacity == 1440 * MiB
        assert isinstance(d.temperature_c, float) and isinstance(d.power_w, float)
        assert d.utilization_pct is None  # not simulated
        # the seed's keys agree with query_device_stats()
        assert set(d.stats) == SEED_KEYS
        assert d.stats == ttalloc.query_device_stats(d.device_id, socket_path=server.socket)
    assert devs[1].dram_allocated == 5 * MiB and devs[1].l1_allocated == MiB
    assert devs[1].buffer_count == 2 and devs[1].process_count == 1
    assert devs[0].buffer_count == 0 and devs[0].dram_allocated == 0


def test_devices_give_none_for_readings_the_hardware_does_not_give(server_factory):
    """n300 fixture: the right chip has no PCIe link of its own, so no readings."""
    srv = server_factory(args=["--hw-root", str(FIXTURES / "n300"), "--devices", "tenstorrent"])
    devs = ttalloc.devices(socket_path=srv.socket)
    assert len(devs) == 2 and not any(d.simulated for d in devs)
    assert devs[0].temperature_c is not None and devs[0].power_w is not None
    assert devs[1].temperature_c is None and devs[1].power_w is None
    assert all(d.arch == "Wormhole_B0" for d in devs)


def test_devices_without_server_raises_server_not_running(short_dir):
    with pytest.raises(ttalloc.ServerNotRunning):
        ttalloc.devices(socket_path=str(short_dir / "absent.sock"))


# ---- profile_function(), @profile and track() ----

PROFILE_SCRIPT = """
import logging, sys, ttalloc, tt_metal as ttm
MiB = 1024 * 1024
device = ttm.CreateDevice(0)
weights = []

def my_model_inference(n, size=64 * MiB):
    for _ in range(n):
        weights.append(ttm.Buffer(device, size=size, buffer_type=ttm.BufferType.DRAM))
    ttm.Buffer(device, size=8 * MiB, buffer_type=ttm.BufferType.L1).deallocate()
    return "logits"

result, deltas = ttalloc.profile_function(my_model_inference, 1, size=64 * MiB, device_id=0)
print("result=%s dram=%d l1=%d l1_small=%d trace=%d device=%d function=%s elapsed=%s"
      % (result, deltas.dram_allocated, deltas.l1_allocated, deltas.l1_small_allocated, deltas.trace_allocated,
         deltas.device_id, deltas.function, deltas.elapsed_seconds > 0))

@ttalloc.profile
def unload():
    weights.pop().deallocate()
    return "unloaded"

print("returned=%s" % unload())
print("last=%d" % unload.last_deltas.dram_allocated)

@ttalloc.profile(device_id=0, logger=logging.getLogger("mem"))
def load_two():
    return my_model_inference(2, size=MiB)

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log %(name)s: %(message)s")
load_two()
"""


def test_profile_function_returns_the_result_and_the_deltas_and_profile_prints_the_seeds_lines(server):
    out = run_py(PROFILE_SCRIPT, server.env()).stdout.splitlines()
    # profile_function: (result, MemoryDeltas), nothing printed; args and kwargs reach the function
    assert out[0] == ("result=logits dram=%d l1=0 l1_small=0 trace=0 device=0 function=my_model_inference "
                      "elapsed=True" % (64 * MiB))
    # @ttalloc.profile: the seed's lines at each call, and the function's own result
    assert out[1] == "Function: unload"
    assert re.fullmatch(r"  Time: \d+\.\d{3}s", out[2]), out[2]
    assert out[3:5] == ["  DRAM change: -64.00 MB", "  L1 change: 0 B"]  # a decrease keeps its sign
    assert out[5:7] == ["returned=unloaded", "last=%d" % (-64 * MiB)]
    # @ttalloc.profile(...): the same lines through a logger
    assert out[7] == "log mem: Function: load_two"
    assert out[9:11] == ["log mem:   DRAM change: +2.00 MB", "log mem:   L1 change: 0 B"]


def test_profile_takes_keyword_arguments_only(server):
    with pytest.raises(TypeError, match="keyword arguments only"):
        ttalloc.profile(1)


TRACK_SCRIPT = """
import json, sys, time, ttalloc, tt_metal as ttm
MiB = 1024 * 1024
device = ttm.CreateDevice(0)
interval = float(sys.argv[1])
scope = sys.argv[2]
with ttalloc.track(0, scope=scope, interval=interval) as t:
    keep = ttm.Buffer(device, size=64 * MiB, buffer_type=ttm.BufferType.DRAM)
    tmp = ttm.Buffer(device, size=32 * MiB, buffer_type=ttm.BufferType.DRAM)
    l1 = ttm.Buffer(device, size=8 * MiB, buffer_type=ttm.BufferType.L1)
    tmp.deallocate()
    l1.deallocate()
    deadline = time.monotonic() + 10
    while interval and t.samples < 3 and time.monotonic() < deadline:
        time.sleep(interval)  # until the background thread has taken a few samples
print(json.dumps(t.as_dict()))
print(t)
ttm.CloseDevice(device)
"""


@pytest.mark.parametrize("interval", ["0", "0.005"])
def test_track_reports_deltas_and_the_exact_peak_of_this_processes_buffers(server, interval):
    """The 32 MiB DRAM and 8 MiB L1 spikes last microseconds: the reporter's
    high-water mark makes the peak exact even with no sampling at all."""
    out = run_py(TRACK_SCRIPT, server.env(), [interval, "device"]).stdout.splitlines()
    t = json.loads(out[0])
    assert t["dram_before"] == 0 and t["dram_after"] == 64 * MiB
    assert t["dram_delta"] == 64 * MiB and t["l1_delta"] == 0
    assert t["peak_dram"] == 96 * MiB and t["peak_dram_delta"] == 96 * MiB
    assert t["peak_l1"] == 8 * MiB and t["peak_l1_delta"] == 8 * MiB
    assert t["elapsed"] > 0 and t["scope"] == "device"
    assert (t["samples"] > 0) == (interval != "0")
    assert out[1].startswith("DRAM +64.00 MB (peak +96.00 MB), L1 0 B (peak +8.00 MB), ")


def test_track_process_scope_ignores_other_processes(server, reporter_client):
    other = reporter_client(server)
    assert other.command("alloc 0 0 0x7000000000 %d" % (100 * MiB)).group(1) == "1"
    assert other.command("flush").group(1) == "1"
    t = json.loads(run_py(TRACK_SCRIPT, server.env(), ["0.005", "process"]).stdout.splitlines()[0])
    assert t["scope"] == "process"
    assert t["dram_before"] == 0 and t["dram_after"] == 64 * MiB
    assert t["peak_dram"] == 96 * MiB
    t = json.loads(run_py(TRACK_SCRIPT, server.env(), ["0.005", "device"]).stdout.splitlines()[0])
    assert t["dram_before"] == 100 * MiB and t["dram_delta"] == 64 * MiB
    assert t["peak_dram"] == 196 * MiB


def test_track_samples_catch_another_processes_spike(server, reporter_client):
    other = reporter_client(server)
    with ttalloc.track(0, interval=0.005, socket_path=server.socket, reporter=False) as t:
        assert other.command("alloc 0 0 0x7000000000 %d" % (10 * MiB)).group(1) == "1"
        assert other.command("flush").group(1) == "1"
        wait_until(lambda: t.samples >= 3 and t._max[0] == 10 * MiB, timeout=5,
                   what="a sample of the spike")
        assert other.command("free 0 0x7000000000").group(1) == "1"
        assert other.command("flush").group(1) == "1"
    assert t.dram_delta == 0 and t.peak_dram_delta == 10 * MiB


def test_track_rejects_an_unknown_scope():
    with pytest.raises(ValueError):
        ttalloc.track(0, scope="host")


# ---- the pytest plugin ----

PLUGIN_TESTS = """
import pytest
import tt_metal as ttm

MiB = 1024 * 1024
_kept = []


@pytest.fixture(scope="module")
def weights():
    buf = ttm.Buffer(ttm.CreateDevice(0), size=8 * MiB, buffer_type=ttm.BufferType.DRAM)
    yield buf
    buf.deallocate()


@pytest.fixture
def scratch():
    buf = ttm.Buffer(ttm.CreateDevice(0), size=MiB, buffer_type=ttm.BufferType.L1)
    yield buf
    buf.deallocate()


def test_clean():
    ttm.Buffer(ttm.CreateDevice(0), size=MiB, buffer_type=ttm.BufferType.DRAM).deallocate()


def test_module_fixture_is_not_a_leak(weights):
    assert weights.is_allocated()


def test_function_fixture_freed_at_teardown_is_not_a_leak(scratch):
    assert scratch.is_allocated()


def test_leaky():
    _kept.append(ttm.Buffer(ttm.CreateDevice(1), size=3 * MiB, buffer_type=ttm.BufferType.DRAM))
    _kept.append(ttm.Buffer(ttm.CreateDevice(0), size=64 * 1024, buffer_type=ttm.BufferType.L1))


@pytest.mark.ttalloc_allow_leaks
def test_allowed_leak():
    _kept.append(ttm.Buffer(ttm.CreateDevice(0), size=2 * MiB, buffer_type=ttm.BufferType.DRAM))


def test_freeing_an_earlier_leak_is_fine():
    _kept.pop().deallocate()
"""


def run_pytest(test_file, env, *args, python=None, plugin=True):
    cmd = [python or sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rf"]
    if plugin:
        cmd += ["-p", "ttalloc.pytest_plugin"]
    cmd += list(args) + [str(test_file)]
    env = dict(env, COLUMNS="300")  # the short summary line in full
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(test_file.parent))


@pytest.fixture
def plugin_tests(tmp_path):
    p = tmp_path / "test_plugin_workload.py"
    p.write_text(PLUGIN_TESTS)
    return p


def test_plugin_fails_only_the_test_that_leaves_memory_allocated(server, plugin_tests):
    # tracking is off in the environment: --ttalloc-leaks turns it on
    res = run_pytest(plugin_tests, server.env(tracking=False), "--ttalloc-leaks", "-v")
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    # test_leaky counts twice, as pytest counts a teardown error: its call passed
    assert "1 failed, 6 passed" in out, out
    assert re.search(r"test_leaky .*LEAKED", out), out
    assert "ttalloc: device memory leak check on (server %s" % server.socket in out
    assert ("LEAKED test_plugin_workload.py::test_leaky - ttalloc: test left 3.06 MB of device "
            "memory allocated (device 0 L1 64.00 KB, device 1 DRAM 3.00 MB)") in out
    assert "3211264 bytes (3.06 MB) held by this process" in out
    assert "device 0 L1: 65536 bytes (64.00 KB)" in out
    assert "device 1 DRAM: 3145728 bytes (3.00 MB)" in out
    assert re.search(r"\[Device 1\] Buffer 0x[0-9a-f]+: 3145728 bytes DRAM", out)
    assert "@pytest.mark.ttalloc_allow_leaks" in out
    for name in ("test_clean", "test_module_fixture_is_not_a_leak",
                 "test_function_fixture_freed_at_teardown_is_not_a_leak", "test_allowed_leak",
                 "test_freeing_an_earlier_leak_is_fine"):
        assert re.search(r"%s PASSED" % name, out), name


def test_plugin_does_nothing_without_the_option(server, plugin_tests):
    res = run_pytest(plugin_tests, server.env())
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 passed" in res.stdout and "leak check" not in res.stdout


def test_plugin_ini_option_turns_the_check_on(server, plugin_tests):
    (plugin_tests.parent / "pytest.ini").write_text("[pytest]\nttalloc_leaks = true\n")
    res = run_pytest(plugin_tests, server.env())
    assert res.returncode == 1 and "1 failed, 6 passed" in res.stdout, res.stdout + res.stderr


def test_plugin_without_server_is_a_usage_error(short_dir, plugin_tests):
    env = client_env(short_dir / "absent.sock")
    res = run_pytest(plugin_tests, env, "--ttalloc-leaks")
    assert res.returncode == 4, res.stdout + res.stderr  # pytest's usage error
    assert "--ttalloc-leaks: cannot reach the allocation server at %s" % (short_dir / "absent.sock") \
        in res.stderr


def test_plugin_under_ttalloc_run_gates_per_test_and_per_run(server, plugin_tests, tmp_path):
    """The two gates together: the plugin names the test that left buffers
    allocated; ttalloc-run looks at what the process still held at exit,
    which is nothing: a normal exit closes the simulated devices, as
    tt-metal's DevicePool does, so buffers freed only by that close are
    the plugin's to catch."""
    from conftest import BIN
    report = tmp_path / "run.json"
    env = client_env("/nonexistent.sock", tracking=False)
    res = subprocess.run([str(BIN / "ttalloc-run"), "--socket", server.socket, "--json", str(report),
                          "--", sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          "-p", "ttalloc.pytest_plugin", "--ttalloc-leaks", str(plugin_tests)],
                         env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(plugin_tests.parent))
    assert res.returncode == 1, res.stdout + res.stderr  # pytest's: test_leaky failed
    assert "1 failed, 6 passed" in res.stdout
    assert "LEAKED test_plugin_workload.py::test_leaky" in res.stdout
    doc = json.loads(report.read_text())
    assert doc["command_status"] == 1
    # test_leaky's 3 MiB + 64 KiB were still held at exit, and freed by the close of the devices
    assert doc["leaked_bytes"] == 0 and doc["failed"] is False


# ---- pip install ./python, offline, into a venv ----

@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv (with the system's site packages: setuptools, pytest) holding
    `pip install --no-build-isolation --no-deps ./python`."""
    base = tmp_path_factory.mktemp("venv")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(base / "venv")],
                         capture_output=True, text=True, timeout=120, env=env)
    if res.returncode != 0:
        msg = "cannot create a venv with %s (python3-venv): %s" % (sys.executable, res.stderr.strip())
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    python = base / "venv" / "bin" / "python"
    # a copy, so the in-tree build (build/, *.egg-info) never touches the checkout
    src = base / "src"
    shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    env["PIP_NO_INDEX"] = "1"  # offline: nothing may come from a package index
    res = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                          str(src)], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, "pip install ./python failed:\n%s%s" % (res.stdout, res.stderr)
    return python


def venv_env(server=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("TT_ALLOC_TRACKING_ENABLED", None)
    if server is not None:
        env["TT_ALLOC_SERVER_SOCKET"] = server.socket
    return env


def test_pip_install_puts_the_package_in_the_venv(venv, server, tmp_path):
    res = subprocess.run([str(venv), "-c", "import ttalloc, json; print(ttalloc.__file__); "
                          "import ttalloc.connection, ttalloc.query, ttalloc.reporter, ttalloc.monitor; "
                          "print(json.dumps(ttalloc.devices()[0].name))"],
                         env=venv_env(server), capture_output=True, text=True, timeout=30,
                         cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr
    path, name = res.stdout.splitlines()
    assert path.startswith(str(venv.parent.parent)) and "site-packages" in path, path
    assert json.loads(name) == "Wormhole_B0"
    res = subprocess.run([str(venv), "-m", "pip", "show", "ttalloc"], env=venv_env(),
                         capture_output=True, text=True, timeout=60)
    assert "Version: 0.1.0" in res.stdout and "Requires: \n" in res.stdout + "\n", res.stdout


def test_installed_plugin_is_loaded_by_its_entry_point(venv, server, plugin_tests):
    env = venv_env(server)
    # tt_metal for the workload only (ttalloc itself comes from the venv)
    env["PYTHONPATH"] = str(PYTHON_DIR / "sim")
    res = run_pytest(plugin_tests, env, "--ttalloc-leaks", python=str(venv), plugin=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 failed, 6 passed" in res.stdout
    assert "ttalloc: device memory leak check on" in res.stdout
    # -p ttalloc.pytest_plugin (a checkout's spelling) names the same plugin: no double registration
    res = run_pytest(plugin_tests, env, "--ttalloc-leaks", python=str(venv), plugin=True)
    assert res.returncode == 1 and "1 failed, 6 passed" in res.stdout, res.stdout + res.stderr
    # and -p no:... turns the installed plugin off
    res = run_pytest(plugin_tests, env, "-p", "no:ttalloc.pytest_plugin", python=str(venv),
                     plugin=False)
    assert res.returncode == 0 and "6 passed" in res.stdout, res.stdout + res.stderr


# ---- examples/ ----

def run_example(name, env, *args, timeout=60):
    return subprocess.run([sys.executable, str(EXAMPLES / name)] + [str(a) for a in args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO))


def example_env(socket_path):
    """No PYTHONPATH: the examples find the package themselves in a checkout."""
    env = dict(os.environ, TT_ALLOC_SERVER_SOCKET=str(socket_path))
    env.pop("PYTHONPATH", None)
    env.pop("TT_ALLOC_TRACKING_ENABLED", None)
    return env


def test_example_query_stats_prints_the_seeds_output(server, reporter_client):
    holder = reporter_client(server)
    assert holder.command("alloc 0 0 0x800000000 %d" % (3 * 1024 * MiB + 256 * MiB)).group(1) == "1"
    assert holder.command("alloc 0 1 0x10000 %d" % (450 * MiB)).group(1) == "1"
    assert holder.command("flush").group(1) == "1"
    res = run_example("query_stats.py", example_env(server.socket), "0")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ("Device 0 Allocation Statistics:\n"
                          "  DRAM:      3.25 GB\n"
                          "  L1:        450.00 MB\n"
                          "  L1_SMALL:  0 B\n"
                          "  TRACE:     0 B\n"
                          "  Total:     3.69 GB\n")
    res = run_example("query_stats.py", example_env(server.socket), "--all")
    assert res.returncode == 0 and res.stdout.count("Allocation Statistics:") == 2
    assert "Device 1: Wormhole_B0 (Wormhole_B0, 12.00 GB DRAM, 1.41 GB L1)" in res.stdout


def test_example_query_stats_without_server_says_what_to_do(short_dir):
    res = run_example("query_stats.py", example_env(short_dir / "absent.sock"), "0")
    assert res.returncode == 1
    assert res.stdout.startswith("Error: Cannot connect to allocation server at %s\n"
                                 % (short_dir / "absent.sock"))
    assert "start ttalloc-server" in res.stdout and "build/" not in res.stdout


def test_example_csv_log_writes_the_seeds_columns_for_count_rounds(server, tmp_path):
    log = tmp_path / "memory_log.csv"
    res = run_example("csv_log.py", example_env(server.socket), "-o", log, "--interval", "0.05",
                      "--count", "3")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(log.open()))
    assert rows[0] == ["timestamp", "device", "dram", "l1"]
    assert len(rows) == 1 + 3 * 2 and [r[1] for r in rows[1:]] == ["0", "1"] * 3
    # appending: a second run continues the file without a second header
    res = run_example("csv_log.py", example_env(server.socket), "-o", log, "--interval", "0.05",
                      "--count", "1", "--devices", "1")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(log.open()))
    assert len(rows) == 8 and rows.count(["timestamp", "device", "dram", "l1"]) == 1


def test_example_health_check_exit_status_follows_the_server(server, short_dir):
    res = run_example("health_check.py", example_env(server.socket))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("✅ Allocation server running at %s: 2 devices" % server.socket)
    res = run_example("health_check.py", example_env(short_dir / "absent.sock"))
    assert res.returncode == 1
    assert res.stdout == "Warning: Allocation server not running\nStart with: ttalloc-server\n"


def test_example_health_check_also_checks_healthz(server_factory):
    srv = server_factory(args=["--http", "127.0.0.1:0"])
    m = srv.wait_for_log(r"🌐 Dashboard: (http://\S+?)/?$")
    url = m.group(1)
    with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=5) as r:
        assert json.load(r)["status"] == "ok"
    res = run_example("health_check.py", example_env(srv.socket), "--http", url)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "/healthz: ok" in res.stdout
    res = run_example("health_check.py", example_env(srv.socket), "--http", "http://127.0.0.1:1",
                      "--timeout", "2")
    assert res.returncode == 1 and "dashboard health check at http://127.0.0.1:1 failed" in res.stdout


def test_example_profile_memory_usage_prints_the_profile_and_frees_everything(server):
    res = run_example("profile_memory_usage.py", example_env(server.socket))
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Function: my_model_inference"
    assert lines[2:4] == ["  DRAM change: +64.00 MB", "  L1 change: 0 B"]
    assert re.fullmatch(r"profile_function\(\): 64\.00 MB DRAM in \d+\.\d{3} s, returned 'logits'", lines[4]), lines[4]
    assert lines[5].startswith("track(): DRAM +64.00 MB (peak +96.00 MB), L1 0 B (peak +8.00 MB)")
    # it closed its device: nothing left, nothing leaked
    assert server.query(0)["dram_allocated"] == 0
    assert ttalloc.leaks(socket_path=server.socket) == []
