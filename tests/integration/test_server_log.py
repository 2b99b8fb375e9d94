"""What the server says, and to whom (issue 15): connections that only ask
questions are logged at debug level, a client's own TT_METAL_LOGGER_LEVEL
asks for its events in detail, and under systemd's journal every line
carries its syslog priority."""

import os
import re
import subprocess
import sys

from conftest import BIN, MiB

LOAD = str(BIN / "ttalloc-load")

QUERY_ONLY = """
import os, sys
import ttalloc
print(os.getpid(), flush=True)
ttalloc.query_device_stats(0, socket_path=sys.argv[1])
ttalloc.processes(socket_path=sys.argv[1])
"""


def run_load(server, extra=None, *args):
    """ttalloc-load holding one 1 MiB DRAM buffer for a moment; returns its pid."""
    res = subprocess.run([LOAD, "-n", "1", "-s", "1M", "--hold-ms", "50", "-q"] + list(args),
                         env=server.env(extra=extra), capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    return int(re.search(r"pid (\d+)", res.stdout).group(1))


def test_a_connection_that_only_queries_is_logged_at_debug_level(server):
    res = subprocess.run([sys.executable, "-c", QUERY_ONLY, server.socket], env=server.env(),
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    monitor = int(res.stdout.split()[0])
    reporter = run_load(server)
    # the reporter's lines come after the monitor's would have: once they are in, the monitor's are not
    server.wait_for_log(r"^📤 Process %d \(\S+\) disconnected, no buffers left" % reporter)
    log = server.log()
    assert re.search(r"^📥 New connection from client \(PID %d, " % reporter, log, re.M)
    assert "PID %d," % monitor not in log
    assert "Process %d " % monitor not in log


def test_a_monitor_is_logged_at_debug_level_when_asked(server_factory):
    srv = server_factory("debug", args=["--log-level", "debug"])
    res = subprocess.run([sys.executable, "-c", QUERY_ONLY, srv.socket], env=srv.env(),
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    monitor = int(res.stdout.split()[0])
    srv.wait_for_log(r"^📥 New connection from client \(PID %d, " % monitor)
    srv.wait_for_log(r"^📤 Process %d \(\S+\) disconnected, no buffers left" % monitor)


def test_a_clients_tt_metal_logger_level_debug_shows_its_events_in_detail(server_factory):
    # the seed: TT_METAL_LOGGER_LEVEL=Debug in the application's terminal;
    # the server itself runs quiet (warnings only)
    srv = server_factory("quiet", args=["--quiet"])
    plain = run_load(srv)
    detailed = run_load(srv, {"TT_METAL_LOGGER_LEVEL": "Debug"})
    srv.wait_for_log(r"^\[Device 0\] ALLOC: %d bytes DRAM by PID %d \(buffer 0x[0-9a-f]+\)\n"
                     r"  └─ Stack trace: \[enabled with TT_ALLOC_STACK_TRACE=1\]$" % (MiB, detailed))
    srv.wait_for_log(r"^\[Device 0\] FREE: buffer 0x[0-9a-f]+ by PID %d$" % detailed)
    log = srv.log()
    assert re.search(r"^📥 New connection from client \(PID %d, " % detailed, log, re.M)
    assert "PID %d" % plain not in log  # the quiet server says nothing about the other one


def test_lines_carry_their_priority_in_the_journal(server_factory, tmp_path, monkeypatch):
    # systemd names the stream in $JOURNAL_STREAM (device:inode); the server
    # prefixes <N> only when its stdout is that stream
    log = tmp_path / "journal-0.log"
    log.touch()
    st = os.stat(log)
    monkeypatch.setenv("JOURNAL_STREAM", "%d:%d" % (st.st_dev, st.st_ino))
    srv = server_factory("journal")
    assert srv.log_path == log
    leaker = subprocess.run([LOAD, "-n", "1", "-s", "1M", "-p", "leak", "-q"], env=srv.env(),
                            capture_output=True, text=True, timeout=30)
    assert leaker.returncode == 0, leaker.stderr
    srv.wait_for_log(r"^<4>⚠️  Process \d+ exited but left 1 buffer allocated:$")
    # (the start-up banner is plain text: journald gives it the default, info)
    assert re.search(r"^<6>\[Device 0\] ALLOC: ", srv.log(), re.M)


def test_no_priorities_when_stdout_is_not_the_journal(server_factory, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")  # some other stream
    srv = server_factory("notjournal")
    assert "<6>" not in srv.log() and "Server ready!" in srv.log()
