"""README's table "The seed's commands here" against the seed document:
every command in its first column is the seed's (so the table cannot drift
from the seed), and each slip of the seed it names is in the seed; the
figures ttalloc prints instead are checked where a server can show them.

The seed-document tests are skipped when the document is absent."""

import re

import pytest

from conftest import REPO, raw_socket, recv_frame, seed_code_blocks, seed_doc
import ttalloc
from ttalloc import protocol

DOC = seed_doc()
needs_seed = pytest.mark.skipif(DOC is None, reason="seed document not found "
                                "(../shared/seed/real-time-monitoring-example.md)")
TABLE_HEADING = "## The seed's commands here"


def readme_table():
    """The rows of the table under TABLE_HEADING, each a list of its cells."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert TABLE_HEADING + "\n" in text, "README has no section %r" % TABLE_HEADING
    section = text.split(TABLE_HEADING + "\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| seed command |") and set(lines[1]) <= set("|-")
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]
    assert all(len(row) == 3 for row in rows), [row for row in rows if len(row) != 3]
    return rows


def code_spans(cell):
    return re.findall(r"`([^`]+)`", cell)


@pytest.fixture(scope="module")
def seed_text():
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def blocks(seed_text):
    return seed_code_blocks(seed_text)


def only_block(blocks, lang, marker):
    found = [body for (lang_, body) in blocks if lang_ == lang and marker in body]
    assert len(found) == 1, "expected one %s block containing %r, found %d" % (lang, marker, len(found))
    return found[0]


def slip_rows():
    return [row for row in readme_table() if "**seed's slip**" in row[2]]


@needs_seed
def test_every_command_in_the_table_is_the_seeds(seed_text):
    rows = readme_table()
    assert len(rows) >= 18
    for command, _, _ in rows:
        spans = code_spans(command)
        assert spans, "a row without a seed command: %r" % command
        for span in spans:
            assert span in seed_text, "%r is not in the seed document" % span


@needs_seed
def test_the_table_covers_the_seeds_commands():
    commands = " ".join(row[0] for row in readme_table())
    for command in ("./build/programming_examples/allocation_server_poc", "export TT_ALLOC_TRACKING_ENABLED=1",
                    "./build/programming_examples/tt_smi -w -r 500", "./build/programming_examples/tt_smi -w",
                    "python query_stats.py 0", "g++ -std=c++17 monitor_allocations.cpp -o monitor_allocations",
                    "export TT_METAL_LOGGER_LEVEL=Debug", "python leaky_app.py",
                    "cat /proc/driver/tenstorrent/0/pids", "test_memory_leaks.sh", "profile_memory_usage.py",
                    "python web_dashboard.py", "sudo systemctl start tt-allocation-server",
                    "is_server_running()", "memory_log.csv"):
        assert "`%s" % command in commands, command


@needs_seed
def test_the_health_check_snippet_uses_socket_without_importing_it(blocks):
    body = only_block(blocks, "python", "def is_server_running():")
    assert "socket.socket(socket.AF_UNIX" in body
    assert not re.search(r"^\s*(import socket|from socket import)", body, re.M)
    assert "    except:\n        return False" in body  # which hides the NameError
    assert any("import socket" in row[2] for row in slip_rows())


@needs_seed
def test_the_snapshot_snippet_calls_query_device_stats_without_importing_it(blocks):
    body = only_block(blocks, "python", "memory_log.csv")
    assert "stats = query_device_stats(device_id)" in body
    assert "import" in body and "query_device_stats" not in "".join(
        line for line in body.splitlines(keepends=True) if "import" in line or line.startswith("def "))
    assert any("from query_stats import query_device_stats" in row[2] for row in slip_rows())


@needs_seed
def test_the_seeds_server_log_total_counts_l1_as_dram(blocks):
    body = only_block(blocks, "", "DRAM=3.5MB")
    allocs = re.findall(r"ALLOC: (\d+) bytes (DRAM|L1) ", body.split("└─")[0])
    dram = sum(int(n) for n, kind in allocs if kind == "DRAM")
    l1 = sum(int(n) for n, kind in allocs if kind == "L1")
    assert (dram, l1) == (2621440, 1048576)  # 2.5 MB of DRAM; 3.5 is DRAM + L1
    assert "DRAM=3.5MB, L1=1.0MB, 3 buffers" in body
    assert any("DRAM=2.5MB" in row[1] for row in readme_table())


@needs_seed
def test_the_seeds_cpp_monitor_sample_is_not_what_its_format_bytes_prints(blocks):
    cpp = only_block(blocks, "cpp", "std::string format_bytes(uint64_t bytes)")
    assert "return std::to_string(bytes / (1ULL << 30)) + \" GB\";" in cpp  # integer division: "3 GB"
    run = only_block(blocks, "bash", "./monitor_allocations 0")
    assert "# DRAM:     3.2 GB | L1:    450 MB" in run
    assert "#   DRAM:      3.25 GB" in only_block(blocks, "bash", "python query_stats.py 0")


@needs_seed
def test_the_seeds_query_stats_total_does_not_add_up(blocks):
    out = only_block(blocks, "bash", "python query_stats.py 0")
    assert "#   L1:        450.00 MB" in out and "#   Total:     3.70 GB" in out
    # any DRAM figure printed as 3.25 GB is 3.245 ..< 3.255 GiB: the total rounds to 3.68 or 3.69
    l1 = 450 * 2**20 / 2**30
    assert "%.2f" % (3.245 + l1) == "3.68" and "%.2f" % (3.25499 + l1) == "3.69"
    assert any("3.69 GB" in row[1] for row in slip_rows())


@needs_seed
def test_the_seeds_flask_dashboard_has_no_dashboard_html_route(blocks):
    app = only_block(blocks, "python", "app = Flask(__name__)")
    assert "dashboard.html" not in app and "static" not in app
    assert "Open browser to http://localhost:8080/dashboard.html" in only_block(blocks, "bash",
                                                                               "python web_dashboard.py")
    assert (REPO / "examples/seed/web_dashboard.py").read_text() == app


def test_the_seeds_three_allocations_total_2_5_mb_of_dram(server):
    """The server's total line for the seed's three allocations and its FREE."""
    mark = server.mark()
    with raw_socket(server.socket) as s:
        for btype, addr, size in ((ttalloc.DRAM, 0x800000000, 524288), (ttalloc.L1, 0x10000, 1048576),
                                  (ttalloc.DRAM, 0x800080000, 2097152)):
            s.sendall(protocol.pack(protocol.ALLOC, 0, size=size, buffer_type=btype, buffer_id=addr))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=1))
        assert recv_frame(s)["type"] == protocol.SYNC_ACK
        full = server.wait_for_log(r"^  └─ Device 0 total: DRAM=2\.5MB, L1=1\.0MB, 3 buffers$", since=mark)
        s.sendall(protocol.pack(protocol.FREE, 0, buffer_id=0x800000000))
        s.sendall(protocol.pack(protocol.SYNC, -1, size=2))
        assert recv_frame(s)["type"] == protocol.SYNC_ACK
        server.wait_for_log(r"^\[Device 0\] FREE: buffer 0x800000000 by PID \d+\n"
                            r"  └─ Device 0 total: DRAM=2\.0MB, L1=1\.0MB, 2 buffers$", since=full.end())
