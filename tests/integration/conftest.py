"""Shared fixtures for the integration tests: real binaries, temp sockets.

The build directory is $TTALLOC_BUILD_DIR (default <repo>/build), so the same
tests run against an ASan build (build-asan). Every wait is bounded and waits
for something observable: wait_until() polls a condition, Server.wait_for_log()
a log line, sync() (wire_support.py) is a SYNC/SYNC_ACK barrier on a
connection, wait_read_by_peer() waits until the server has read what a socket
sent. A test sleeps only where letting time pass is what it tests, and says so.
"""

import fcntl
import fcntl
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TTALLOC_BUILD_DIR") or REPO / "build").resolve()
BIN = BUILD / "bin"
SERVER_BIN = BIN / "ttalloc-server"
SMI_BIN = BIN / "tt_smi"
LIB_DIR = BUILD / "lib"
PYTHON_DIR = REPO / "python"
SIM_DIR = PYTHON_DIR / "sim"
SEED_DOC_CANDIDATES = [
    Path("/work/shared/seed/real-time-monitoring-example.md"),
    REPO.parent / "shared" / "seed" / "real-time-monitoring-example.md",
]
DEFAULT_SOCKET = "/tmp/tt_allocation_server.sock"
MiB = 1024 * 1024

# Every server the tests start serves HTTP on a free loopback port (the
# "🌐 Dashboard:" log line tells which), never on the default 8080.
os.environ.setdefault("TTALLOC_HTTP", "127.0.0.1:0")
# The Python Reporter reports through libttalloc when one is installed: the
# tests choose. Pure Python unless a test names the build's library
# (LIBTTALLOC) in $TTALLOC_LIBRARY (test_python_library.py runs both).
LIBTTALLOC = LIB_DIR / "libttalloc.so.0"
os.environ.setdefault("TTALLOC_LIBRARY", "off")

sys.path.insert(0, str(PYTHON_DIR))
import ttalloc  # noqa: E402
from http_support import dashboard_url  # noqa: E402
from wire_support import recv_exact, sync  # noqa: E402,F401  (shared: `from conftest import sync`)


def sanitized_build():
    """True when BUILD was configured with TTALLOC_SANITIZE=ON."""
    if os.environ.get("TTALLOC_SANITIZE") == "1":
        return True
    cache = BUILD / "CMakeCache.txt"
    try:
        return re.search(r"^TTALLOC_SANITIZE:BOOL=ON$", cache.read_text(), re.M) is not None
    except OSError:
        return False


SANITIZED = sanitized_build()


def tsan_build():
    """True when BUILD was configured with TTALLOC_TSAN=ON (make tsan-test)."""
    if os.environ.get("TTALLOC_TSAN") == "1":
        return True
    try:
        return re.search(r"^TTALLOC_TSAN:BOOL=ON$", (BUILD / "CMakeCache.txt").read_text(), re.M) is not None
    except OSError:
        return False


TSAN = tsan_build()


def seed_doc():
    for p in SEED_DOC_CANDIDATES:
        if p.is_file():
            return p
    return None


def wait_until(predicate, timeout=5.0, interval=0.02, what="condition", details=None):
    """Polls predicate() until it returns a true value, and returns that;
    fails after `timeout` seconds naming `what` (and details(), if given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1f s waiting for %s%s"
                        % (timeout, what, ":\n" + details() if details else ""))
        time.sleep(interval)  # the poll period of this bounded wait


def process_rows(socket_path, **kwargs):
    """ttalloc.processes() as one dict per (process, device), for tests that
    compare per-device figures: the Process's pid, name, user, uid, source,
    exited and stale, and the ProcessDevice's fields (device_id,
    dram_allocated, ..., buffer_count)."""
    rows = []
    for p in ttalloc.processes(socket_path=socket_path, **kwargs):
        for d in p.devices:
            row = {k: getattr(p, k) for k in ("pid", "name", "user", "uid", "source", "exited", "stale")}
            row.update(d.to_dict())
            rows.append(row)
    return rows


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def client_env(socket_path, tracking=True, extra=None):
    """Environment for a client process of the server at socket_path."""
    env = dict(os.environ)
    env["TT_ALLOC_SERVER_SOCKET"] = str(socket_path)
    if tracking:
        env["TT_ALLOC_TRACKING_ENABLED"] = "1"
    else:
        env.pop("TT_ALLOC_TRACKING_ENABLED", None)
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), str(SIM_DIR)] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


class LineProcess:
    """A child process driven line by line, with bounded waits on its output."""

    def __init__(self, argv, env=None, cwd=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.lines = []
        self._buf = b""

    @property
    def pid(self):
        return self.proc.pid

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def _read_some(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.lines.append(line.decode("utf-8", "replace"))
        return True

    def expect(self, pattern, timeout=5.0):
        """Waits for the next output line matching regex `pattern`; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = len(self.lines)
        consumed = getattr(self, "_consumed", 0)
        while True:
            for i in range(consumed, len(self.lines)):
                m = rx.search(self.lines[i])
                if m:
                    self._consumed = i + 1
                    return m
            consumed = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("timed out waiting for %r from %s; output so far:\n%s"
                            % (pattern, self.argv[0], "\n".join(self.lines[max(0, seen - 5):])))
            if self._read_some(left) is None:
                pytest.fail("%s exited (rc %s) before printing %r; output:\n%s"
                            % (self.argv[0], self.proc.poll(), pattern, "\n".join(self.lines)))

    def command(self, line, timeout=5.0):
        """Sends a command line and returns the first answer line ('rc=N ...')."""
        self.send(line)
        return self.expect(r"^rc=(-?\d+)", timeout)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait()

    def wait(self, timeout=5.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


_server_help = None


def server_supports(option):
    """True when `ttalloc-server --help` lists `option` (the server grows)."""
    global _server_help
    if _server_help is None:
        try:
            _server_help = subprocess.run([str(SERVER_BIN), "--help"], capture_output=True,
                                          text=True, timeout=10).stdout
        except OSError:
            _server_help = ""
    return option in _server_help


def private_server_args(leak_mode=True):
    """Options that keep a test server off shared resources (a fixed HTTP
    port), so that test runs and other servers never collide; and, unless
    `leak_mode` is False, the live-picture mode chosen explicitly
    (--no-retain-leaks), so the tests behave the same whether or not $CI is
    set where they run."""
    args = []
    if server_supports("--http"):
        args += ["--http", "127.0.0.1:0"]
    elif server_supports("--no-http"):
        args += ["--no-http"]
    if leak_mode and server_supports("--no-retain-leaks"):
        args += ["--no-retain-leaks"]
    return args


class Server:
    """A running ttalloc-server on a private socket, output captured to files."""

    def __init__(self, socket_path, log_path, args=(), leak_mode=True):
        self.socket = str(socket_path)
        self.leak_mode = leak_mode  # False: the environment ($CI) chooses --retain-leaks
        self.log_path = Path(log_path)
        self.err_path = self.log_path.with_suffix(".stderr")
        self.args = list(args)
        self.expect_exit = False  # the test makes the server exit on its own
        self.stopped = False      # stop() was called, with this exit code
        self.returncode = None
        self.proc = None

    def start(self, wait=True):
        self._out = open(self.log_path, "ab")
        self._err = open(self.err_path, "ab")
        self.proc = None
        argv = [str(SERVER_BIN), "--socket", self.socket] + private_server_args(self.leak_mode) + self.args
        self.proc = subprocess.Popen(argv,
                                     stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        def ready():
            if self.proc.poll() is not None:
                self.expect_exit = True  # reported here, not again at teardown
                pytest.fail("ttalloc-server exited with %s before accepting connections:\n%s%s"
                            % (self.proc.returncode, self.log(), self.stderr()))
            return can_connect(self.socket)
        wait_until(ready, timeout, what="ttalloc-server to accept on %s" % self.socket)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr(self):
        try:
            return self.err_path.read_text(errors="replace")
        except OSError:
            return ""

    def mark(self):
        """Position in the log; pass it as `since` to look only at later lines."""
        return len(self.log())

    def wait_for_log(self, pattern, timeout=5.0, since=0):
        """Waits until the log (from offset `since`) has a line matching regex
        `pattern`; returns the match."""
        rx = re.compile(pattern, re.M)

        def found():
            m = rx.search(self.log(), since)
            if m is None and self.proc.poll() is not None and not self.expect_exit:
                pytest.fail("ttalloc-server exited (rc %s) while waiting for %r:\n%s%s"
                            % (self.proc.returncode, pattern, self.log(), self.stderr()))
            return m
        return wait_until(found, timeout, what="%r in the server log" % pattern,
                          details=lambda: self.log()[since:][-4000:])

    def query(self, device_id):
        return ttalloc.query_device_stats(device_id, socket_path=self.socket)

    def env(self, tracking=True, extra=None):
        return client_env(self.socket, tracking, extra)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the server and returns its exit code."""
        if self.proc is None:
            return None
        if self.stopped:
            return self.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for f in (self._out, self._err):
            f.close()
        self.returncode = self.proc.returncode
        return self.returncode

    def check_clean_exit(self):
        """Stops the server; fails the test on a crash or sanitizer report."""
        if self.proc is None:
            return  # never started (start() raised)
        died_early = not self.stopped and self.proc.poll() is not None
        rc = self.stop()
        problems = []
        if died_early and not self.expect_exit:
            problems.append("ttalloc-server died during the test (rc %s)" % rc)
        elif rc != 0 and not self.expect_exit:
            problems.append("ttalloc-server exited with %s on SIGTERM" % rc)
        err = self.stderr()
        if re.search(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:", err):
            problems.append("sanitizer report")
        if problems:
            pytest.fail("%s\n--- log ---\n%s\n--- stderr ---\n%s"
                        % ("; ".join(problems), self.log()[-4000:], err[-4000:]))


@pytest.fixture
def short_dir():
    """A private directory with a short path (sun_path holds 107 bytes)."""
    d = tempfile.mkdtemp(prefix="tta", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server_factory(short_dir, tmp_path):
    """start(name="s", args=(), wait=True) -> Server; all stopped at teardown."""
    servers = []

    def start(name="s", args=(), wait=True, socket_path=None, leak_mode=True):
        if not SERVER_BIN.exists():
            pytest.fail("%s is missing: build first (cmake --build %s)" % (SERVER_BIN, BUILD))
        srv = Server(socket_path or short_dir / (name + ".sock"),
                     tmp_path / ("%s-%d.log" % (name, len(servers))), args, leak_mode)
        servers.append(srv)
        return srv.start(wait)

    yield start
    failures = []
    for srv in servers:
        try:
            srv.check_clean_exit()
        except pytest.fail.Exception as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture
def default_socket_lock():
    """Holds a lock so that two test runs never share the default socket."""
    with open("/tmp/ttalloc-tests-default-socket.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pytest.skip("another test run is using %s" % DEFAULT_SOCKET)
        yield
        fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture
def server(server_factory):
    """A ttalloc-server with 2 simulated Wormhole_B0 devices on a temp socket."""
    return server_factory()


@pytest.fixture
def web(server_factory):
    """A server with HTTP on a free loopback port; returns (server, base URL)."""
    server = server_factory(args=["--http", "127.0.0.1:0"])
    return server, dashboard_url(server)


@pytest.fixture
def processes():
    """spawn(argv, env) -> LineProcess; every child is killed at teardown."""
    children = []

    def spawn(argv, env=None, cwd=None):
        p = LineProcess([str(a) for a in argv], env=env, cwd=cwd or str(REPO))
        children.append(p)
        return p

    yield spawn
    for p in children:
        p.close()


# A Python client that reports buffers with ttalloc.Reporter, driven by stdin:
#   alloc DEV TYPE ADDR SIZE | free DEV ADDR | flush   -> "rc=1" / "rc=0"
REPORTER_CLIENT = r"""
import sys, ttalloc
r = ttalloc.Reporter()
print("pid=%d" % __import__("os").getpid(), flush=True)
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    if w[0] == "alloc":
        ok = r.report_alloc(int(w[1]), int(w[2]), int(w[3], 0), int(w[4]))
    elif w[0] == "free":
        ok = r.report_free(int(w[1]), int(w[2], 0))
    elif w[0] == "flush":
        ok = r.flush()
    else:
        ok = False
    print("rc=%d" % ok, flush=True)
"""


@pytest.fixture
def reporter_client(processes):
    """reporter_client(server) -> LineProcess running REPORTER_CLIENT."""
    def spawn(srv, extra_env=None):
        p = processes([sys.executable, "-c", REPORTER_CLIENT], env=srv.env(extra=extra_env))
        p.expect(r"^pid=\d+")
        return p
    return spawn


def smi(server, *args, check=True, timeout=30):
    """tt_smi with `args` against `server`'s socket: the finished process
    (returncode, stdout, stderr). With `check`, it must exit 0."""
    res = subprocess.run([str(SMI_BIN), "--socket", server.socket] + list(args), capture_output=True,
                         text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def raw_socket(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s


def recv_frame(sock):
    """The next frame from the server, as ttalloc.protocol.unpack_header's dict."""
    return ttalloc.protocol.unpack_header(recv_exact(sock, ttalloc.protocol.MSG_SIZE))


def unread_bytes(sock):
    """Memory of what `sock` sent that its peer has not read yet (SIOCOUTQ of a
    Unix stream socket: a chunk counts until the peer has read all of it)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def wait_read_by_peer(sock, timeout=5.0):
    """Waits until the server has read everything sent on `sock`: bytes sent
    after this arrive in a later read than those sent before (how a test
    splits a frame across reads without sleeping)."""
    wait_until(lambda: unread_bytes(sock) == 0, timeout, interval=0.001,
               what="the server to read what this socket sent")


def preload_env(env, libraries):
    """Puts `libraries` in env's LD_PRELOAD. In a sanitized build the
    sanitizer runtimes go first (a program built without them gets an
    instrumented library preloaded) and leak checks are off."""
    preload = [str(lib) for lib in libraries]
    if SANITIZED:
        runtimes = []
        for lib in ("libasan.so", "libubsan.so"):  # ASan's runtime first of all
            path = subprocess.run(["gcc", "-print-file-name=" + lib], capture_output=True,
                                  text=True).stdout.strip()
            if os.path.isabs(path):
                runtimes.append(path)
        preload = runtimes + preload
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    env["LD_PRELOAD"] = " ".join(preload)
    return env


def compile_c(sources, output, extra_flags=(), libs=()):
    """Compiles C sources with the system cc (sanitized like the build)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler (cc) installed")
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L", "-g"]
    if SANITIZED:
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    elif TSAN:
        flags += ["-fsanitize=thread", "-fno-omit-frame-pointer"]
    cmd = [cc] + flags + list(extra_flags) + [str(s) for s in sources] + ["-o", str(output)] + list(libs)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        pytest.fail("compiling %s failed:\n%s\n%s" % (sources, " ".join(cmd), res.stderr))
    return output


def build_c_client(tmp_path_factory, source):
    """Compiles tests/integration/SOURCE (a client of libttalloc) with -O0 -g,
    so its call sites and line numbers stay as written; returns the program."""
    exe = tmp_path_factory.mktemp(Path(source).stem) / Path(source).stem
    return compile_c([REPO / "tests/integration" / source], exe, ["-I", str(REPO / "include"), "-O0"],
                     ["-L", str(LIB_DIR), "-lttalloc", "-Wl,-rpath," + str(LIB_DIR)])


def seed_code_blocks(text):
    """Fenced code blocks of a Markdown text as (language, body) pairs; the
    body is the lines between the fences, each with its newline."""
    blocks, lang, body = [], None, []
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if lang is None:
            if stripped.startswith("```"):
                lang, body = stripped[3:].strip(), []
        elif stripped == "```":
            blocks.append((lang, "".join(body)))
            lang = None
        else:
            body.append(line)
    return blocks


# The three `python -c` programs of the seed's Multi-Process Example,
# verbatim (test_seed_copies.py checks them against the seed document).
SEED_PROCESS_A = """
import tt_metal as ttm

device = ttm.CreateDevice(0)
buffer1 = ttm.Buffer(device, size=1024*1024*100, buffer_type=ttm.BufferType.DRAM)
print('Process A: Allocated 100MB DRAM on device 0')

import time
time.sleep(60)  # Keep process alive
"""

SEED_PROCESS_B = """
import tt_metal as ttm

device = ttm.CreateDevice(0)
buffer1 = ttm.Buffer(device, size=1024*1024*200, buffer_type=ttm.BufferType.DRAM)
print('Process B: Allocated 200MB DRAM on device 0')

import time
time.sleep(60)
"""

SEED_PROCESS_C = """
import tt_metal as ttm

device = ttm.CreateDevice(1)
buffer1 = ttm.Buffer(device, size=1024*1024*150, buffer_type=ttm.BufferType.L1)
print('Process C: Allocated 150MB L1 on device 1')

import time
time.sleep(60)
"""

SEED_PROCESSES = (SEED_PROCESS_A, SEED_PROCESS_B, SEED_PROCESS_C)
