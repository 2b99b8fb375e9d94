"""A real Prometheus (Debian's /usr/bin/prometheus) for the fleet tests:
started on a free loopback port with a configuration and rule files the
test gives, queried through its HTTP API, stopped at teardown.

Missing prometheus skips the test outside CI and fails it under CI=true
(http_support.tool)."""

import json
import signal
import subprocess
import urllib.parse

import pytest

from http_support import free_port, get, tool, wait_for


class Prometheus:
    """One running Prometheus; `base` is its URL ("http://127.0.0.1:PORT/")."""

    def __init__(self, workdir, config, rule_files=()):
        self.binary = tool("prometheus", "/usr/bin/prometheus")
        self.workdir = workdir
        self.port = free_port()
        self.base = "http://127.0.0.1:%d/" % self.port
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(config)
        self.log_path = workdir / "prometheus.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--config.file=%s" % (workdir / "prometheus.yml"),
             "--storage.tsdb.path=%s" % (workdir / "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._ready, 30, interval=0.1, what="prometheus to be ready")

    def _ready(self):
        if self.proc.poll() is not None:
            pytest.fail("prometheus exited (rc %s):\n%s" % (self.proc.returncode, self.log_text()))
        try:
            return get(self.base + "-/ready", timeout=1).status == 200
        except OSError:
            return False

    def log_text(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def api(self, path, **params):
        """The `data` of a successful API answer; fails the test on an error."""
        r = get(self.base + path + "?" + urllib.parse.urlencode(params), timeout=10)
        doc = json.loads(r.body)
        assert r.status == 200 and doc["status"] == "success", (path, params, r.status, doc)
        return doc["data"]

    def query(self, expr):
        """An instant query's result list (vector samples)."""
        return self.api("api/v1/query", query=expr)["result"]

    def targets_up(self, count):
        """The active targets once `count` of them are up (else a false value)."""
        targets = self.api("api/v1/targets")["activeTargets"]
        up = [t for t in targets if t["health"] == "up"]
        return up if len(up) >= count else None

    def wait_targets_up(self, count, timeout=30):
        return wait_for(lambda: self.targets_up(count), timeout, interval=0.2,
                        what="%d prometheus targets to be up" % count)

    def wait_query(self, expr, check, timeout=30, what=None):
        """Polls `expr` until check(result) is true; returns the result."""
        last = []

        def done():
            last[:] = [self.query(expr)]
            return check(last[0]) and last[0]
        return wait_for(done, timeout, interval=0.2, what=what or "PromQL %s" % expr)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def prometheus_factory(tmp_path):
    """start(config_text, name="prom") -> Prometheus; all stopped at teardown."""
    started = []

    def start(config, name="prom"):
        p = Prometheus(tmp_path / name, config)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def scrape_config(job, targets, interval="1s", extra=""):
    """A scrape_configs entry for static `targets` ("host:port" strings)."""
    return ("  - job_name: %s\n    scrape_interval: %s\n    scrape_timeout: %s\n%s"
            "    static_configs:\n      - targets: [%s]\n"
            % (job, interval, interval, extra, ", ".join("'%s'" % t for t in targets)))


def bcrypt_hash(password, cost=4):
    """A bcrypt hash with the system's libcrypt (the server's own checker), through ctypes."""
    import ctypes
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2y$", cost, None, 0)
    return lib.crypt(password.encode(), salt).decode()


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 and localhost (openssl); returns (cert, key) paths."""
    openssl = tool("openssl")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=30)
    return cert, key

