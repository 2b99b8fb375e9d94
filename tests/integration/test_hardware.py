"""Hardware backends end to end: the real ttalloc-server on fixture trees
(--hw-root tests/fixtures/...), asked over its socket with the seed's frames,
and the CUDA interposer (libttalloc_cuda.so) reporting a fake CUDA program's
allocations to it.

Starts its own servers on temporary sockets (not conftest's Server: these
read --hw-root trees and keep their banner); every wait is bounded
(conftest's wait_until).
"""

import os
import re
import socket
import struct
import subprocess
import tempfile

import pytest

from conftest import BUILD, REPO, preload_env, recv_exact, wait_until
from wire_support import FRAME

SERVER = BUILD / "bin" / "ttalloc-server"
INTERPOSER = BUILD / "lib" / "libttalloc_cuda.so"
CUDA_APP = BUILD / "tests" / "fakes" / "cuda_app"
FIXTURES = REPO / "tests" / "fixtures"

assert FRAME.size == 112
QUERY, RESPONSE, DEVICE_INFO_QUERY, DEVICE_INFO_RESPONSE = 3, 4, 6, 7
DEVICE_STATUS_QUERY, DEVICE_STATUS = 132, 133
STATUS_TEMPERATURE, STATUS_POWER, STATUS_UTILIZATION = 1, 2, 4
# DEVICE_STATUS payload at offset 40 (protocol.h, struct proto_status_payload)
STATUS = struct.Struct("=i I I I Q I I Q Q 24s")
MiB = 1024 * 1024
GiB = 1024 * MiB
ARCH_WORMHOLE_B0, ARCH_BLACKHOLE = 2, 3


class Server:
    """A ttalloc-server on a temporary socket; banner lines are kept."""

    def __init__(self, args, env_extra=None):
        self.dir = tempfile.mkdtemp(prefix="ttalloc-hw-")
        self.socket = os.path.join(self.dir, "server.sock")
        self.log_path = os.path.join(self.dir, "server.log")
        env = dict(os.environ)
        env.pop("TTALLOC_HW_ROOT", None)
        env["TTALLOC_HTTP"] = "127.0.0.1:0"  # where the server has HTTP: never a fixed port
        env.update(env_extra or {})
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([str(SERVER), "--socket", self.socket, "--no-retain-leaks"] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self):
        wait_until(lambda: "Server ready!" in self.output() or self.proc.poll() is not None,
                   what="server start-up")
        assert self.proc.poll() is None, self.output()
        return self.output()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def ask(self, msg_type, device):
        """Sends one frame and returns the answer's fields (seed struct)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(FRAME.pack(msg_type, 0, 0, 0, device, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0))
            return recv_exact(s)

    def query(self, device):
        f = FRAME.unpack(self.ask(QUERY, device))
        assert f[0] == RESPONSE
        return f

    def status(self, device):
        data = self.ask(DEVICE_STATUS_QUERY, device)
        assert data[0] == DEVICE_STATUS
        return STATUS.unpack_from(data, 40)


@pytest.fixture
def servers():
    started = []

    def start(args, env_extra=None):
        srv = Server(args, env_extra)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def test_n300_banner_names_both_chips_and_the_source(servers):
    srv = servers(["--hw-root", str(FIXTURES / "n300")])
    out = srv.wait_ready()
    assert "🔍 Device detection (tenstorrent: 2 devices from tt-kmd under %s):" % (FIXTURES / "n300") in out
    assert "   Device 0: Wormhole_B0 n300 L (12GB DRAM, 96MB L1)" in out
    assert "      PCI 0000:02:00.0, serial 010001851172E02A, firmware 80.15.0.0" in out
    assert "   Device 1: Wormhole_B0 n300 R (12GB DRAM, 96MB L1)" in out
    assert ("      remote chip of the card at /dev/tenstorrent/0: no PCIe link of its own, readings N/A"
            in out)


def test_n300_answers_seed_queries_with_the_cards_sizes(servers):
    srv = servers(["--hw-root", str(FIXTURES / "n300")])
    srv.wait_ready()
    info = FRAME.unpack(srv.ask(DEVICE_INFO_QUERY, -1))
    assert info[0] == DEVICE_INFO_RESPONSE
    assert info[24] == 2  # num_devices
    for device in (0, 1):
        f = srv.query(device)
        assert f[13:17] == (0, 0, 0, 0)  # nothing allocated yet
        assert f[17] == 12 * GiB  # total_dram_size
        assert f[18] == 96 * MiB  # total_l1_size: 64 Tensix x 1.5 MiB
        assert f[19] == ARCH_WORMHOLE_B0
        assert f[20] == 12  # num_dram_channels
        assert f[21] == 1 * GiB  # dram_size_per_channel
        assert f[22] == 1536 * 1024  # l1_size_per_core
        assert f[23] == 1  # is_available
        assert f[24] == 2


def test_n300_device_status_carries_hwmon_readings_and_validity(servers):
    srv = servers(["--hw-root", str(FIXTURES / "n300")])
    srv.wait_ready()
    temp, power, util, valid, _buffers, _procs, flags, _cb, _sys, name = srv.status(0)
    assert valid == STATUS_TEMPERATURE | STATUS_POWER  # utilization: N/A on Tenstorrent
    assert temp == 52937  # temp1_input, m°C
    assert power == 61000  # power1_input 61000000 µW -> mW
    assert flags == 0  # not simulated
    assert name.rstrip(b"\0") == b"Wormhole_B0"
    temp, power, util, valid, *_ = srv.status(1)
    assert valid == 0  # the remote chip has no hwmon: everything N/A


def test_p150_cards_report_blackhole_sizes_and_readings(servers):
    srv = servers(["--hw-root", str(FIXTURES / "p150"), "--devices", "tenstorrent"])
    out = srv.wait_ready()
    assert "   Device 0: Blackhole p150a (32GB DRAM, 210MB L1)" in out
    assert "   Device 1: Blackhole p150a (32GB DRAM, 210MB L1)" in out
    f = srv.query(1)
    assert (f[17], f[18], f[19], f[20]) == (32 * GiB, 210 * MiB, ARCH_BLACKHOLE, 8)
    assert f[21] == 0  # 4 GiB per channel does not fit the seed's u32 field
    temp, power, _util, valid, *_ = srv.status(0)
    assert (temp, power, valid) == (45312, 38000, STATUS_TEMPERATURE | STATUS_POWER)


def test_hw_root_from_the_environment(servers):
    srv = servers([], {"TTALLOC_HW_ROOT": str(FIXTURES / "n150")})
    out = srv.wait_ready()
    assert "   Device 0: Wormhole_B0 n150 (12GB DRAM, 108MB L1)" in out
    assert srv.query(0)[18] == 108 * MiB


def test_auto_without_hardware_falls_back_to_the_simulation(servers, tmp_path):
    srv = servers(["--hw-root", str(tmp_path)])
    out = srv.wait_ready()
    assert "🔍 Device detection (simulated devices, no hardware found):" in out
    assert "   Device 0: Wormhole_B0 (12GB DRAM, 1440MB L1)" in out


def test_asking_for_absent_hardware_is_a_clear_error(tmp_path):
    env = dict(os.environ, TTALLOC_HTTP="127.0.0.1:0")
    r = subprocess.run([str(SERVER), "--socket", str(tmp_path / "s.sock"), "--hw-root", str(tmp_path),
                        "--devices", "tenstorrent"], capture_output=True, text=True, timeout=10, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert "backend 'tenstorrent' found no devices" in r.stderr
    r = subprocess.run([str(SERVER), "--socket", str(tmp_path / "s.sock"), "--hw-root",
                        str(tmp_path / "missing")], capture_output=True, text=True, timeout=10, env=env)
    assert r.returncode == 2
    assert "is not a directory" in r.stderr


def interposer_env(srv, tracking="1"):
    env = dict(os.environ)
    env["TT_ALLOC_SERVER_SOCKET"] = srv.socket
    env["TT_ALLOC_TRACKING_ENABLED"] = tracking
    return preload_env(env, [INTERPOSER])


def dram(srv, device):
    return srv.query(device)[13]


class App:
    """cuda_app: prints a step name, then waits for a line on stdin."""

    def __init__(self, env):
        self.proc = subprocess.Popen([str(CUDA_APP)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def expect(self, line):
        got = self.proc.stdout.readline().strip()
        assert got == line, got

    def go_on(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def finish(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


@pytest.mark.skipif(not INTERPOSER.exists() or not CUDA_APP.exists(), reason="interposer not built")
def test_cuda_interposer_reports_allocations_to_the_real_server(servers):
    srv = servers(["--hw-root", str(FIXTURES / "n300")])
    srv.wait_ready()
    app = App(interposer_env(srv))
    app.expect("ALLOCATED")  # failing calls' error codes were checked by the app itself
    # device 0: cudaMalloc 1 MiB + cudaMallocManaged 3 MiB; device 1: cudaMallocAsync 2 + cuMemAlloc_v2 4
    wait_until(lambda: (dram(srv, 0), dram(srv, 1)) == (4 * MiB, 6 * MiB), what="allocations")
    assert srv.query(0)[14:17] == (0, 0, 0)  # DRAM buffers only
    app.go_on()
    app.expect("FREED")  # cudaFree 1 MiB, cudaFreeAsync 2 MiB
    wait_until(lambda: (dram(srv, 0), dram(srv, 1)) == (3 * MiB, 4 * MiB), what="frees")
    app.go_on()
    app.finish()
    wait_until(lambda: (dram(srv, 0), dram(srv, 1)) == (0, 0), what="leak release")
    out = wait_until(lambda: re.search(r"Process (\d+) exited but left 2 buffers allocated", srv.output()),
                     what="leak report")
    assert int(out.group(1)) == app.proc.pid
    log = srv.output()
    assert re.search(r"\[Device 0\] Buffer 0x[0-9a-f]+: 3145728 bytes DRAM", log)
    assert re.search(r"\[Device 1\] Buffer 0x[0-9a-f]+: 4194304 bytes DRAM", log)
    assert "unknown_free" not in log and "FREE of buffer" not in log  # unknown pointers not reported


@pytest.mark.skipif(not INTERPOSER.exists() or not CUDA_APP.exists(), reason="interposer not built")
def test_cuda_interposer_is_silent_without_tracking(servers):
    srv = servers(["--hw-root", str(FIXTURES / "n300")])
    srv.wait_ready()
    app = App(interposer_env(srv, tracking="0"))
    app.expect("ALLOCATED")
    app.go_on()
    app.expect("FREED")
    app.go_on()
    app.finish()
    assert (dram(srv, 0), dram(srv, 1)) == (0, 0)
    assert "ALLOC:" not in srv.output() and "cuda_app" not in srv.output()
