"""pytest plugin: fail a test that leaves device memory allocated.

    pytest --ttalloc-leaks tests/                # installed package: loaded by its pytest11 entry point
    pytest -p ttalloc.pytest_plugin --ttalloc-leaks tests/   # from a checkout (PYTHONPATH=python)

(or `ttalloc_leaks = true` in the [pytest] ini section). With the option,
the plugin turns tracking on for the test process (TT_ALLOC_TRACKING_ENABLED=1,
before the tests are imported), checks that the allocation server answers
(else pytest stops with a usage error naming the socket), and around every
test reads this process's use of each device from the server (its rows in
processes(), after flushing the reporter so the server has applied every
report): once before the test's setup and once after its teardown. A test
after which this process holds more of some buffer type on some device than
before fails, listing device, type and bytes (and the buffers, when this
process reported them through ttalloc.Reporter, as the simulated tt_metal does):

    test_model.py ....L.
    ttalloc: test left device memory allocated: 3145728 bytes (3.00 MB) held by this process ...
      device 0 DRAM: 3145728 bytes (3.00 MB)
    buffers this process reported and did not free:
      [Device 0] Buffer 0x291c0800000000: 3145728 bytes DRAM
    LEAKED test_model.py::test_forward - ttalloc: test left 3.00 MB of device memory allocated (device 0 DRAM 3.00 MB)

The failure is the test's teardown report (outcome "failed", shown as L /
LEAKED), so pytest counts the test's passing call and its failing teardown:
"1 failed, 5 passed" for 5 tests of which one leaked; the exit status is 1.

Memory taken by module-, class- or session-scoped fixtures set up during the
test is not counted against it (they outlive the test by design); their
release at the end shows as a decrease, which never fails. A test marked
@pytest.mark.ttalloc_allow_leaks is measured but never fails.

Only this process is measured: buffers of child processes are theirs (run the
suite under ttalloc-run to gate on those).
"""

import ctypes
import os
import types
import warnings

import pytest

from . import connection, protocol
from .connection import ServerError
from .query import format_bytes, is_server_running, processes
from .reporter import default_reporter

# ProcessDevice fields and the buffer type names they stand for
_KINDS = (("dram_allocated", "DRAM"), ("l1_allocated", "L1"), ("l1_small_allocated", "L1_SMALL"),
          ("trace_allocated", "TRACE"), ("cb_allocated", "CB"), ("system_memory_allocated", "SYSTEM_MEMORY"))
MARKER = "ttalloc_allow_leaks"


def pytest_addoption(parser):
    group = parser.getgroup("ttalloc", "device memory leak check (ttalloc)")
    group.addoption("--ttalloc-leaks", action="store_true", default=False,
                    help="fail a test that leaves device memory allocated by this process "
                         "(asks the ttalloc allocation server; turns TT_ALLOC_TRACKING_ENABLED on)")
    parser.addini("ttalloc_leaks", type="bool", default=False,
                  help="same as --ttalloc-leaks")


def pytest_configure(config):
    config.addinivalue_line("markers", MARKER + ": measure device memory but never fail the "
                            "test for what it leaves allocated (--ttalloc-leaks)")
    if config.getoption("ttalloc_leaks") or config.getini("ttalloc_leaks"):
        config.pluginmanager.register(LeakChecker(config), "ttalloc-leak-checker")


def _c_flush():
    """ttalloc_flush() of a libttalloc loaded globally in this process, if any."""
    try:
        fn = ctypes.CDLL(None).ttalloc_flush
    except (AttributeError, OSError):
        return
    fn.restype = ctypes.c_int
    fn()


class LeakRepr:
    """The failure text of a leaking test. `reprcrash.message` is the one-line
    summary pytest shows in its short test summary (-r) and junit XML."""

    def __init__(self, summary, text):
        self.reprcrash = types.SimpleNamespace(message=summary, path="", lineno=0)
        self.text = text

    def toterminal(self, tw):
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith("ttalloc:"))

    def __str__(self):
        return self.text


class LeakChecker:
    """Measures this process's device memory around each test."""

    def __init__(self, config):
        self.config = config
        self.pid = os.getpid()
        self.current = None      # the item being run
        self.broken = None       # why measuring stopped working, once
        if os.environ.get(protocol.TRACKING_ENV) != "1":
            os.environ[protocol.TRACKING_ENV] = "1"
        reporter = default_reporter()
        reporter.enabled = True
        if not is_server_running():
            raise pytest.UsageError(
                "--ttalloc-leaks: cannot reach the allocation server at %s: start ttalloc-server "
                "(or run the tests under ttalloc-run, or set TT_ALLOC_SERVER_SOCKET)"
                % connection.socket_path)

    def pytest_report_header(self, config):
        return "ttalloc: device memory leak check on (server %s, pid %d)" % (
            connection.socket_path, self.pid)

    # ---- measuring ----

    def measure(self):
        """{(device_id, type name): bytes} this process holds, or None when the
        server cannot be asked (the check is then skipped, with one warning)."""
        if self.broken:
            return None
        default_reporter().flush()
        _c_flush()
        try:
            rows = processes()
        except (OSError, ServerError) as e:
            self.broken = str(e)
            warnings.warn(pytest.PytestWarning("--ttalloc-leaks: leak check stopped: %s" % e))
            return None
        usage = {}
        for proc in rows:
            if proc.pid != self.pid:
                continue
            for dev in proc.devices:
                for key, name in _KINDS:
                    if getattr(dev, key):
                        usage[(dev.device_id, name)] = getattr(dev, key)
        return usage

    @staticmethod
    def _add(into, before, after):
        for k in set(before) | set(after):
            into[k] = into.get(k, 0) + after.get(k, 0) - before.get(k, 0)

    # ---- hooks ----

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.current = item
        item._ttalloc_before = self.measure()
        item._ttalloc_fixtures = {}   # what broader-scoped fixtures took meanwhile
        item._ttalloc_table = set(default_reporter().live_table())
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        item = self.current
        if (fixturedef.scope == "function" or item is None
                or getattr(item, "_ttalloc_before", None) is None):
            yield
            return
        before = self.measure()
        yield
        after = self.measure()
        if before is not None and after is not None:
            self._add(item._ttalloc_fixtures, before, after)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "teardown":
            return
        self.current = None
        before = getattr(item, "_ttalloc_before", None)
        after = self.measure() if before is not None else None
        if after is None:
            return
        left = {}
        self._add(left, before, after)
        self._add(left, item._ttalloc_fixtures, {})  # minus the fixtures' share
        left = {k: v for k, v in left.items() if v > 0}
        if not left or item.get_closest_marker(MARKER) is not None:
            return
        report = outcome.get_result()
        report.outcome = "failed"
        report.longrepr = LeakRepr(self._summary(left), self._message(item, left))
        report.ttalloc_leak = sorted(left.items())

    def pytest_report_teststatus(self, report, config):
        if getattr(report, "ttalloc_leak", None) and report.when == "teardown":
            return "failed", "L", "LEAKED"
        return None

    @staticmethod
    def _summary(left):
        total = sum(left.values())
        parts = ", ".join("device %d %s %s" % (dev, name, format_bytes(n))
                          for (dev, name), n in sorted(left.items()))
        return "ttalloc: test left %s of device memory allocated (%s)" % (
            format_bytes(total), parts)

    def _message(self, item, left):
        total = sum(left.values())
        lines = ["ttalloc: test left device memory allocated: %d bytes (%s) held by this "
                 "process (pid %d) after its teardown that it did not hold before its setup:"
                 % (total, format_bytes(total), self.pid)]
        for (dev, name), n in sorted(left.items()):
            lines.append("  device %d %s: %d bytes (%s)" % (dev, name, n, format_bytes(n)))
        table = default_reporter().live_table()
        new = sorted((k, v) for k, v in table.items() if k not in item._ttalloc_table)
        if new:
            lines.append("buffers this process reported and did not free:")
            for (dev, addr), (btype, size) in new[:10]:
                lines.append("  [Device %d] Buffer 0x%x: %d bytes %s"
                             % (dev, addr, size, protocol.buffer_type_name(btype)))
            if len(new) > 10:
                lines.append("  ... and %d more" % (len(new) - 10))
        lines.append("Free them before the test ends (Buffer.deallocate(), CloseDevice(), a "
                     "fixture's teardown), or mark the test @pytest.mark.%s." % MARKER)
        return "\n".join(lines)
