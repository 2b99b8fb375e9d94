"""tt_smi top, dmon and pmon against the real server, with real reporting
processes (ttalloc-load through libttalloc). `tt_smi top` runs in a private
tmux server: keys go in with send-keys, the screen comes back with
capture-pane, and every wait polls the pane for what it should show. dmon and
pmon run with -c and their lines are checked; BUFFER_QUERY, the request
behind top's buffer view, is checked on the wire."""

import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import BIN, MiB, SMI_BIN, recv_exact, wait_until
from ttalloc import protocol

LOAD_BIN = BIN / "ttalloc-load"


@pytest.fixture
def loads(server, processes):
    """Two reporting processes holding buffers until killed: 5 x 300 MB of
    DRAM on device 0 (with call stacks) and 3 x 100 MB of L1 on device 1.
    The --seed values only mark their command lines."""
    def hold(*args, stacks=False):
        extra = {"TT_ALLOC_STACK_TRACE": "1"} if stacks else None
        p = processes([LOAD_BIN] + list(args) + ["--hold-ms", "-1"], env=server.env(extra=extra))
        p.expect(r"holding \d+ buffers until SIGINT", timeout=10)
        return p
    dram = hold("--seed", "4242", "-d", "0", "-n", "5", "-s", "300M", stacks=True)
    l1 = hold("--seed", "777", "-d", "1", "-t", "l1", "-n", "3", "-s", "100M")
    return dram, l1


class Pane:
    """One tmux window of a private tmux server, running `argv`."""

    def __init__(self, socket_path, argv, width=100, height=30):
        if not shutil.which("tmux"):
            pytest.fail("tmux is missing: run scripts/install-deps.sh")
        self.socket = str(socket_path)
        # the program's exit status stays on the screen after it ends; the
        # shell survives a Ctrl-C meant for the program (its trap)
        script = "trap : INT; %s; echo \"exit=$?\"; sleep 60" % " ".join(_quote(a) for a in argv)
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height),
                  "env", "LANG=C.UTF-8", "TERM=tmux-256color", "sh", "-c", script)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null"] + list(args),
                              capture_output=True, text=True, timeout=10, check=True).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def wait_for(self, pattern, timeout=10.0):
        """Waits until the screen matches regex `pattern`; returns the screen."""
        rx = re.compile(pattern, re.M)
        return wait_until(lambda: self.screen() if rx.search(self.screen()) else None, timeout,
                          what="%r on the tt_smi top screen" % pattern, details=self.screen)

    def close(self):
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)


def _quote(arg):
    return "'" + str(arg).replace("'", "'\\''") + "'"


@pytest.fixture
def pane_factory(short_dir):
    panes = []

    def start(argv, **size):
        pane = Pane(short_dir / ("tmux%d.sock" % len(panes)), argv, **size)  # one tmux server each
        panes.append(pane)
        return pane
    yield start
    for pane in panes:
        pane.close()


def top(pane_factory, server, *args, **size):
    return pane_factory([SMI_BIN, "top", "-s", server.socket, "-r", "200"] + list(args), **size)


def row_of(screen, pid):
    """The process table's line of `pid`."""
    for line in screen.splitlines():
        if re.match(r"^[> ]\s+\d+\s+%d\s" % pid, line):
            return line
    raise AssertionError("no row for pid %d in:\n%s" % (pid, screen))


def test_top_shows_devices_and_processes_and_answers_keys(server, loads, pane_factory):
    dram, l1 = loads
    pane = top(pane_factory, server, width=120)
    screen = pane.wait_for(r"^[> ]\s+1\s+%d\s" % l1.pid)
    assert " GPU 0 " in screen and " GPU 1 " in screen
    assert re.search(r"DRAM .* 1\.5GB/12\.0GB\s+12%", screen), screen
    assert re.search(r"L1 .* 300MB/1440MB\s+20%", screen), screen
    header = next(line for line in screen.splitlines() if "COMMAND" in line)
    for title in ("GPU", "PID", "USER", "AGE", "DRAM", "L1", "L1_SMALL", "TRACE", "CB"):
        assert title in header.split(), header
    # the command line, not the 15-character name; memory per type
    row = row_of(screen, dram.pid)
    assert " ttalloc-load --seed 4242 -d 0 " in row, row
    assert row.startswith(">")  # the most memory comes first, selected
    assert "1.5GB" in row.split()
    assert "300MB" in row_of(screen, l1.pid).split()

    # sort by pid, then the other way round
    pane.keys("p")
    screen = pane.wait_for(r"sort: pid")
    first, second = sorted([dram.pid, l1.pid])
    assert screen.index(row_of(screen, first)) < screen.index(row_of(screen, second))
    pane.keys("p")
    screen = pane.wait_for(r"sort: pid \(reversed\)")
    assert screen.index(row_of(screen, second)) < screen.index(row_of(screen, first))

    # a filter on the command line keeps one process
    pane.keys("/", "seed 777", "Enter")
    screen = pane.wait_for(r"filter: seed 777")
    assert "1 process row " in screen
    row_of(screen, l1.pid)
    assert not re.search(r"^[> ]\s+0\s+%d\s" % dram.pid, screen, re.M)
    pane.keys("Escape")
    pane.wait_for(r"2 process rows")

    # the help, and back
    pane.keys("?")
    pane.wait_for(r"^Keys$")
    pane.keys("x")
    pane.wait_for(r"COMMAND")

    # q quits and gives the terminal back
    pane.keys("q")
    screen = pane.wait_for(r"^exit=0$")
    assert "tt_smi top" not in screen


def test_top_id_shows_only_the_devices_named(server, loads, pane_factory):
    dram, l1 = loads
    pane = top(pane_factory, server, "-i", "1", width=120)
    screen = pane.wait_for(r"^[> ]\s+1\s+%d\s" % l1.pid)
    assert " GPU 1 " in screen and " GPU 0 " not in screen
    assert not re.search(r"^[> ]\s+0\s+%d\s" % dram.pid, screen, re.M)
    pane.keys("q")
    pane.wait_for(r"^exit=0$")
    pane = top(pane_factory, server, "-i", "9")
    pane.wait_for(r"no device matches -i '9' \(devices: 0, 1\)")


def test_top_lists_a_process_buffers_with_where_they_were_allocated(server, loads, pane_factory):
    dram, _ = loads
    pane = top(pane_factory, server)
    pane.wait_for(r"^>\s+0\s+%d\s" % dram.pid)
    pane.keys("Enter")
    screen = pane.wait_for(r"Buffers of PID %d on GPU 0" % dram.pid)
    screen = pane.wait_for(r"5 live buffers \(1\.5GB\), largest first")
    rows = [line for line in screen.splitlines() if re.match(r"^\s+0x[0-9a-f]{16}\s", line)]
    assert len(rows) == 5, screen
    for line in rows:
        cells = line.split()
        assert cells[1:3] == ["DRAM", "300MB"], line
        assert "load.c:" in line, line  # the top frame of the allocation's call stack
    pane.keys("Escape")
    pane.wait_for(r"COMMAND")
    pane.keys("C-c")  # Ctrl-C ends it cleanly too
    pane.wait_for(r"^exit=0$")


def test_top_at_80x24_then_60_columns_keeps_the_memory_columns(server, loads, pane_factory):
    dram, _ = loads
    pane = top(pane_factory, server, width=80, height=24)
    for width, dropped in ((80, ()), (60, ("USER", "AGE", "COMMAND"))):
        if width != 80:
            pane.tmux("resize-window", "-x", str(width), "-y", "24")  # SIGWINCH: redrawn for the new width
        screen = pane.wait_for(r"^\s+GPU\s+PID\s+%s" % ("USER" if not dropped else "DRAM"))
        lines = screen.splitlines()
        assert len(lines) == 24
        header = next(line for line in lines if " PID " in line)
        for title in ("DRAM", "L1", "L1_SMALL", "TRACE", "CB"):
            assert title in header.split(), (width, header)
        for title in dropped:
            assert title not in header.split(), (width, header)
        assert max(len(line) for line in lines) <= width
        assert "1.5GB" in row_of(screen, dram.pid).split()


def test_top_without_a_server_says_so_and_without_a_terminal_refuses(short_dir, pane_factory):
    missing = short_dir / "none.sock"
    pane = pane_factory([SMI_BIN, "top", "-s", missing, "-r", "200"], width=80, height=24)
    pane.wait_for(r"cannot reach the allocation server at %s" % re.escape(str(missing)))
    pane.keys("q")
    pane.wait_for(r"^exit=0$")
    r = subprocess.run([str(SMI_BIN), "top", "-s", str(missing)], capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "needs a terminal" in r.stderr
    r = subprocess.run([str(SMI_BIN), "top", "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "tt_smi top --help" in r.stderr


# ---- dmon and pmon ----

def smi(server, *args, timeout=10):
    return subprocess.run([str(SMI_BIN)] + list(args) + ["--socket", server.socket], capture_output=True,
                          text=True, timeout=timeout)


def test_dmon_prints_a_line_per_device_per_sample(server, loads):
    r = smi(server, "dmon", "-c", "2", "-d", "0.2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "gpu", "pwr", "temp", "util", "dram", "l1", "l1sm", "trace", "cb"]
    assert lines[1].split() == ["#", "Idx", "W", "C", "%", "MB", "MB", "MB", "MB", "MB"]
    samples = [line.split() for line in lines[2:]]
    assert len(samples) == 4  # 2 samples x 2 devices
    for sample in (samples[:2], samples[2:]):
        assert sample[0][0] == "0" and sample[0][4:] == ["1500", "0", "0", "0", "0"]
        assert sample[1][0] == "1" and sample[1][4:] == ["0", "300", "0", "0", "0"]
    r = smi(server, "dmon", "-c", "1", "-s", "m", "-i", "1")
    assert r.stdout.splitlines()[2].split() == ["1", "0", "300", "0", "0", "0"]


def test_pmon_prints_a_line_per_process_and_device(server, loads):
    dram, l1 = loads
    r = smi(server, "pmon", "-c", "2", "-d", "0.2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["#", "gpu", "pid", "type"] and lines[0].endswith("command")
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 4
    assert ["0", str(dram.pid), "C", "1500", "0", "0", "0", "0", "ttalloc-load"] in rows
    assert ["1", str(l1.pid), "C", "0", "300", "0", "0", "0", "ttalloc-load"] in rows


def test_pmon_marks_an_idle_device_and_streams_until_sigterm(server):
    p = subprocess.Popen([str(SMI_BIN), "pmon", "-d", "0.1", "--socket", server.socket], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = [p.stdout.readline() for _ in range(4)]
        assert first[2].split() == ["0", "-", "-", "-", "-", "-", "-", "-", "-"]
        assert first[3].split()[0] == "1"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_dmon_and_pmon_refuse_bad_input(server, short_dir):
    r = smi(server, "dmon", "-c", "1", "-i", "5")
    assert r.returncode == 2 and "no device matches -i '5' (devices: 0, 1)" in r.stderr
    r = smi(server, "pmon", "-s", "u")
    assert r.returncode == 2 and "-s/--select" in r.stderr
    r = subprocess.run([str(SMI_BIN), "dmon", "-c", "1", "--socket", str(short_dir / "none.sock")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "cannot reach the allocation server" in r.stderr


# ---- BUFFER_QUERY on the wire ----

def buffer_query(path, device, pid, rows=0, flags=0):
    """The frames answering one BUFFER_QUERY, ROWS_END or ERROR last."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(protocol.pack(protocol.BUFFER_QUERY, device, size=rows, buffer_type=flags, process_id=pid))
        frames = []
        while True:
            head = protocol.unpack_header(recv_exact(s))
            frames.append(head)
            if head["type"] in (protocol.ROWS_END, protocol.ERROR):
                return frames


def test_buffer_query_rows_stacks_cap_and_errors(server, loads):
    dram, _ = loads
    frames = buffer_query(server.socket, 0, dram.pid, flags=protocol.BUFFER_WITH_STACKS)
    rows = [f for f in frames if f["type"] == protocol.BUFFER_ROW]
    lines = [f for f in frames if f["type"] == protocol.STACK_LINE]
    assert len(rows) == 5 and frames[-1]["type"] == protocol.ROWS_END and frames[-1]["size"] == 5
    assert all(f["size"] == 300 * MiB and f["buffer_type"] == protocol.DRAM for f in rows)
    assert len(lines) == 5 and all(b"load.c:" in f["payload"] for f in lines)
    frames = buffer_query(server.socket, -1, 0, rows=2)
    assert [f["type"] for f in frames] == [protocol.BUFFER_ROW] * 2 + [protocol.ROWS_END]
    # a device that does not exist: ERROR instead of rows
    frames = buffer_query(server.socket, 9, dram.pid)
    assert frames[-1]["type"] == protocol.ERROR and len(frames) == 1
    error = protocol.unpack_error(frames[-1]["payload"])
    assert protocol.ERROR_REASONS[error["reason"]] == "bad_device", error
    assert "BUFFER_QUERY" in error["message"]
