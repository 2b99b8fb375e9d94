"""ttalloc-load says whether its events reached a server (issue 15): exit 0
when the last flush confirmed every event, also across a server restart
(the library re-sends its live table); exit 1 with how many were not
delivered, the socket, where its path came from and why, when they were not."""

import os
import re
import signal
import subprocess

from conftest import BIN, DEFAULT_SOCKET, MiB, can_connect, client_env, wait_until

LOAD = str(BIN / "ttalloc-load")


def load(args, env):
    return subprocess.run([LOAD] + list(args), env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def not_delivered(lost, total, path, source):
    return ("ttalloc-load: %d of %d events were not delivered to an allocation server (socket %s, from %s)\n"
            "ttalloc-load: cannot reach the allocation server at %s (No such file or directory): "
            "start ttalloc-server\n" % (lost, total, path, source, path))


def test_events_that_reach_the_server_exit_0(server):
    res = load(["-n", "3", "--hold-ms", "0", "-q"], server.env())
    assert res.returncode == 0, res.stderr
    assert "not delivered" not in res.stderr
    assert re.search(r"allocated 3 buffers \(\d+ bytes\), freed 3, live 0", res.stdout)


def test_a_wrong_socket_from_the_option_exits_1_and_says_so(short_dir):
    path = short_dir / "absent.sock"
    res = load(["--socket", path, "-n", "3", "--hold-ms", "0", "-q"], client_env(short_dir / "other.sock"))
    assert res.returncode == 1
    assert res.stderr.endswith(not_delivered(6, 6, path, "--socket")), res.stderr


def test_a_wrong_socket_from_the_environment_exits_1_and_says_so(short_dir):
    path = short_dir / "absent.sock"
    res = load(["-p", "leak", "-n", "2", "-q"], client_env(path))
    assert res.returncode == 1
    assert res.stderr.endswith(not_delivered(2, 2, path, "$TT_ALLOC_SERVER_SOCKET")), res.stderr


def test_no_server_at_the_default_path_exits_1_and_names_it(short_dir, default_socket_lock):
    if can_connect(DEFAULT_SOCKET) or os.path.lexists(DEFAULT_SOCKET):
        import pytest
        pytest.skip("something is at %s" % DEFAULT_SOCKET)
    env = client_env(DEFAULT_SOCKET)
    del env["TT_ALLOC_SERVER_SOCKET"]
    res = load(["-n", "1", "--hold-ms", "0", "-q"], env)
    assert res.returncode == 1
    assert res.stderr.endswith(not_delivered(2, 2, DEFAULT_SOCKET, "the default path")), res.stderr


def test_without_flush_only_reaching_no_server_at_all_is_known(short_dir, server):
    path = short_dir / "absent.sock"
    res = load(["--no-flush", "-p", "leak", "-n", "2", "-q"], client_env(path))
    assert res.returncode == 1
    assert res.stderr.endswith(not_delivered(2, 2, path, "$TT_ALLOC_SERVER_SOCKET")), res.stderr
    res = load(["--no-flush", "-n", "2", "--hold-ms", "0", "-q"], server.env())
    assert res.returncode == 0, res.stderr


def test_tracking_disabled_reaches_no_server_and_exits_1(server):
    res = load(["-n", "2", "--hold-ms", "0", "-q"], server.env(tracking=False))
    assert res.returncode == 1
    assert ("ttalloc-load: none of the 4 events reached a server: TT_ALLOC_TRACKING_ENABLED is not 1, so "
            "libttalloc reported nothing\n") in res.stderr


def test_a_device_the_server_does_not_have_is_refused_by_the_library(server):
    res = load(["-d", "0,5", "-n", "4", "--hold-ms", "0", "-q"], server.env())
    assert res.returncode == 1
    assert ("ttalloc-load: 4 events refused by the library (first: the server has no device with that id)"
            in res.stderr), res.stderr
    assert "not delivered" not in res.stderr  # the others did reach it
    # the summary counts what was recorded: the two buffers of device 0 (it said 4)
    assert res.stdout.splitlines()[-1].endswith("allocated 2 buffers (2097152 bytes), freed 2, live 0")


def test_a_server_restart_mid_run_still_exits_0_after_the_resync(short_dir, server_factory, processes):
    path = short_dir / "restart.sock"
    first = server_factory("first", socket_path=path)
    p = processes([LOAD, "-n", "4", "-s", "1M", "--hold-ms", "-1"], env=client_env(path))
    p.expect(r"holding 4 buffers until SIGINT/SIGTERM", timeout=10)
    assert first.query(0)["dram_allocated"] == 4 * MiB
    first.stop()
    second = server_factory("second", socket_path=path)
    # the library's watcher reconnects and re-sends the four buffers
    wait_until(lambda: second.query(0)["dram_allocated"] == 4 * MiB, timeout=5, interval=0.05,
               what="ttalloc-load's buffers re-sent to the new server")
    p.proc.send_signal(signal.SIGTERM)  # frees what it holds, flushes, exits
    p.expect(r"allocated 4 buffers \(\d+ bytes\), freed 4, live 0", timeout=20)  # the last line
    assert p.wait(20) == 0, "\n".join(p.lines)
    assert not [line for line in p.lines if "not delivered" in line or "refused" in line], p.lines
    assert second.query(0)["dram_allocated"] == 0
