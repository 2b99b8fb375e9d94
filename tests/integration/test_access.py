"""Who may connect (issue 5, guarantee 7): the socket is created 0660 (or
--socket-mode), owned by --group when given, so the file mode decides who
may report and query; a socket directory that others could tamper with
(world-writable without the sticky bit, or owned by another user) is
refused with a clear message. Checks that need another user run as root
with setpriv."""

import grp
import os
import stat
import subprocess
import sys

import pytest

from conftest import SERVER_BIN, private_server_args
from reliability_support import as_user, other_user

CONNECT = ("import socket, sys\n"
           "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
           "try:\n"
           "    s.connect(sys.argv[1]); print('connected')\n"
           "except OSError as e:\n"
           "    print('refused', e.errno)\n")


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def run_server(socket_path, *args, timeout=10):
    return subprocess.run([str(SERVER_BIN), "--socket", str(socket_path)] + private_server_args() + list(args),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def try_connect_as(uid, gid, path):
    argv = as_user(uid, gid, [sys.executable, "-c", CONNECT, str(path)])
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_socket_is_created_0660_by_default(server):
    st = os.lstat(server.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert mode_of(server.socket) == 0o660
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


@pytest.mark.parametrize("mode", ["0600", "0666", "0620"])
def test_socket_mode_sets_the_permissions(server_factory, mode):
    server = server_factory(args=["--socket-mode", mode])
    assert mode_of(server.socket) == int(mode, 8)


def test_bad_socket_mode_is_refused(short_dir):
    res = run_server(short_dir / "s.sock", "--socket-mode", "999")
    assert res.returncode == 2
    assert "bad value '999' for --socket-mode" in res.stderr


def test_group_owns_the_socket_and_only_its_members_may_connect(short_dir, server_factory):
    uid, gid = other_user()
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        pytest.skip("gid %d has no group name" % gid)
    os.chmod(short_dir, 0o755)
    server = server_factory(args=["--group", group.gr_name])
    st = os.lstat(server.socket)
    assert (st.st_gid, mode_of(server.socket)) == (gid, 0o660)
    # a member of the group may connect ...
    assert try_connect_as(uid, gid, server.socket) == "connected"
    # ... a user outside it may not (neither owner nor group: mode 0660 says no)
    outsider = 1 if uid != 1 else 2
    assert try_connect_as(outsider, outsider, server.socket) == "refused 13"


def test_unknown_group_is_refused_clearly(short_dir):
    res = run_server(short_dir / "s.sock", "--group", "no_such_group_tt")
    assert res.returncode == 2
    assert "unknown group 'no_such_group_tt' (--group)" in res.stderr
    assert not os.path.lexists(short_dir / "s.sock")


def test_world_writable_directory_without_sticky_bit_is_refused(short_dir):
    unsafe = short_dir / "open"
    unsafe.mkdir()
    os.chmod(unsafe, 0o777)
    res = run_server(unsafe / "s.sock")
    assert res.returncode == 2
    assert ("refusing socket directory %s: writable by everyone without the sticky bit, so anyone could "
            "replace the socket (chmod o-w or +t it, or choose another --socket)" % unsafe) in res.stderr
    assert not os.path.lexists(unsafe / "s.sock")


def test_world_writable_directory_with_sticky_bit_is_accepted(short_dir, server_factory):
    sticky = short_dir / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)  # like /tmp
    server = server_factory(socket_path=sticky / "s.sock")
    assert server.query(0)["device_id"] == 0


def test_directory_owned_by_another_user_is_refused(short_dir):
    uid, gid = other_user()
    theirs = short_dir / "theirs"
    theirs.mkdir()
    os.chown(theirs, uid, gid)
    res = run_server(theirs / "s.sock")
    assert res.returncode == 2
    assert ("refusing socket directory %s: owned by uid %d, neither root nor us (uid %d)"
            % (theirs, uid, os.geteuid())) in res.stderr
    assert not os.path.lexists(theirs / "s.sock")
