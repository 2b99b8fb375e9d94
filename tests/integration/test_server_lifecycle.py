"""Starting and stopping the server: one server per socket, stale sockets
replaced, the socket removed on SIGTERM."""

import os
import signal
import socket
import stat
import subprocess

import pytest

from conftest import SERVER_BIN, can_connect, private_server_args
from reliability_support import as_user, other_user
import ttalloc


def run_server_once(socket_path, timeout=10):
    return subprocess.run([str(SERVER_BIN), "--socket", str(socket_path)] + private_server_args(),
                          capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_server_prints_the_seed_banner(server):
    server.wait_for_log(r"Waiting for clients\.\.\.")
    log = server.log()
    for line in ("🚀 Allocation Server starting...",
                 "   Device 0: Wormhole_B0 (12GB DRAM, 1440MB L1)",
                 "   Device 1: Wormhole_B0 (12GB DRAM, 1440MB L1)",
                 "📡 Server socket created: %s" % server.socket,
                 "📡 Listening for connections...",
                 "✅ Server ready!"):
        assert line + "\n" in log, line


def test_second_server_on_the_same_socket_refuses_with_a_clear_message(server):
    res = run_server_once(server.socket)
    assert res.returncode != 0
    assert "another allocation server is already listening on %s" % server.socket in res.stderr
    # the first one is untouched
    assert server.query(0)["dram_allocated"] == 0
    assert stat.S_ISSOCK(os.lstat(server.socket).st_mode)


def test_stale_socket_file_is_replaced(server_factory, short_dir):
    path = short_dir / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # the file stays, nobody listens: a crashed server's leftover
    assert path.exists() and not can_connect(str(path))
    server = server_factory(socket_path=path)
    assert server.query(0)["device_id"] == 0
    assert "📡 Server socket created: %s" % path in server.log()


def test_a_regular_file_at_the_socket_path_is_not_removed(short_dir):
    path = short_dir / "file.sock"
    path.write_text("precious")
    res = run_server_once(path)
    assert res.returncode != 0
    assert "exists and is not a socket" in res.stderr
    assert path.read_text() == "precious"


def test_sigterm_stops_the_server_and_removes_the_socket(server):
    assert os.path.exists(server.socket)
    assert server.stop(signal.SIGTERM) == 0
    assert not os.path.lexists(server.socket)
    assert "👋 Socket %s removed; server stopped." % server.socket in server.log()


def test_sigint_stops_the_server_too(server):
    assert server.stop(signal.SIGINT) == 0
    assert not os.path.lexists(server.socket)


def test_socket_path_too_long_is_refused_clearly(short_dir):
    path = short_dir / ("x" * 120)
    res = run_server_once(path)
    assert res.returncode != 0
    assert "socket path too long" in res.stderr


def test_is_server_running_follows_the_server(server):
    assert ttalloc.is_server_running(server.socket)
    server.stop()
    assert not ttalloc.is_server_running(server.socket)


# ---- a refused configuration: one line, exit 2, nothing else ----

def run_server_with(args, socket_path, user=None):
    argv = [str(SERVER_BIN), "--socket", str(socket_path)] + list(args)
    if user:
        argv = as_user(user[0], user[1], argv)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def assert_refused_alone(res, message):
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == "", "nothing but the error may be printed: %r" % res.stdout
    assert res.stderr == "ttalloc-server: %s\n" % message


@pytest.mark.parametrize("args, message", [
    (["--http", "127.0.0.1:http"], "bad port 'http' in --http 127.0.0.1:http (0..65535; 0 picks a free one)"),
    (["--group", "no_such_group_tt"],
     "unknown group 'no_such_group_tt' (--group); create it (groupadd no_such_group_tt) or name another"),
    (["--devices", "simulated"],
     "unknown device backend 'simulated' (choose auto, sim[:N[:ARCH]], tenstorrent, nvml)"),
    (["--devices", "sim:100"], "bad simulated device count '100' (1..64)"),
])
def test_a_bad_option_is_one_line_and_exit_2_before_the_banner(short_dir, args, message):
    res = run_server_with(args, short_dir / "s.sock")
    assert_refused_alone(res, message)
    assert not os.path.lexists(short_dir / "s.sock")


def test_a_web_config_that_cannot_work_is_refused_before_the_banner(short_dir):
    missing = short_dir / "missing.yml"
    res = run_server_with(["--http", "127.0.0.1:0", "--web-config", str(missing)], short_dir / "s.sock")
    assert_refused_alone(res, "--web-config: cannot read the file %s: No such file or directory" % missing)
    bad = short_dir / "web.yml"
    bad.write_text("tls_server_config:\n  key_fil: x\n")
    res = run_server_with(["--http", "127.0.0.1:0", "--web-config", str(bad)], short_dir / "s.sock")
    assert_refused_alone(res, "--web-config: %s: tls_server_config.key_fil is not supported by ttalloc-server "
                              "(cert_file, key_file, min_version; client certificates are not)" % bad)
    bad.write_text("a: [\n")
    res = run_server_with(["--http", "127.0.0.1:0", "--web-config", str(bad)], short_dir / "s.sock")
    assert res.returncode == 2 and res.stdout == "" and "not valid YAML" in res.stderr
    assert not os.path.lexists(short_dir / "s.sock")


def test_a_socket_directory_that_is_missing_is_refused_before_the_banner(short_dir):
    missing = short_dir / "missing"
    res = run_server_with(["--no-http"], missing / "s.sock")
    assert_refused_alone(res, "socket directory %s: No such file or directory; create it or choose another "
                              "--socket" % missing)


def test_a_socket_directory_that_is_a_file_is_refused_before_the_banner(short_dir):
    (short_dir / "file").write_text("")
    res = run_server_with(["--no-http"], short_dir / "file" / "s.sock")
    assert_refused_alone(res, "socket directory %s is not a directory; choose another --socket"
                         % (short_dir / "file"))


def test_a_socket_directory_we_may_not_write_is_refused_before_the_banner(short_dir):
    uid, gid = other_user()
    locked = short_dir / "locked"
    locked.mkdir()
    os.chmod(short_dir, 0o755)
    os.chmod(locked, 0o755)  # root's: the other user may enter, not create
    res = run_server_with(["--no-http"], locked / "s.sock", user=(uid, gid))
    assert_refused_alone(res, "cannot create the socket in %s (Permission denied): run the server as a user who "
                              "may write there, or choose another --socket" % locked)
