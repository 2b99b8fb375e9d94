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


# ---- a client refused by the socket's permissions says so, in one voice ----
# (common/reach.c for the C clients, ttalloc.connection.explain_connect_error
# for Python: the same words, compared here)

LOAD_BIN = SERVER_BIN.parent / "ttalloc-load"
RUN_BIN = SERVER_BIN.parent / "ttalloc-run"
SMI = SERVER_BIN.parent / "tt_smi"
PY_QUERY = ("import sys, ttalloc\n"
            "try:\n"
            "    ttalloc.query_device_stats(0, socket_path=sys.argv[1]); print('connected')\n"
            "except ttalloc.ServerAccessDenied as e:\n"
            "    print('denied:', e)\n")
PY_REPORT = ("import sys, ttalloc\n"
             "r = ttalloc.Reporter(sys.argv[1])\n"
             "print(r.report_alloc(0, ttalloc.DRAM, 0x1000, 4096), r.last_error)\n")


def a_group_without(uid, gid):
    """(name, gid) of a group `uid` is not in, neither as its own group nor as a listed member."""
    import pwd
    user = pwd.getpwuid(uid).pw_name
    for name in ("daemon", "bin", "sys", "adm"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if g.gr_gid != gid and user not in g.gr_mem:
            return g.gr_name, g.gr_gid
    pytest.skip("no group that %s is not in" % user)


def run_as(uid, gid, argv, env=None):
    return subprocess.run(as_user(uid, gid, [str(a) for a in argv]), capture_output=True, text=True, timeout=60,
                          env=env, stdin=subprocess.DEVNULL)


def client_environment(path):
    from conftest import client_env
    env = client_env(path)
    env.pop("TTALLOC_HTTP", None)
    return env


def denial(uid, path, owner, group, mode, fix):
    import pwd
    return ("permission denied: user %s may not connect to the allocation server at %s (socket owned by %s, "
            "group %s, mode %04o): %s" % (pwd.getpwuid(uid).pw_name, path, owner, group, mode, fix))


def test_every_client_explains_a_refusal_by_the_sockets_permissions_in_the_same_words(short_dir, server_factory):
    uid, gid = other_user()
    group, _ = a_group_without(uid, gid)
    os.chmod(short_dir, 0o755)
    server = server_factory(args=["--group", group])  # 0660 root:group, the packaged setup
    sock = server.socket
    expected = denial(uid, sock, "root", group, 0o660,
                      "join group %s (sudo usermod -aG %s $USER, then log in again) or start the server with "
                      "--group/--socket-mode" % (group, group))
    env = client_environment(sock)

    smi = run_as(uid, gid, [SMI, "--socket", sock], env)
    assert smi.returncode == 1 and smi.stderr == "tt_smi: %s\n" % expected, smi.stderr
    dmon = run_as(uid, gid, [SMI, "dmon", "-c", "1", "--socket", sock], env)
    assert dmon.returncode == 1 and "tt_smi dmon: %s\n" % expected in dmon.stderr, dmon.stderr
    load = run_as(uid, gid, [LOAD_BIN, "--socket", sock, "-n", "2", "--hold-ms", "0", "-q"], env)
    assert load.returncode == 1
    assert ("ttalloc-load: 4 of 4 events were not delivered to an allocation server (socket %s, from --socket)\n"
            "ttalloc-load: %s\n" % (sock, expected)) in load.stderr, load.stderr
    run = run_as(uid, gid, [RUN_BIN, "--socket", sock, "--", "true"], env)
    assert run.returncode == 0, run.stderr
    assert "ttalloc-run: %s; running the command with a private server instead\n" % expected in run.stderr
    query = run_as(uid, gid, [sys.executable, "-c", PY_QUERY, sock], env)
    assert query.stdout == "denied: %s\n" % expected, query.stderr
    report = run_as(uid, gid, [sys.executable, "-c", PY_REPORT, sock], env)
    assert report.stdout == "False %s\n" % expected, report.stderr


def test_a_socket_only_its_owner_may_use_says_so(short_dir):
    import socket as socketlib
    uid, gid = other_user()
    owner_uid, owner_gid = (1, 1) if uid != 1 else (2, 2)
    os.chmod(short_dir, 0o755)
    path = str(short_dir / "private.sock")
    s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    try:
        os.chown(path, owner_uid, owner_gid)
        os.chmod(path, 0o600)
        import pwd
        owner = pwd.getpwuid(owner_uid).pw_name
        expected = denial(uid, path, owner, grp.getgrgid(owner_gid).gr_name, 0o600,
                          "only %s may connect: start the server with --group/--socket-mode (e.g. --socket-mode "
                          "0660 --group GROUP, and join GROUP)" % owner)
        smi = run_as(uid, gid, [SMI, "--socket", path], client_environment(path))
        assert smi.returncode == 1 and smi.stderr == "tt_smi: %s\n" % expected, smi.stderr
        query = run_as(uid, gid, [sys.executable, "-c", PY_QUERY, path], client_environment(path))
        assert query.stdout == "denied: %s\n" % expected, query.stderr
    finally:
        s.close()


def test_a_socket_in_a_directory_we_may_not_enter_names_the_directory(short_dir, server_factory):
    import pwd
    uid, gid = other_user()
    os.chmod(short_dir, 0o700)  # root's, closed: the socket inside cannot even be looked at
    server = server_factory()
    expected = ("permission denied: user %s may not reach the allocation server at %s (its directory %s is owned "
                "by root, group root, mode 0700): start the server with --socket in a directory your user may "
                "enter" % (pwd.getpwuid(uid).pw_name, server.socket, short_dir))
    smi = run_as(uid, gid, [SMI, "--socket", server.socket], client_environment(server.socket))
    assert smi.returncode == 1 and smi.stderr == "tt_smi: %s\n" % expected, smi.stderr
    query = run_as(uid, gid, [sys.executable, "-c", PY_QUERY, server.socket], client_environment(server.socket))
    assert query.stdout == "denied: %s\n" % expected, query.stderr


def test_a_user_added_to_the_group_since_logging_in_is_told_to_log_in_again(short_dir, server_factory):
    import pwd
    member = None
    for g in grp.getgrall():
        for name in g.gr_mem:
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            if pw.pw_uid != 0 and pw.pw_gid != g.gr_gid:
                member = (pw, g)
                break
        if member:
            break
    if not member or os.geteuid() != 0:
        pytest.skip("needs root and a user listed as a member of a group in the group database")
    pw, g = member
    os.chmod(short_dir, 0o755)
    server = server_factory(args=["--group", g.gr_name])
    # --clear-groups: the process lacks the group, as a login made before `usermod -aG`
    expected = denial(pw.pw_uid, server.socket, "root", g.gr_name, 0o660,
                      "you were added to group %s after logging in: log in again (or run 'newgrp %s')"
                      % (g.gr_name, g.gr_name))
    smi = run_as(pw.pw_uid, pw.pw_gid, [SMI, "--socket", server.socket], client_environment(server.socket))
    assert smi.returncode == 1 and smi.stderr == "tt_smi: %s\n" % expected, smi.stderr
    query = run_as(pw.pw_uid, pw.pw_gid, [sys.executable, "-c", PY_QUERY, server.socket],
                   client_environment(server.socket))
    assert query.stdout == "denied: %s\n" % expected, query.stderr
