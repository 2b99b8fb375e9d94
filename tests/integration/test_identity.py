"""Kernel credentials decide who is who (issue 5, guarantee 5): forged pids,
FREEs of other processes' buffers, DUMP_REMAINING and LEAK_QUERY for other
users' data are rejected, counted (ttalloc_protocol_errors_total) and logged
with the sender's real pid; mistakes of a process with its own buffers
(double free, free of an unknown address, second ALLOC at a live address)
are counted and reported while the totals stay right. Clients of another
user run under setpriv as root."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import MiB, PYTHON_DIR, raw_socket, sync, process_rows
from reliability_support import as_user, assert_counter, other_user, protocol_errors
import ttalloc
from ttalloc import protocol


def dram(server, dev=0):
    return server.query(dev)["dram_allocated"]


@pytest.fixture
def owner(server, reporter_client):
    """A process holding 4 MiB DRAM at 0x800000000 on device 0."""
    p = reporter_client(server)
    assert p.command("alloc 0 0 0x800000000 %d" % (4 * MiB)).group(1) == "1"
    assert p.command("flush").group(1) == "1"
    return p


def test_forged_pid_and_foreign_free_are_rejected_counted_and_logged_with_the_real_pid(server, owner):
    mark = server.mark()
    me = os.getpid()
    with raw_socket(server.socket) as s:
        # frames claiming to come from the owner
        s.sendall(protocol.pack(protocol.FREE, 0, process_id=owner.pid, buffer_id=0x800000000))
        s.sendall(protocol.pack(protocol.ALLOC, 0, size=MiB, buffer_type=ttalloc.DRAM, process_id=owner.pid,
                                buffer_id=0x900000000))
        # an honest frame freeing the owner's buffer
        s.sendall(protocol.pack(protocol.FREE, 0, process_id=me, buffer_id=0x800000000))
        sync(s)
        server.wait_for_log(r"❌ PID %d: process_id differs from the connection's real PID: FREE claims PID %d "
                            r"but the connection belongs to PID %d \(SO_PEERCRED\); rejected"
                            % (me, owner.pid, me), since=mark)
        server.wait_for_log(r"❌ PID %d: .*: ALLOC claims PID %d" % (me, owner.pid), since=mark)
        server.wait_for_log(r"❌ PID %d: FREE of a buffer owned by another process: FREE of buffer 0x800000000 "
                            r"on device 0, which PID %d owns; rejected" % (me, owner.pid), since=mark)
        assert_counter(server, "ttalloc_protocol_errors_total", 2, reason="pid_mismatch")
        assert_counter(server, "ttalloc_protocol_errors_total", 1, reason="foreign_free")
    # nothing changed: the owner still holds its buffer, nobody else holds anything
    assert dram(server) == 4 * MiB
    rows = process_rows(server.socket)
    assert [(r["pid"], r["buffer_count"]) for r in rows] == [(owner.pid, 1)]


def test_own_mistakes_are_counted_and_reported_and_totals_stay_right(server):
    mark = server.mark()
    me = os.getpid()
    with raw_socket(server.socket) as s:
        def send(kind, addr, size=0):
            s.sendall(protocol.pack(kind, 0, size=size, buffer_type=ttalloc.DRAM, buffer_id=addr))
        send(protocol.ALLOC, 0x800000000, MiB)
        send(protocol.FREE, 0x800000000)
        send(protocol.FREE, 0x800000000)          # double free
        send(protocol.FREE, 0x123000)             # never allocated
        send(protocol.ALLOC, 0x900000000, MiB)
        send(protocol.ALLOC, 0x900000000, 3 * MiB)  # second ALLOC at a live address
        sync(s)
        assert dram(server) == 3 * MiB
        st = ttalloc.device_status(0, socket_path=server.socket)
        assert st.buffer_count == 1
        server.wait_for_log(r"❌ PID %d: FREE of an address with no live buffer: FREE of buffer 0x800000000 on "
                            r"device 0: no live buffer there \(double free, or never reported\)" % me, since=mark)
        server.wait_for_log(r"❌ PID %d: FREE of an address with no live buffer: FREE of buffer 0x123000" % me,
                            since=mark)
        server.wait_for_log(r"❌ PID %d: ALLOC at an address this process holds live: buffer 0x900000000 on "
                            r"device 0 was already live; its FREE was never reported \(record replaced\)" % me,
                            since=mark)
        assert_counter(server, "ttalloc_protocol_errors_total", 2, reason="unknown_free")
        assert_counter(server, "ttalloc_protocol_errors_total", 1, reason="duplicate_alloc")
        send(protocol.FREE, 0x900000000)
        sync(s, 2)
    assert dram(server) == 0
    assert process_rows(server.socket) == []


# A client run as another user: reports one buffer, asks for DUMP_REMAINING
# and for the leaks of PID argv[2], tries to free the root process's buffer
# and to pose as it, then waits on stdin (so it is alive while checked).
OTHER_USER_CLIENT = r"""
import os, sys, ttalloc
from ttalloc import protocol
sock_path, victim, owner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = ttalloc.Reporter(socket_path=sock_path)
assert r.report_alloc(1, ttalloc.L1, 0x40000, 8192) and r.flush()
ttalloc.dump_remaining(socket_path=sock_path)
print("leaks", len(ttalloc.leaks(pid=victim, socket_path=sock_path)), flush=True)
assert r.report_free(0, 0x800000000)       # the root process's buffer
r._sock.sendall(protocol.pack(protocol.ALLOC, 0, size=4096, buffer_type=0, process_id=owner,
                              buffer_id=0xdead0000))
assert r.flush()
print("pid", os.getpid(), flush=True)
sys.stdin.readline()
"""


def test_another_user_sees_only_its_own_data_and_cannot_touch_others(short_dir, server_factory, reporter_client,
                                                                    processes):
    uid, gid = other_user()
    os.chmod(short_dir, 0o755)  # let the other user reach the socket (mode 0666 below)
    server = server_factory(args=["--socket-mode", "0666"])
    owner = reporter_client(server)
    assert owner.command("alloc 0 0 0x800000000 %d" % (4 * MiB)).group(1) == "1"
    assert owner.command("flush").group(1) == "1"
    victim = reporter_client(server)  # root's process that leaks
    assert victim.command("alloc 0 1 0x20000 %d" % MiB).group(1) == "1"
    assert victim.command("flush").group(1) == "1"
    victim.kill(signal.SIGKILL)
    server.wait_for_log(r"Process %d exited but left 1 buffer allocated" % victim.pid)
    assert len(ttalloc.leaks(pid=victim.pid, socket_path=server.socket)) == 1  # root sees it
    mark = server.mark()
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), PYTHONDONTWRITEBYTECODE="1", HOME="/")
    env.pop("TT_ALLOC_SERVER_SOCKET", None)
    other = processes(as_user(uid, gid, [sys.executable, "-c", OTHER_USER_CLIENT, server.socket,
                                         str(victim.pid), str(owner.pid)]), env=env)
    assert other.expect(r"^leaks (\d+)$", timeout=20).group(1) == "0"
    other_pid = int(other.expect(r"^pid (\d+)$", timeout=20).group(1))
    # DUMP_REMAINING: its own buffer only; the rest withheld, counted, logged with the real pid
    head = server.wait_for_log(r"^📋 Remaining buffers \(requested by PID %d\):$" % other_pid, since=mark)
    end = server.wait_for_log(r"^    1 buffer listed$", since=head.end())
    block = server.log()[head.end():end.start()]
    assert "Buffer 0x40000: 8192 bytes L1 by PID %d" % other_pid in block
    assert "0x800000000" not in block
    server.wait_for_log(r"❌ PID %d: request for another user's buffers \(not shown\): DUMP_REMAINING from uid "
                        r"%d: 1 buffers of other users not listed" % (other_pid, uid), since=mark)
    server.wait_for_log(r"❌ PID %d: request for another user's buffers \(not shown\): LEAK_QUERY from uid %d "
                        r"for PID %d: 1 leaked buffers of another user not shown" % (other_pid, uid, victim.pid),
                        since=mark)
    server.wait_for_log(r"❌ PID %d: FREE of a buffer owned by another process: FREE of buffer 0x800000000 on "
                        r"device 0, which PID %d owns; rejected" % (other_pid, owner.pid), since=mark)
    server.wait_for_log(r"❌ PID %d: .*ALLOC claims PID %d but the connection belongs to PID %d"
                        % (other_pid, owner.pid, other_pid), since=mark)
    assert_counter(server, "ttalloc_protocol_errors_total", 2, reason="foreign_query")
    assert_counter(server, "ttalloc_protocol_errors_total", 1, reason="foreign_free")
    assert_counter(server, "ttalloc_protocol_errors_total", 1, reason="pid_mismatch")
    # the root process keeps its buffer; the other user's one buffer is its own
    rows = {r["pid"]: r for r in process_rows(server.socket)}
    assert (rows[owner.pid]["buffer_count"], rows[owner.pid]["dram_allocated"]) == (1, 4 * MiB)
    assert (rows[other_pid]["uid"], rows[other_pid]["buffer_count"], rows[other_pid]["l1_allocated"]) == (uid, 1, 8192)
    assert server.query(0)["dram_allocated"] == 4 * MiB
    # its own leak is visible to it; root's is not
    other.kill(signal.SIGKILL)
    server.wait_for_log(r"Process %d exited but left 1 buffer allocated" % other_pid)
    code = ("import sys, ttalloc; print(len(ttalloc.leaks(pid=int(sys.argv[2]), socket_path=sys.argv[1])), "
            "len(ttalloc.leaks(socket_path=sys.argv[1])))")
    res = subprocess.run(as_user(uid, gid, [sys.executable, "-c", code, server.socket, str(other_pid)]),
                         env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "1"]  # its leak; "all" means all of its own
    assert protocol_errors(server, "foreign_query") in (None, 2.0)  # asking for "all" is no offence
