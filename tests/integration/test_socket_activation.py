"""systemd socket activation and sd_notify, the way systemd does them: the
test creates the listening socket, forks, and in the child puts it on fd 3,
sets LISTEN_FDS=1 and LISTEN_PID=<the child's own pid> and execs the
server; NOTIFY_SOCKET is a Unix datagram socket of the test that must
receive READY=1, WATCHDOG=1 and STOPPING=1."""

import os
import signal
import socket
import time

import pytest

from conftest import MiB, SERVER_BIN, private_server_args, recv_exact, wait_until
import ttalloc


class ActivatedServer:
    """ttalloc-server started with a passed listening socket (fd 3)."""

    def __init__(self, listen_sock, log_path, env_extra=None, args=(), listen_pid="self"):
        self.log_path = log_path
        log_fd = os.open(str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        argv = [str(SERVER_BIN)] + private_server_args() + list(args)
        pid = os.fork()
        if pid == 0:  # the child: as systemd's exec does it
            try:
                os.dup2(log_fd, 1)
                os.dup2(log_fd, 2)
                fd = listen_sock.fileno()
                if fd == 3:
                    os.set_inheritable(3, True)
                else:
                    os.dup2(fd, 3)  # dup2 makes fd 3 inheritable
                env = dict(os.environ)
                env.update(env_extra or {})
                env["LISTEN_FDS"] = "1"
                env["LISTEN_PID"] = str(os.getpid()) if listen_pid == "self" else str(listen_pid)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(log_fd)
        self.pid = pid
        self.returncode = None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=10.0):
        wait_until(lambda: self.poll() is not None, timeout, what="ttalloc-server to exit")
        return self.returncode

    def stop(self, sig=signal.SIGTERM):
        if self.poll() is None:
            os.kill(self.pid, sig)
            try:
                return self.wait()
            except BaseException:
                os.kill(self.pid, signal.SIGKILL)
                raise
        return self.returncode


@pytest.fixture
def activated(short_dir, tmp_path):
    """start(listen_sock, env_extra=None, args=(), listen_pid="self") -> ActivatedServer."""
    started = []

    def start(listen_sock, env_extra=None, args=(), listen_pid="self"):
        srv = ActivatedServer(listen_sock, tmp_path / ("server-%d.log" % len(started)), env_extra,
                              args, listen_pid)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.poll() is None:
            os.kill(srv.pid, signal.SIGKILL)
            srv.wait()


def listening_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(64)
    return s


def notify_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(10.0)
    return s


def receive(notify, wanted, timeout=10.0):
    """Reads notifications until one holds the line `wanted`; returns all read."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        notify.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = notify.recv(4096).decode()
        except socket.timeout:
            pytest.fail("no %s on NOTIFY_SOCKET within %.0f s; got %r" % (wanted, timeout, got))
        got.append(msg)
        if wanted in msg.split("\n"):
            return got


def test_server_accepts_clients_on_the_socket_systemd_passes(activated, short_dir):
    listen = listening_socket(short_dir / "act.sock")
    notify = notify_socket(short_dir / "notify")
    own = short_dir / "own.sock"  # what --socket names: must not be created
    srv = activated(listen, {"NOTIFY_SOCKET": str(short_dir / "notify")}, ["--socket", str(own)])
    ready = receive(notify, "READY=1")
    assert any("STATUS=Listening on %s, 2 devices" % (short_dir / "act.sock") in m for m in ready), ready
    assert "📡 Server socket from systemd: %s" % (short_dir / "act.sock") in srv.log()
    assert not own.exists()

    path = str(short_dir / "act.sock")
    assert ttalloc.num_devices(socket_path=path) == 2
    # a reporting client goes through the passed socket as through any other
    with ttalloc.Reporter(socket_path=path) as rep:
        assert rep.report_alloc(0, ttalloc.DRAM, 0x800000000, 5 * MiB)
        assert rep.flush()
        assert ttalloc.query_device_stats(0, socket_path=path)["dram_allocated"] == 5 * MiB
        assert rep.report_free(0, 0x800000000) and rep.flush()

    assert srv.stop() == 0
    receive(notify, "STOPPING=1")
    # the socket file belongs to systemd: still there, and still listening
    assert os.path.exists(path)
    assert "left to systemd" in srv.log()
    listen.close()
    notify.close()


def test_clients_wait_in_the_backlog_while_the_server_restarts(activated, short_dir):
    """What socket activation is for: systemd keeps listening between two
    server processes, so a client that connects in between is served by the
    next one instead of failing."""
    listen = listening_socket(short_dir / "act.sock")
    path = str(short_dir / "act.sock")
    first = activated(listen)
    wait_until(lambda: "Server ready" in first.log() or first.poll() is not None,
               what="the first server to be ready")
    assert first.stop() == 0

    early = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    early.connect(path)  # no server running: the connection waits in the backlog
    early.settimeout(10.0)
    early.sendall(ttalloc.protocol.pack(ttalloc.protocol.QUERY, 1))

    second = activated(listen)
    try:
        answer = recv_exact(early)
    except ConnectionError:
        pytest.fail("the restarted server closed the waiting connection:\n" + second.log())
    msg = ttalloc.protocol.unpack_header(answer)
    assert msg["type"] == ttalloc.protocol.RESPONSE and msg["device_id"] == 1
    early.close()
    assert second.stop() == 0
    listen.close()


def test_watchdog_is_pinged_from_the_event_loop(activated, short_dir):
    listen = listening_socket(short_dir / "act.sock")
    notify = notify_socket(short_dir / "notify")
    # (no WATCHDOG_PID: systemd sets it only when the pid differs from the main one)
    srv = activated(listen, {"NOTIFY_SOCKET": str(short_dir / "notify"), "WATCHDOG_USEC": "200000"})
    receive(notify, "READY=1")
    start = time.monotonic()
    receive(notify, "WATCHDOG=1")
    receive(notify, "WATCHDOG=1")
    receive(notify, "WATCHDOG=1")
    assert time.monotonic() - start < 2.0  # every 100 ms (half of WATCHDOG_USEC)
    assert srv.stop() == 0
    listen.close()
    notify.close()


def test_no_notifications_without_watchdog_usec(activated, short_dir):
    listen = listening_socket(short_dir / "act.sock")
    notify = notify_socket(short_dir / "notify")
    srv = activated(listen, {"NOTIFY_SOCKET": str(short_dir / "notify")})
    receive(notify, "READY=1")
    notify.settimeout(0.5)
    with pytest.raises(socket.timeout):
        notify.recv(4096)  # no WATCHDOG=1 when systemd did not ask for one
    assert srv.stop() == 0
    listen.close()
    notify.close()


@pytest.mark.parametrize("kind", ["datagram", "not_listening"])
def test_a_passed_socket_of_the_wrong_kind_is_refused(activated, short_dir, kind):
    if kind == "datagram":
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bad.bind(str(short_dir / "dgram.sock"))
    else:
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.bind(str(short_dir / "idle.sock"))  # bound, never listen()ed
    srv = activated(bad, args=["--socket", str(short_dir / "own.sock")])
    assert srv.wait() == 1
    assert "is not a listening Unix stream socket" in srv.log()
    assert not (short_dir / "own.sock").exists()
    bad.close()


def test_listen_fds_meant_for_another_process_are_ignored(activated, short_dir):
    """LISTEN_PID names another process (variables inherited by mistake):
    the server creates its own socket as usual."""
    listen = listening_socket(short_dir / "act.sock")
    own = short_dir / "own.sock"
    srv = activated(listen, args=["--socket", str(own)], listen_pid=os.getpid())
    wait_until(lambda: own.exists() or srv.poll() is not None, what="the server's own socket")
    assert ttalloc.num_devices(socket_path=str(own)) == 2
    assert "📡 Server socket created: %s" % own in srv.log()
    assert srv.stop() == 0
    assert not own.exists()  # its own socket: removed at exit
    listen.close()
