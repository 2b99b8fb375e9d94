"""tt-metal's shared-memory statistics (/dev/shm/tt_device_<id>_memory): the
server reads the regions under --hw-root's dev/shm, refuses the ones it cannot
trust with a warning, and shows what the rest say in tt_smi, the binary
protocol, the JSON API and /metrics.

Regions are laid down by ttmetal_shm_writer.c (built here), which transcribes
tt-metal's struct DeviceMemoryRegion on its own; the pids in the slots belong
to real processes of this test (sleep), or to one that has exited (stale).
"""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, compile_c, smi, wait_until
from http_support import dashboard_url, get, get_json
import ttalloc

MiB = 1024 * 1024
# the churn writer's two DRAM values: their 32-bit halves differ, so a torn read shows
CHURN_A, CHURN_B = 0x0000000100000000, 0x00000000FFFFFFFF


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    exe = tmp_path_factory.mktemp("shmwriter") / "ttmetal_shm_writer"
    return compile_c([REPO / "tests/integration/ttmetal_shm_writer.c"], exe, libs=["-lpthread"])


@pytest.fixture
def hw_root(tmp_path):
    (tmp_path / "root" / "dev" / "shm").mkdir(parents=True)
    return tmp_path / "root"


@pytest.fixture
def sleepers():
    """sleeper(name) -> a live process whose comm is `name` (killed at teardown)."""
    procs = []

    def start(name="python3"):
        p = subprocess.Popen(["sleep", "600"], executable="sleep")
        procs.append(p)
        return p.pid

    yield start
    for p in procs:
        p.kill()
        p.wait()


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def region(writer, hw_root, chip_unique_id, *args, check=True):
    """Writes /dev/shm/tt_device_<chip_unique_id>_memory under hw_root; returns its path."""
    path = hw_root / "dev" / "shm" / ("tt_device_%d_memory" % chip_unique_id)
    subprocess.run([str(writer), str(path), "--asic", str(chip_unique_id)] + [str(a) for a in args],
                   check=check, timeout=10)
    return path


def slot(pid, name, dram=0, l1=0, l1_small=0, trace=0, cb=0):
    return ["--process", "%d:%s:%d:%d:%d:%d:%d" % (pid, name, dram, l1, l1_small, trace, cb)]


def start(server_factory, hw_root, devices=2, extra=()):
    srv = server_factory(args=["--devices", "sim:%d" % devices, "--hw-root", str(hw_root),
                               "--http", "127.0.0.1:0"] + list(extra))
    return srv, dashboard_url(srv)


def metrics(url):
    """{(name, frozenset(labels)): value} of /metrics."""
    out = {}
    for line in get(url + "metrics").body.decode().splitlines():
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def wait_scans(url, count):
    """Waits until the server has scanned the regions `count` more times:
    /healthz's ttmetal_shm.scanned (the time of the last scan) moves at each
    scan, every refresh_ms (1 s)."""
    seen = set()

    def scanned():
        seen.add(get_json(url + "healthz")["ttmetal_shm"]["scanned"])
        return len(seen) > count
    wait_until(scanned, timeout=count + 10, interval=0.05, what="%d more scans of the regions" % count)


def metric(samples, name, **labels):
    want = {(k, str(v)) for k, v in labels.items()}
    found = [v for (n, l), v in samples.items() if n == name and want <= l]
    assert len(found) == 1, "%s %r: %d samples" % (name, labels, len(found))
    return found[0]


def test_regions_of_versions_2_3_4_show_in_every_view(writer, hw_root, sleepers, server_factory):
    a, b, c = sleepers(), sleepers(), sleepers()
    region(writer, hw_root, 1001, "--version", 2, "--device", 0,
           *slot(a, "train_a", dram=300 * MiB, l1=2 * MiB, cb=1 * MiB))
    region(writer, hw_root, 1002, "--version", 3, "--device", 1,
           *slot(b, "train_b", dram=100 * MiB, l1_small=MiB // 2, trace=16 * MiB))
    region(writer, hw_root, 1003, "--version", 4, "--device", 2, *slot(c, "train_c", l1=64 * MiB))
    srv, url = start(server_factory, hw_root, devices=3)
    srv.wait_for_log(r"tt-metal shm: .*tt_device_1003_memory: version 4, device 2, 1 process slot in use")

    # the seed's binary QUERY and the extensions
    assert srv.query(0)["dram_allocated"] == 300 * MiB and srv.query(0)["l1_allocated"] == 2 * MiB
    q1 = srv.query(1)
    assert (q1["dram_allocated"], q1["l1_small_allocated"], q1["trace_allocated"]) == (100 * MiB, MiB // 2, 16 * MiB)
    assert srv.query(2)["l1_allocated"] == 64 * MiB
    st = ttalloc.device_status(0, socket_path=srv.socket)
    assert (st.cb_allocated, st.process_count, st.buffer_count) == (MiB, 1, 0)
    rows = {p.pid: p for p in ttalloc.processes(socket_path=srv.socket)}
    assert set(rows) == {a, b, c}
    assert rows[a].source == "tt-metal shm" and not rows[a].stale
    (dev,) = rows[a].devices
    assert (dev.device_id, dev.dram_allocated, dev.cb_allocated, dev.buffer_count, rows[a].name) == \
        (0, 300 * MiB, MiB, None, "train_a")
    assert rows[b].trace_allocated == 16 * MiB and rows[c].l1_allocated == 64 * MiB

    # tt_smi: the table marks the rows, JSON and CSV say where they come from
    table = smi(srv).stdout
    assert re.search(r"\b%d\b.*train_a \(shm\).*300MB" % a, table), table
    assert "(shm): from tt-metal's /dev/shm statistics" in table
    snap = json.loads(smi(srv, "--json").stdout)
    assert [d["dram_allocated"] for d in snap["devices"]] == [300 * MiB, 100 * MiB, 0]
    assert snap["devices"][0]["cb_allocated"] == MiB
    procs = {p["pid"]: p for p in snap["processes"]}
    assert procs[a]["source"] == "tt-metal shm" and procs[a]["buffer_count"] is None and procs[a]["stale"] is False
    csv = smi(srv, "--query-compute-apps=pid,process_name,device,dram,l1,source,buffers",
              "--format=csv,noheader,nounits").stdout
    assert "%d, train_a, 0, 300, 3, tt-metal shm, [N/A]" % a in csv  # l1 = 2 MiB L1 + 1 MiB CB

    # JSON API
    devs = get_json(url + "api/devices")
    assert devs[0]["dram_allocated"] == 300 * MiB and devs[0]["process_count"] == 1
    assert devs[2]["l1_allocated"] == 64 * MiB
    (reg,) = devs[1]["ttmetal_shm"]["regions"]
    assert (reg["file"], reg["version"], reg["process_slot_count"]) == ("tt_device_1002_memory", 3, 1)
    assert reg["totals"]["trace_allocated"] == 16 * MiB
    assert get_json(url + "api/devices/0/stats")["dram_allocated"] == 300 * MiB
    api = {p["pid"]: p for p in get_json(url + "api/processes")}
    assert api[b]["source"] == "tt-metal shm" and api[b]["buffer_count"] is None
    assert api[b]["devices"][0]["trace_allocated"] == 16 * MiB and api[b]["name"] == "train_b"
    health = get_json(url + "healthz")["ttmetal_shm"]
    assert [(r["file"], r["status"]) for r in health["regions"]] == [
        ("tt_device_1001_memory", "ok"), ("tt_device_1002_memory", "ok"), ("tt_device_1003_memory", "ok")]

    # /metrics
    m = metrics(url)
    assert metric(m, "ttalloc_device_memory_used_bytes", device=0, type="dram") == 300 * MiB
    assert metric(m, "ttalloc_device_memory_used_bytes", device=0, type="cb") == MiB
    assert metric(m, "ttalloc_process_memory_used_bytes", pid=a, type="dram", source="tt-metal shm") == 300 * MiB
    assert metric(m, "ttalloc_process_memory_used_bytes", pid=b, type="trace") == 16 * MiB
    assert metric(m, "ttalloc_device_processes", device=2) == 1
    assert metric(m, "ttalloc_ttmetal_shm_regions", state="ok") == 3


def test_regions_it_cannot_trust_warn_and_give_no_numbers(writer, hw_root, sleepers, server_factory):
    pid = sleepers()
    region(writer, hw_root, 2001, "--version", 7, *slot(pid, "x", dram=MiB))            # unknown version
    region(writer, hw_root, 2002, "--version", 4, "--init-state", 1, *slot(pid, "x", dram=MiB))  # half-initialised
    region(writer, hw_root, 2003, "--version", 0, *slot(pid, "x", dram=MiB))            # zero-filled
    region(writer, hw_root, 2004, "--version", 3, "--truncate", 4000, *slot(pid, "x", dram=MiB))
    region(writer, hw_root, 2005, "--version", 4, "--device", 9, *slot(pid, "x", dram=MiB))  # no such device
    (hw_root / "dev" / "shm" / "tt_device_xyz_memory").write_bytes(b"not a region")  # not a region's name
    srv, url = start(server_factory, hw_root)
    srv.wait_for_log(r"⚠️  tt-metal shm: .*tt_device_2001_memory: bad_version: version 7; this ttalloc "
                     r"reads versions 2\.\.4; no numbers taken from it")
    srv.wait_for_log(r"tt_device_2002_memory: not_ready: version 4, not initialised yet \(init_state "
                     r"0x00000001, not 'REDY'\)")
    srv.wait_for_log(r"tt_device_2003_memory: bad_version: version 0; .*\(never initialised\)")
    srv.wait_for_log(r"tt_device_2004_memory: truncated: 4000 bytes; a version 3 region needs 8536")
    srv.wait_for_log(r"tt_device_2005_memory is for device 9; this server has devices 0\.\.1: ignored")
    for dev in (0, 1):
        assert srv.query(dev)["dram_allocated"] == 0
    assert ttalloc.processes(socket_path=srv.socket) == []
    assert json.loads(smi(srv, "--json").stdout)["processes"] == []
    statuses = {r["file"]: r["status"] for r in get_json(url + "healthz")["ttmetal_shm"]["regions"]}
    assert statuses == {"tt_device_2001_memory": "bad_version", "tt_device_2002_memory": "not_ready",
                        "tt_device_2003_memory": "bad_version", "tt_device_2004_memory": "truncated",
                        "tt_device_2005_memory": "no_device"}
    m = metrics(url)
    assert metric(m, "ttalloc_ttmetal_shm_regions", state="bad_version") == 2
    assert metric(m, "ttalloc_ttmetal_shm_regions", state="no_device") == 1
    assert metric(m, "ttalloc_ttmetal_shm_regions", state="ok") == 0
    # said once, not every second
    wait_scans(url, 2)
    assert srv.log().count("tt_device_2001_memory: bad_version") == 1
    # the half-initialised region becomes ready: its numbers appear
    region(writer, hw_root, 2002, "--version", 4, *slot(pid, "x", dram=5 * MiB))
    wait_until(lambda: srv.query(0)["dram_allocated"] == 5 * MiB, timeout=5, what="the region to be read")


def test_a_dead_process_slot_is_stale_and_counted_as_a_leak_once(writer, hw_root, sleepers, server_factory):
    live, gone = sleepers(), dead_pid()
    region(writer, hw_root, 3001, "--version", 4, "--device", 0,
           *slot(live, "serving", dram=10 * MiB), *slot(gone, "killed_job", dram=64 * MiB, l1=MiB))
    srv, url = start(server_factory, hw_root)
    srv.wait_for_log(r"Process %d \(killed_job\) is gone, but tt-metal's shared memory still counts "
                     r"DRAM=64\.0MB, L1=1\.0MB for it on device 0 .*counted as leaked" % gone)
    # not in use: the device total has the live process only
    assert srv.query(0)["dram_allocated"] == 10 * MiB
    rows = {p.pid: p for p in ttalloc.processes(socket_path=srv.socket)}
    assert rows[gone].stale and rows[gone].devices[0].dram_allocated == 64 * MiB and not rows[live].stale
    assert rows[gone].dram_allocated == 0 and rows[gone].uid is None  # holds nothing now; whose it was is unknown
    table = smi(srv).stdout
    assert "killed_job (shm, stale)" in table and "(shm, stale): the process is gone" in table
    csv = smi(srv, "--query-compute-apps=pid,source,stale", "--format=csv,noheader").stdout
    assert "%d, tt-metal shm, yes" % gone in csv and "%d, tt-metal shm, no" % live in csv
    api = {p["pid"]: p for p in get_json(url + "api/processes")}
    assert api[gone]["stale"] is True and api[gone]["dram_allocated"] == 0  # holds nothing now
    assert api[gone]["devices"][0]["dram_allocated"] == 64 * MiB            # what the slot claims
    leaks = get_json(url + "api/leaks")
    assert leaks["leaked_bytes_total"] == 65 * MiB
    assert leaks["reports"][0]["pid"] == gone and leaks["reports"][0]["source"] == "tt-metal shm"
    m = metrics(url)
    assert metric(m, "ttalloc_leaked_bytes_total", device=0) == 65 * MiB
    assert metric(m, "ttalloc_process_stale_memory_bytes", pid=gone, type="dram") == 64 * MiB
    assert metric(m, "ttalloc_device_memory_used_bytes", device=0, type="dram") == 10 * MiB
    # counted once, however many scans see it
    wait_scans(url, 2)
    assert get_json(url + "api/leaks")["leaked_bytes_total"] == 65 * MiB
    assert srv.log().count("is gone, but tt-metal's shared memory") == 1


def test_a_process_on_the_socket_and_in_shm_is_counted_once(writer, hw_root, sleepers, server_factory,
                                                          reporter_client):
    srv, url = start(server_factory, hw_root)
    client = reporter_client(srv)
    assert client.command("alloc 0 0 0x800000000 %d" % (10 * MiB)).group(1) == "1"
    assert client.command("flush").group(1) == "1"
    other = sleepers()
    # tt-metal's region counts the reporting process too (with its own figure), and one more
    region(writer, hw_root, 4001, "--version", 4, "--device", 0,
           *slot(client.pid, "python3", dram=30 * MiB, cb=2 * MiB), *slot(other, "shm_only", dram=5 * MiB))
    wait_until(lambda: srv.query(0)["dram_allocated"] == 15 * MiB, timeout=5, what="the region's next scan")
    rows = ttalloc.processes(socket_path=srv.socket)
    mine = [p for p in rows if p.pid == client.pid]
    assert len(mine) == 1 and mine[0].source == "socket" and mine[0].dram_allocated == 10 * MiB
    assert [p.source for p in rows if p.pid == other] == ["tt-metal shm"]
    assert ttalloc.device_status(0, socket_path=srv.socket).cb_allocated == 0
    api = [p for p in get_json(url + "api/processes") if p["pid"] == client.pid]
    assert len(api) == 1 and api[0]["source"] == "socket"
    m = metrics(url)
    assert metric(m, "ttalloc_process_memory_used_bytes", pid=client.pid, type="dram") == 10 * MiB
    assert metric(m, "ttalloc_device_memory_used_bytes", device=0, type="dram") == 15 * MiB
    snap = json.loads(smi(srv, "--json").stdout)
    assert [p["source"] for p in snap["processes"] if p["pid"] == client.pid] == ["socket"]
    # the socket client exits: its buffers are a socket leak; its shm slot (now stale) is not counted again
    client.kill()
    srv.wait_for_log(r"Process %d exited but left 1 buffer allocated" % client.pid)
    wait_scans(url, 2)
    assert get_json(url + "api/leaks")["leaked_bytes_total"] == 10 * MiB


def test_a_region_updated_while_the_server_reads_stays_whole(writer, hw_root, sleepers, server_factory,
                                                           processes):
    pid = sleepers()
    path = hw_root / "dev" / "shm" / "tt_device_5001_memory"
    churn = processes([writer, path, "--asic", 5001, "--version", 4, "--device", 1,
                       "--process", "%d:churner:%d:%d:%d:0:0" % (pid, CHURN_A, 4 * MiB, 4 * MiB), "--churn"])
    churn.expect(r"^ready$")
    srv, url = start(server_factory, hw_root)
    scans = set()

    def read_whole_values():  # until three scans or more have read the churning region
        q = srv.query(1)
        assert q["dram_allocated"] in (CHURN_A, CHURN_B), hex(q["dram_allocated"])
        assert q["l1_allocated"] % MiB == 0 and q["l1_small_allocated"] % MiB == 0
        assert q["l1_allocated"] <= 5 * MiB and q["l1_small_allocated"] <= 5 * MiB
        (row,) = [p for p in ttalloc.processes(socket_path=srv.socket) if p.pid == pid]
        assert row.dram_allocated in (CHURN_A, CHURN_B) and row.name == "churner"
        scans.add(get_json(url + "healthz")["ttmetal_shm"]["scanned"])
        return len(scans) > 3
    wait_until(read_whole_values, timeout=15, interval=0.1, what="three scans of the churning region")
    churn.send("stop")
    m = churn.expect(r"^final dram=(\d+) l1=(\d+) l1_small=(\d+) rounds=(\d+)$")
    final = tuple(int(x) for x in m.groups()[:3])
    assert int(m.group(4)) > 0
    assert final[1] + final[2] == 8 * MiB
    wait_until(lambda: (srv.query(1)["dram_allocated"], srv.query(1)["l1_allocated"],
                        srv.query(1)["l1_small_allocated"]) == final, timeout=5, what="the final state")
    dev = get_json(url + "api/devices/1")
    assert (dev["dram_allocated"], dev["l1_allocated"]) == final[:2]


def test_remote_chip_rows_of_a_gateway_region(writer, hw_root, sleepers, server_factory):
    pid = sleepers()
    region(writer, hw_root, 6001, "--version", 4, "--device", 0, *slot(pid, "mesh", dram=48 * MiB),
           "--chip", "1:1:16:%d:0:0:%d" % (MiB, 512 * 1024))
    srv, url = start(server_factory, hw_root)
    wait_until(lambda: srv.query(0)["dram_allocated"] == 48 * MiB, timeout=5, what="the region")
    devs = get_json(url + "api/devices")
    chips = devs[0]["ttmetal_shm"]["regions"][0]["chips"]
    assert [(c["chip_id"], c["remote"]) for c in chips] == [(0, False), (1, True)]
    assert chips[0]["dram_allocated"] == 48 * MiB
    (remote,) = devs[1]["ttmetal_shm"]["remote_chips"]
    assert (remote["chip_id"], remote["through_device_id"], remote["l1_allocated"], remote["cb_allocated"]) == \
        (1, 0, MiB, 512 * 1024)
    m = metrics(url)
    assert metric(m, "ttalloc_ttmetal_chip_memory_used_bytes", device=0, chip=1, remote="true", type="l1") == MiB


def test_no_tt_metal_shm_leaves_the_regions_alone(writer, hw_root, sleepers, server_factory):
    pid = sleepers()
    region(writer, hw_root, 7001, "--version", 4, *slot(pid, "x", dram=MiB))
    srv, url = start(server_factory, hw_root, extra=["--no-tt-metal-shm", "--history-interval", "100"])
    # a positive barrier: the server's event loop has run for longer than one
    # refresh of the regions (its memory history, sampled by that loop, spans 1 s)
    def ran_one_refresh():
        ts = get_json(url + "api/history?seconds=10")["timestamps"]
        return len(ts) > 1 and ts[-1] - ts[0] >= 1000
    wait_until(ran_one_refresh, timeout=10, interval=0.05, what="the server's history to span 1 s")
    assert srv.query(0)["dram_allocated"] == 0
    assert get_json(url + "healthz")["ttmetal_shm"] == {"enabled": False}


def test_a_holder_counted_by_tt_metal_shm_is_not_untracked(writer, tmp_path, sleepers, server_factory):
    # an n150 whose driver lists a live process that reports only through tt-metal's region
    import shutil
    root = tmp_path / "n150"
    shutil.copytree(REPO / "tests" / "fixtures" / "n150", root, symlinks=True)
    (root / "dev" / "shm").mkdir(parents=True)
    pid = sleepers()
    pids = root / "proc" / "driver" / "tenstorrent" / "0" / "pids"
    pids.write_text(pids.read_text() + "%d\n" % pid)
    region(writer, root, 8001, "--version", 4, "--device", 0, *slot(pid, "model", dram=7 * MiB))
    srv = server_factory(args=["--devices", "tenstorrent", "--hw-root", str(root), "--http", "127.0.0.1:0"])
    url = dashboard_url(srv)
    wait_until(lambda: srv.query(0)["dram_allocated"] == 7 * MiB, timeout=5, what="the region")
    mine = [p for p in get_json(url + "api/processes") if p["pid"] == pid]
    assert [p["source"] for p in mine] == ["tt-metal shm"]
    others = {p["pid"]: p["source"] for p in get_json(url + "api/processes") if p["pid"] != pid}
    assert others and set(others.values()) == {"kernel"}  # the fixture's other holders stay untracked
