"""The HTTP JSON API, event stream and health check of the real server,
driven with urllib and raw protocol clients (tests/integration/http_support.py).
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import REPO, SERVER_BIN, SMI_BIN
from http_support import (DRAM, L1, L1_SMALL, TRACE, MiB, RawClient, dashboard_url, get, get_json,
                          wait_for)
import ttalloc

SUPPORT = Path(__file__).resolve().parent / "http_support.py"
SEED_KEYS = {"device_id", "dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated"}


@pytest.fixture
def web(server_factory):
    """A server with HTTP on a free loopback port; returns (server, base URL)."""
    server = server_factory(args=["--http", "127.0.0.1:0", "--history-interval", "100"])
    return server, dashboard_url(server)


def spawn_client(processes, server, comm=None):
    env = dict(os.environ)
    if comm:
        env["TTALLOC_TEST_COMM"] = comm
    p = processes([sys.executable, str(SUPPORT), server.socket], env=env)
    p.expect(r"^pid=\d+")
    return p


def do(p, line):
    p.send(line)
    p.expect(r"^ok$")


def assert_json_error(resp, status):
    assert resp.status == status, (resp.status, resp.body)
    assert resp.content_type.startswith("application/json")
    doc = resp.json()
    assert set(doc) == {"error"} and isinstance(doc["error"], str) and doc["error"]
    return doc["error"]


# ---- start-up ----

def test_banner_prints_the_dashboard_url_with_the_real_port(web):
    server, url = web
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    assert int(url.rsplit(":", 1)[1].rstrip("/")) > 0
    assert get(url).status == 200


def test_healthz_answers_ok(web):
    _, url = web
    r = get(url + "healthz")
    assert r.status == 200 and r.content_type.startswith("application/json")
    doc = r.json()
    assert doc["status"] == "ok" and doc["device_count"] == 2


def taken_port():
    """A listening socket on a free loopback port (what another program holds)."""
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    return blocker, blocker.getsockname()[1]


def test_a_taken_port_with_http_required_stops_the_server_with_a_clear_message(short_dir):
    blocker, port = taken_port()
    path = short_dir / "busy.sock"
    try:
        res = subprocess.run([str(SERVER_BIN), "--socket", str(path), "--http", "127.0.0.1:%d" % port,
                              "--http-required"], capture_output=True, text=True, timeout=20)
    finally:
        blocker.close()
    assert res.returncode == 1
    assert "127.0.0.1:%d" % port in res.stderr
    assert "--http" in res.stderr and "--no-http" in res.stderr
    assert not path.exists(), "the socket file must not outlive a failed start"


def test_a_taken_port_does_not_stop_tracking_and_is_taken_when_free(server_factory):
    # the seed's own Flask dashboard on 8080, say: tracking must not depend on it
    blocker, port = taken_port()
    try:
        server = server_factory(args=["--http", "127.0.0.1:%d" % port])
        server.wait_for_log(r"⚠️  HTTP: cannot listen for HTTP on 127.0.0.1:%d: Address already in use" % port)
        server.wait_for_log(r"^⚠️  Tracking runs anyway, without the dashboard, JSON API and /metrics for now; "
                            r"the port is tried again every 5 s")
        server.wait_for_log(r"^🌐 Dashboard: waiting for 127.0.0.1:%d \(in use\), tried every 5 s$" % port)
        assert server.query(0)["dram_allocated"] == 0  # the socket is served
        status = subprocess.run([str(SMI_BIN), "--socket", server.socket], capture_output=True, text=True,
                                timeout=20)
        assert "Server Status: ✅ Connected | Dashboard: ⚠️  port %d in use, retrying | Updates: One-shot" % port \
            in status.stdout
        # /healthz read over the socket says so too (it said "up")
        http = ttalloc.document("/healthz", socket_path=server.socket)["http"]
        assert http["state"] == "waiting" and http["port"] == port
    finally:
        blocker.close()
    server.wait_for_log(r"^🌐 Dashboard: http://127.0.0.1:%d/ \(the port was free again after \d+ tr(y|ies)\)$"
                        % port, timeout=15)
    health = get("http://127.0.0.1:%d/healthz" % port).json()
    assert health["http"]["state"] == "up" and health["http"]["port"] == port
    assert health["http"]["port_in_use_tries"] >= 1
    status = subprocess.run([str(SMI_BIN), "--socket", server.socket], capture_output=True, text=True, timeout=20)
    assert "Server Status: ✅ Connected | Updates: One-shot" in status.stdout


def test_no_http_serves_nothing_and_says_so(server_factory):
    server = server_factory(args=["--no-http"])
    server.wait_for_log(r"^🌐 Dashboard: off \(--no-http\)$")


def test_bad_http_address_is_refused(short_dir):
    res = subprocess.run([str(SERVER_BIN), "--socket", str(short_dir / "x.sock"), "--http", "127.0.0.1:99999"],
                         capture_output=True, text=True, timeout=20)
    assert res.returncode == 2 and "bad port" in res.stderr and res.stdout == ""


# ---- devices ----

def test_devices_list_has_the_seed_keys_and_more(web):
    _, url = web
    devices = get_json(url + "api/devices")
    assert [d["device_id"] for d in devices] == [0, 1]
    for d in devices:
        assert SEED_KEYS <= set(d)
        assert d["name"] == "Wormhole_B0" and d["arch"] == "Wormhole_B0"
        assert d["dram_capacity"] == 12 * 1024 ** 3 and d["l1_capacity"] == 1440 * MiB
        assert isinstance(d["temperature_c"], float) and isinstance(d["power_w"], float)
        assert d["utilization_pct"] is None  # not simulated: null, never a made-up number
        assert d["process_count"] == 0 and d["buffer_count"] == 0


def test_device_stats_is_the_seed_object_and_follows_allocations(web):
    server, url = web
    c = RawClient(server.socket)
    c.alloc(1, DRAM, 0x800000000, 3 * MiB)
    c.alloc(1, L1, 0x10000, 2 * MiB)
    c.alloc(1, L1_SMALL, 0x20000, MiB)
    c.alloc(1, TRACE, 0x900000000, 5 * MiB)
    c.sync()
    stats = get_json(url + "api/devices/1/stats")
    assert stats == {"device_id": 1, "dram_allocated": 3 * MiB, "l1_allocated": 2 * MiB,
                     "l1_small_allocated": MiB, "trace_allocated": 5 * MiB}
    dev = get_json(url + "api/devices")[1]
    assert dev["buffer_count"] == 4 and dev["process_count"] == 1
    assert get_json(url + "api/devices/0/stats")["dram_allocated"] == 0
    c.close()


@pytest.mark.parametrize("path", ["api/devices/2/stats", "api/devices/99/stats", "api/devices/-1/stats",
                                  "api/devices/abc/stats", "api/devices/0/nothing", "api/nothing", "nothing"])
def test_unknown_paths_and_devices_are_404_json(web, path):
    _, url = web
    assert_json_error(get(url + path), 404)


def test_writes_are_refused_with_405_json(web):
    _, url = web
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("POST", "/api/devices", body=b"{}", headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 405
    assert "error" in json.loads(r.read())
    conn.close()


def test_connections_are_kept_alive(web):
    _, url = web
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    for path in ("/api/devices", "/healthz", "/metrics", "/api/processes"):
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        assert r.getheader("Connection", "").lower() != "close"
    conn.close()


# ---- processes and buffers ----

def test_processes_show_the_reporting_process_per_device(web):
    server, url = web
    c = RawClient(server.socket)
    c.alloc(0, DRAM, 0x800000000, 100 * MiB)
    c.alloc(1, L1, 0x10000, 150 * MiB)
    c.sync()
    procs = {p["pid"]: p for p in get_json(url + "api/processes")}
    me = procs[os.getpid()]
    assert me["name"] == Path("/proc/self/comm").read_text().strip()
    assert me["user"] and me["uid"] == os.getuid()
    assert me["dram_allocated"] == 100 * MiB and me["l1_allocated"] == 150 * MiB
    assert me["buffer_count"] == 2
    per_dev = {d["device_id"]: d for d in me["devices"]}
    assert per_dev[0]["dram_allocated"] == 100 * MiB and per_dev[0]["buffer_count"] == 1
    assert per_dev[1]["l1_allocated"] == 150 * MiB
    c.close()


def test_buffers_page_through_with_limit_and_offset(web):
    server, url = web
    c = RawClient(server.socket)
    for i in range(25):
        c.alloc(i % 2, DRAM, 0x800000000 + i * 0x100000, (i + 1) * 4096)
    c.sync()
    page = get_json(url + "api/buffers?limit=10&offset=20")
    assert page["buffer_count"] == 25 and page["limit"] == 10 and page["offset"] == 20
    assert len(page["buffers"]) == 5
    everything = get_json(url + "api/buffers?limit=1000")["buffers"]
    assert len(everything) == 25
    assert len({b["address"] for b in everything}) == 25
    b = everything[0]
    assert b["address"].startswith("0x") and b["pid"] == os.getpid() and b["type"] == "DRAM"
    dev1 = get_json(url + "api/buffers?device=1&limit=1000")
    assert dev1["buffer_count"] == 12 and all(b["device_id"] == 1 for b in dev1["buffers"])
    mine = get_json(url + "api/buffers?pid=%d&device=0" % os.getpid())
    assert mine["buffer_count"] == 13
    assert get_json(url + "api/buffers?pid=1")["buffer_count"] == 0
    assert len(get_json(url + "api/buffers")["buffers"]) == 25  # default limit 100
    c.close()


@pytest.mark.parametrize("query", ["limit=abc", "limit=1001", "limit=-1", "offset=x", "device=2",
                                   "device=-1", "device=", "pid=12ab", "limit=1e3"])
def test_bad_buffer_parameters_are_400_json(web, query):
    _, url = web
    message = assert_json_error(get(url + "api/buffers?" + query), 400)
    assert query.split("=")[0] in message


def test_a_parameter_the_document_does_not_take_is_400_with_the_ones_it_does(web):
    # a misspelt parameter used to be ignored: ?devcie=0 answered every device's buffers
    server, url = web
    message = assert_json_error(get(url + "api/buffers?devcie=0"), 400)
    assert message == ("unknown parameter 'devcie' for /api/buffers (it takes device, pid, limit, offset); "
                       "did you mean 'device'?")
    assert assert_json_error(get(url + "healthz?verbose=1"), 400) == \
        "unknown parameter 'verbose' for /healthz (it takes none)"
    assert "did you mean 'cells'" in assert_json_error(get(url + "api/devices/0/map?cell=8"), 400)
    # the same over the socket (DOC_QUERY): a reason longer than an ERROR frame's 63 bytes comes whole
    with pytest.raises(ttalloc.ServerError) as refused:
        ttalloc.document("/api/buffers?devcie=0", socket_path=server.socket)
    assert str(refused.value) == "server refused the request: " + message
    assert get_json(url + "api/buffers?device=0&pid=1&limit=5&offset=0")["buffer_count"] == 0


# ---- leaks ----

def leak_of(processes, server, url, allocs):
    """A client that makes `allocs` ("DEV TYPE ADDR SIZE") and exits holding them;
    returns its pid and /api/leaks once the report is in."""
    p = spawn_client(processes, server)
    pid = int(p.lines[0].split("=")[1])
    for a in allocs:
        do(p, "alloc " + a)
    do(p, "sync")
    p.send("exit")
    p.wait()
    doc = wait_for(lambda: (lambda d: d if d["leak_reports_total"] == 1 else None)(get_json(url + "api/leaks")),
                   5, what="a leak report")
    return pid, doc


def test_leaks_list_processes_that_exited_holding_buffers(web, processes):
    server, url = web
    pid, doc = leak_of(processes, server, url, ["0 0 0x800000000 %d" % (8 * MiB), "1 1 0x10000 %d" % MiB])
    rep = doc["reports"][0]
    assert rep["pid"] == pid and rep["buffer_count"] == 2 and rep["bytes"] == 9 * MiB
    assert {d["device_id"]: d["bytes"] for d in rep["devices"]} == {0: 8 * MiB, 1: MiB}
    assert {b["address"] for b in rep["buffers"]} == {"0x800000000", "0x10000"}
    assert doc["leaked_bytes_total"] == 9 * MiB
    assert rep["id"] == 1 and rep["buffers_kept"] == 2 and rep["buffers_omitted"] == 0


def test_a_leak_report_by_id_pages_through_every_kept_buffer(web, processes):
    server, url = web
    # more buffers than the list shows per report (20)
    pid, doc = leak_of(processes, server, url,
                       ["0 0 %#x %d" % (0x800000000 + i * 0x100000, (i + 1) * 4096) for i in range(25)])
    listed = doc["reports"][0]
    assert len(listed["buffers"]) == 20 and listed["buffers_omitted"] == 5 and listed["buffers_kept"] == 25
    rid = listed["id"]

    whole = get_json(url + "api/leaks/%d?limit=1000" % rid)
    assert whole["pid"] == pid and whole["id"] == rid and whole["buffer_count"] == 25
    assert len(whole["buffers"]) == 25 and whole["buffers_omitted"] == 0
    assert sum(b["size"] for b in whole["buffers"]) == whole["bytes"] == sum((i + 1) * 4096 for i in range(25))
    assert all(set(b) >= {"device_id", "address", "size", "type", "age_seconds", "stack"} for b in whole["buffers"])
    first = get_json(url + "api/leaks/%d" % rid)  # the default page: 100
    assert first["buffers"] == whole["buffers"] and first["limit"] == 100 and first["offset"] == 0
    rest = get_json(url + "api/leaks/%d?offset=20&limit=10" % rid)
    assert rest["buffers"] == whole["buffers"][20:] and rest["buffers_omitted"] == 20
    assert get_json(url + "api/leaks/%d?offset=30" % rid)["buffers"] == []

    gone = assert_json_error(get(url + "api/leaks/2"), 404)
    assert "1..1" in gone
    assert_json_error(get(url + "api/leaks/x"), 404)
    assert_json_error(get(url + "api/leaks/%d?limit=1001" % rid), 400)
    assert_json_error(get(url + "api/leaks/%d?offset=-1" % rid), 400)


# ---- history ----

def test_history_has_device_and_process_series(web):
    server, url = web
    c = RawClient(server.socket)
    c.alloc(0, DRAM, 0x800000000, 64 * MiB)
    c.sync()

    def sampled():
        h = get_json(url + "api/history?seconds=10")
        dram = h["devices"][0]["dram_allocated"]
        return h if dram and dram[-1] == 64 * MiB else None
    h = wait_for(sampled, 5, what="a history sample with the allocation")
    assert h["interval_ms"] == 100
    n = len(h["timestamps"])
    assert all(len(d[k]) == n for d in h["devices"] for k in ("dram_allocated", "l1_allocated", "l1_small_allocated",
                                                             "trace_allocated"))
    assert h["timestamps"] == sorted(h["timestamps"])
    procs = [p for p in h["processes"] if p["pid"] == os.getpid()]
    assert procs and procs[0]["device_id"] == 0 and procs[0]["dram_allocated"][-1] == 64 * MiB
    assert len(procs[0]["dram_allocated"]) == n

    only = get_json(url + "api/history?device=1&pid=%d&seconds=1" % os.getpid())
    assert [d["device_id"] for d in only["devices"]] == [1]
    assert only["processes"] == []                  # this process holds nothing on device 1
    assert len(only["timestamps"]) <= 11
    few = get_json(url + "api/history?points=3")
    assert len(few["timestamps"]) <= 3 and few["step_ms"] >= 100
    c.close()


def test_history_has_each_devices_temperature_and_power(web):
    server, url = web
    c = RawClient(server.socket)
    idle = get_json(url + "api/devices/1")
    c.alloc(1, DRAM, 0x800000000, 2048 * MiB)  # the simulation warms up with its memory in use
    c.sync()
    # readings are refreshed at most every 200 ms: wait for the warmer ones
    now = wait_for(lambda: (lambda d: d if d["temperature_c"] > idle["temperature_c"] else None)(
        get_json(url + "api/devices/1")), 5, what="device 1's readings with 2 GiB in use")

    def sampled():
        h = get_json(url + "api/history?seconds=10")
        d1 = h["devices"][1]
        return h if d1["temperature_c"][-1] == now["temperature_c"] and d1["power_w"][-1] == now["power_w"] else None
    h = wait_for(sampled, 5, what="a history sample with the new readings")
    n = len(h["timestamps"])
    for d in h["devices"]:
        assert len(d["temperature_c"]) == n and len(d["power_w"]) == n
        assert all(isinstance(v, float) for v in d["temperature_c"] + d["power_w"])  # the simulation reads both
    assert h["devices"][1]["temperature_c"][0] == idle["temperature_c"]  # before the allocation
    assert h["devices"][0]["temperature_c"][-1] == idle["temperature_c"]  # device 0 stayed idle
    one = get_json(url + "api/history?points=1")
    assert one["devices"][1]["temperature_c"] == [now["temperature_c"]]
    c.close()


def test_history_readings_the_hardware_cannot_take_are_null(server_factory):
    # the n300 fixture: chip 0 has hwmon (52.937 °C, 61 W), its remote chip 1 none
    server = server_factory(args=["--http", "127.0.0.1:0", "--history-interval", "100",
                                  "--hw-root", str(REPO / "tests" / "fixtures" / "n300")])
    url = dashboard_url(server)
    h = wait_for(lambda: (lambda h: h if len(h["timestamps"]) >= 2 else None)(get_json(url + "api/history")),
                 5, what="two history samples")
    d0, d1 = h["devices"]
    assert set(d0["temperature_c"]) == {52.937} and set(d0["power_w"]) == {61.0}
    assert set(d1["temperature_c"]) == {None} and set(d1["power_w"]) == {None}
    assert len(d1["power_w"]) == len(h["timestamps"])


@pytest.mark.parametrize("query", ["seconds=abc", "device=7", "pid=x", "points=0", "points=100000"])
def test_bad_history_parameters_are_400_json(web, query):
    _, url = web
    assert_json_error(get(url + "api/history?" + query), 400)


# ---- events ----

class EventReader:
    """Reads Server-Sent Events from /api/events in a thread."""

    def __init__(self, url, source=None):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10,
                                               source_address=(source, 0) if source else None)
        self.conn.request("GET", "/api/events", headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        self.events = []
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        data, name = [], None
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line.startswith("event: "):
                    name = line[7:]
                elif line == "" and data:
                    with self.lock:
                        self.events.append((name, json.loads("\n".join(data))))
                    data, name = [], None
        except Exception:  # closed by the test, or by the server at teardown
            return

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def close(self):
        # shutdown first: the reader thread's readline holds the response's lock
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


def test_event_stream_sends_an_event_after_an_allocation(web):
    server, url = web
    ev = EventReader(url)
    assert ev.resp.status == 200
    assert ev.resp.getheader("Content-Type").startswith("text/event-stream")
    first = wait_for(ev.snapshot, 5, what="the first event")
    assert first[0][0] == "update" and len(first[0][1]["devices"]) == 2
    c = RawClient(server.socket)
    t0 = time.monotonic()
    c.alloc(1, DRAM, 0x800000000, 42 * MiB)
    c.sync()

    def shows():
        return [e for n, e in ev.snapshot() if e["devices"][1]["dram_allocated"] == 42 * MiB]
    got = wait_for(shows, 2.0, interval=0.01, what="an event with the allocation")
    assert time.monotonic() - t0 < 2.0
    assert got[0]["seq"] > first[0][1]["seq"]
    # a burst of changes is coalesced, never one event per frame
    for i in range(200):
        c.alloc(0, DRAM, 0x100000 * (i + 1), 4096)
    c.sync()
    wait_for(lambda: ev.snapshot()[-1][1]["devices"][0]["buffer_count"] == 200, 3, what="the burst")
    assert len(ev.snapshot()) < 20
    ev.close()
    c.close()


def test_ingest_goes_on_while_event_streams_are_open(web):
    server, url = web
    readers = [EventReader(url) for _ in range(5)]
    c = RawClient(server.socket)
    t0 = time.monotonic()
    for i in range(5000):
        c.alloc(0, DRAM, 0x1000 * (i + 1), 4096)
    c.sync()
    assert time.monotonic() - t0 < 10
    assert get_json(url + "api/devices/0/stats")["dram_allocated"] == 5000 * 4096
    for r in readers:
        r.close()
    c.close()


def test_event_streams_are_bounded_per_client_address(web):
    _, url = web
    readers = [EventReader(url) for _ in range(8)]  # HTTP_MAX_STREAMS_PER_CLIENT
    try:
        wait_for(lambda: all(r.snapshot() for r in readers), 10, what="8 streams to start")
        r = get(url + "api/events")
        assert_json_error(r, 503)
        assert r.headers.get("Connection", "").lower() == "close"
        assert get(url + "api/devices").status == 200
        # another address (all of 127.0.0.0/8 is this host) still gets a stream
        other = EventReader(url, source="127.0.0.2")
        readers.append(other)
        wait_for(other.snapshot, 10, what="a stream from another address")
        metrics = get(url + "metrics").body.decode()
        assert 'ttalloc_http_refused_total{reason="streams"} 1' in metrics
        assert "ttalloc_http_streams 9" in metrics
    finally:
        for r in readers:
            r.close()


# ---- dashboard ----

@pytest.mark.parametrize("path", ["", "dashboard.html"])
def test_dashboard_page_is_served_from_the_binary(web, path):
    _, url = web
    r = get(url + path)
    assert r.status == 200 and r.content_type.startswith("text/html")
    page = r.body.decode()
    assert "<title>ttalloc" in page and "/api/events" in page
    assert "http://" not in page.split("<script>")[1]  # nothing fetched from elsewhere
