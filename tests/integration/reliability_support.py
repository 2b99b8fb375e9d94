"""Helpers for the reliability tests (issue 5): Prometheus counters of a test
server, the c_stress program, processes run as another user, /proc readings."""

import os
import pwd
import re
import shutil

import pytest

from conftest import BUILD, LIB_DIR, REPO, TSAN, compile_c, server_supports
from http_support import dashboard_url, get

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# TSan: a child forked from a threaded parent starts its own watcher thread,
# which TSan refuses by default (die_after_fork); reports make the exit code 66.
TSAN_OPTIONS = "die_after_fork=0 exitcode=66 halt_on_error=0"


def metrics(server):
    """{(name, ((label, value), ...)): float} from GET /metrics, or None when
    this server has no HTTP endpoint."""
    if not server_supports("--http") or "--no-http" in server.args:
        return None
    r = get(dashboard_url(server) + "metrics")
    assert r.status == 200, r.body[:200]
    out = {}
    for line in r.body.decode().splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, line
        labels = tuple(sorted(LABEL_RE.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(server, name, **labels):
    """One sample's value (0 when absent), or None without /metrics."""
    values = metrics(server)
    if values is None:
        return None
    return values.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def protocol_errors(server, reason):
    return metric(server, "ttalloc_protocol_errors_total", reason=reason)


def assert_counter(server, name, expected, **labels):
    """Asserts a counter when the server has /metrics (the log is checked anyway)."""
    value = metric(server, name, **labels)
    if value is not None:
        assert value == expected, "%s%s = %s, expected %s" % (name, labels, value, expected)


@pytest.fixture(scope="session")
def c_stress_exe(tmp_path_factory):
    if not (LIB_DIR / "libttalloc.so").exists():
        pytest.fail("%s/libttalloc.so is missing: build first (cmake --build %s)" % (LIB_DIR, BUILD))
    exe = tmp_path_factory.mktemp("cstress") / "c_stress"
    return compile_c([REPO / "tests/integration/c_stress.c"], exe,
                     ["-I", str(REPO / "include"), "-pthread"],
                     ["-L", str(LIB_DIR), "-lttalloc", "-Wl,-rpath," + str(LIB_DIR), "-pthread"])


def stress_env(server, extra=None):
    env = server.env(extra=extra)
    if TSAN:
        env["TSAN_OPTIONS"] = TSAN_OPTIONS
    return env


def assert_no_tsan_report(lines):
    text = "\n".join(lines)
    assert "ThreadSanitizer" not in text, text[-6000:]


def assert_quits_cleanly(p):
    """The stress client `p` exits 0 (a ThreadSanitizer report, exit 66, is shown first)."""
    status = p.wait(30)
    assert_no_tsan_report(p.lines)
    assert status == 0, "\n".join(p.lines[-40:])


def other_user():
    """(uid, gid) of an unprivileged account for setpriv, or skip."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    for name in ("nobody", "daemon"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    pytest.skip("no unprivileged account (nobody, daemon)")


def as_user(uid, gid, argv):
    """argv run as uid:gid with no supplementary groups."""
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"] + list(argv)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the soak harness (bench/soak.py) on a test server ----

import sys  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import soak  # noqa: E402


class ServerView:
    """A conftest Server seen the way bench/soak.py's checks see theirs."""

    def __init__(self, server):
        self.server = server
        self.socket = server.socket
        self.tail = soak.LogTail(server.log_path)

    def alive(self):
        return self.server.alive()

    def dump(self, timeout=60.0):
        return soak.dump_remaining(self.socket, self.tail, self.alive, timeout)

    def leak_reports(self, pid):
        return soak.leak_reports(self.tail, pid)


@pytest.fixture(scope="session")
def producer_exe(tmp_path_factory):
    if not (LIB_DIR / "libttalloc.so").exists():
        pytest.fail("%s/libttalloc.so is missing: build first (cmake --build %s)" % (LIB_DIR, BUILD))
    return soak.compile_producer(BUILD, tmp_path_factory.mktemp("producer"))


@pytest.fixture
def producers(producer_exe, tmp_path):
    """start(server, ident, events, phases, max_live, seed=1) -> soak.Producer; killed at teardown."""
    started = []

    def start(server, ident, events, phases, max_live, seed=1):
        p = soak.Producer(producer_exe, ident, seed, events, phases, max_live, tmp_path, stress_env(server))
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()
