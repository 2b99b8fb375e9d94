"""tt_smi --doctor against real servers: one line per check (server and its
version, access, devices, tt-metal shm, http), exit 0 / 1 / 3, and --json
saying the same as one object."""

import json
import os
import socket
import subprocess

from conftest import REPO, SMI_BIN, compile_c
from reliability_support import as_user, other_user

MARKS = {"ok": "✅", "warning": "⚠️ ", "error": "❌", "skipped": "➖"}


def doctor(sock, *args, user=None, env=None):
    argv = [str(SMI_BIN), "--doctor", "--socket", str(sock)] + [str(a) for a in args]
    if user:
        argv = as_user(user[0], user[1], argv)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)


def lines(res):
    """{check: (status, message)} from the text report."""
    out = {}
    for line in res.stdout.splitlines():
        mark = next(m for s, m in MARKS.items() if line.startswith(m + " "))
        status = next(s for s, m in MARKS.items() if m == mark)
        check, message = line[len(mark) + 1:].split(": ", 1)
        out[check] = (status, message)
    return out


def version():
    return subprocess.run([str(SMI_BIN), "--version"], capture_output=True, text=True).stdout.split()[-1]


def test_a_healthy_server_is_all_ok(server):
    res = doctor(server.socket)
    assert res.returncode == 0, res.stdout + res.stderr
    found = lines(res)
    assert list(found) == ["server", "access", "devices", "tt-metal shm", "http"]
    assert all(status == "ok" for status, _ in found.values()), res.stdout
    assert found["server"][1] == "ttalloc-server %s (pid %d) answers at %s (from --socket)" % (
        version(), server.proc.pid, server.socket)
    assert found["access"][1].startswith("user root may report and query (socket owned by root, group ")
    assert found["access"][1].endswith("mode 0660)")
    assert found["devices"][1].startswith("2 devices, simulated: 0 Wormhole_B0, 1 Wormhole_B0 (")
    assert found["http"][1].startswith("the dashboard, JSON API and /metrics are served on port ")


def test_json_says_the_same_as_one_object(server):
    text = lines(doctor(server.socket))
    res = doctor(server.socket, "--json")
    assert res.returncode == 0
    assert res.stdout.count("\n") == 1
    report = json.loads(res.stdout)
    assert report["status"] == "ok" and report["exit_status"] == 0
    assert {c["check"]: (c["status"], c["message"]) for c in report["checks"]} == text
    assert report["server"] == {"version": version(), "pid": server.proc.pid}
    assert report["socket"]["path"] == server.socket and report["socket"]["source"] == "--socket"
    assert [(d["device_id"], d["name"], d["simulated"]) for d in report["devices"]] == [
        (0, "Wormhole_B0", True), (1, "Wormhole_B0", True)]
    assert report["http"]["state"] == "up"


def test_no_server_is_an_error_with_what_to_do(short_dir):
    path = short_dir / "absent.sock"
    res = doctor(path)
    assert res.returncode == 1
    found = lines(res)
    assert found["server"] == ("error", "cannot reach the allocation server at %s (No such file or directory): "
                                        "start ttalloc-server (socket path from --socket)" % path)
    assert [found[c][0] for c in ("access", "devices", "http")] == ["skipped"] * 3
    report = json.loads(doctor(path, "--json").stdout)
    assert report["status"] == "error" and report["server"] is None and report["devices"] == []


def test_a_user_the_socket_refuses_is_told_why_and_how_to_fix_it(short_dir, server_factory):
    import grp
    import pwd
    uid, gid = other_user()
    os.chmod(short_dir, 0o755)
    server = server_factory()  # 0660 root:root
    res = doctor(server.socket, user=(uid, gid))
    assert res.returncode == 1
    found = lines(res)
    group = grp.getgrgid(os.getegid()).gr_name
    assert found["access"] == ("error", "permission denied: user %s may not connect to the allocation server at %s "
                                        "(socket owned by root, group %s, mode 0660): join group %s (sudo usermod "
                                        "-aG %s $USER, then log in again) or start the server with "
                                        "--group/--socket-mode"
                               % (pwd.getpwuid(uid).pw_name, server.socket, group, group, group))
    assert found["server"][0] == "skipped"


def test_a_dashboard_port_in_use_is_a_warning_and_exits_3(server_factory):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        server = server_factory(args=["--http", "127.0.0.1:%d" % port])
        res = doctor(server.socket)
    finally:
        blocker.close()
    assert res.returncode == 3, res.stdout
    status, message = lines(res)["http"]
    assert status == "warning" and message.startswith("port %d is in use" % port)


def test_stale_tt_metal_slots_are_a_warning(tmp_path, server_factory):
    writer = compile_c([REPO / "tests/integration/ttmetal_shm_writer.c"], tmp_path / "writer", libs=["-lpthread"])
    root = tmp_path / "root"
    (root / "dev" / "shm").mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    subprocess.run([str(writer), str(root / "dev/shm/tt_device_3001_memory"), "--asic", "3001", "--device", "0",
                    "--process", "%d:killed_job:%d:0:0:0:0" % (gone.pid, 64 << 20)], check=True, timeout=10)
    server = server_factory(args=["--devices", "sim:2", "--hw-root", str(root)])
    res = doctor(server.socket, "--hw-root", root)
    assert res.returncode == 3, res.stdout
    status, message = lines(res)["tt-metal shm"]
    assert status == "warning"
    assert message.startswith("1 region in %s/dev/shm, 1 process slot in use, 1 stale" % root)
    assert "PID %d (killed_job) is gone but still counts 64.0MB on device 0 (tt_device_3001_memory)" % gone.pid \
        in message
    report = json.loads(doctor(server.socket, "--hw-root", root, "--json").stdout)
    assert report["ttmetal_shm"]["stale_slots"][0]["pid"] == gone.pid and report["exit_status"] == 3


def test_doctor_with_another_view_is_a_usage_error():
    res = subprocess.run([str(SMI_BIN), "--doctor", "-w"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 2
    assert "--doctor is a report of its own" in res.stderr
