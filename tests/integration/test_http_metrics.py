"""GET /metrics: the Prometheus text exposition format 0.0.4, parsed line by
line, against the real server and real protocol clients."""

import os
import re
import signal
import sys
from pathlib import Path

from http_support import DRAM, L1, MiB, RawClient, get, wait_for

SUPPORT = Path(__file__).resolve().parent / "http_support.py"

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')

GAUGES = ["ttalloc_device_memory_used_bytes", "ttalloc_device_memory_total_bytes",
          "ttalloc_process_memory_used_bytes", "ttalloc_live_buffers",
          "ttalloc_device_temperature_celsius", "ttalloc_device_power_watts"]
COUNTERS = ["ttalloc_events_total", "ttalloc_leaked_bytes_total", "ttalloc_protocol_errors_total"]


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, "bad label syntax at %r" % text[pos:]
        assert m.group(1) not in labels, "label %s twice" % m.group(1)
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return labels


def parse(text):
    """{family: {"type": ..., "help": ..., "samples": [(labels, value)]}}, checking the format."""
    assert text.endswith("\n")
    families, current = {}, None
    for line in text.split("\n")[:-1]:
        assert line, "empty line in the exposition"
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            assert name not in families, "family %s declared twice" % name
            families[name] = {"help": help_text, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name == current and families[name]["type"] is None
            assert kind in ("gauge", "counter")
            families[name]["type"] = kind
        else:
            assert not line.startswith("#"), line
            m = SAMPLE_RE.match(line)
            assert m, "not a sample line: %r" % line
            name = m.group(1)
            assert name == current, "sample %s outside its family (%s)" % (name, current)
            value = float(m.group(3))
            labels = parse_labels(m.group(2) or "")
            assert (labels, value) not in families[name]["samples"]
            families[name]["samples"].append((labels, value))
    for name, fam in families.items():
        assert fam["type"], "%s has no TYPE" % name
        if fam["type"] == "counter":
            assert name.endswith("_total")
        keys = [tuple(sorted(labels.items())) for labels, _ in fam["samples"]]
        assert len(keys) == len(set(keys)), "duplicate series in %s" % name
    return families


def value(families, name, **labels):
    want = {k: str(v) for k, v in labels.items()}
    found = [v for l, v in families[name]["samples"] if all(l.get(k) == x for k, x in want.items())]
    assert len(found) == 1, "%s%r: %d series" % (name, want, len(found))
    return found[0]


def scrape(url):
    r = get(url + "metrics")
    assert r.status == 200
    assert r.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return parse(r.body.decode("utf-8"))


def test_metrics_declare_every_family_the_issue_names(web):
    _, url = web
    fam = scrape(url)
    for name in GAUGES:
        assert fam[name]["type"] == "gauge", name
    for name in COUNTERS:
        assert fam[name]["type"] == "counter", name
    assert value(fam, "ttalloc_device_memory_total_bytes", device=0, type="dram") == 12 * 1024 ** 3
    assert value(fam, "ttalloc_device_memory_total_bytes", device=1, type="l1") == 1440 * MiB
    assert value(fam, "ttalloc_device_temperature_celsius", device=0) > 0
    assert value(fam, "ttalloc_device_power_watts", device=1) > 0
    reasons = {l["reason"] for l, _ in fam["ttalloc_protocol_errors_total"]["samples"]}
    assert {"bad_device", "bad_size", "pid_mismatch", "foreign_free", "unknown_free"} <= reasons


def test_metrics_follow_allocations_per_device_and_process(web):
    server, url = web
    c = RawClient(server.socket)
    c.alloc(0, DRAM, 0x800000000, 300 * MiB)
    c.alloc(0, L1, 0x10000, 20 * MiB)
    c.alloc(1, DRAM, 0x800000000, 7 * MiB)
    c.sync()
    fam = scrape(url)
    assert value(fam, "ttalloc_device_memory_used_bytes", device=0, type="dram") == 300 * MiB
    assert value(fam, "ttalloc_device_memory_used_bytes", device=0, type="l1") == 20 * MiB
    assert value(fam, "ttalloc_device_memory_used_bytes", device=1, type="dram") == 7 * MiB
    assert value(fam, "ttalloc_live_buffers", device=0) == 2
    comm = Path("/proc/self/comm").read_text().strip()
    mine = value(fam, "ttalloc_process_memory_used_bytes", device=0, pid=os.getpid(), type="dram")
    assert mine == 300 * MiB
    labels = [l for l, _ in fam["ttalloc_process_memory_used_bytes"]["samples"] if l["pid"] == str(os.getpid())]
    assert all(l["process"] == comm and l["user"] for l in labels)
    assert value(fam, "ttalloc_events_total", kind="alloc") == 3
    c.free(0, 0x10000)
    c.sync()
    fam = scrape(url)
    assert value(fam, "ttalloc_device_memory_used_bytes", device=0, type="l1") == 0
    assert value(fam, "ttalloc_events_total", kind="free") == 1
    c.close()


def test_protocol_errors_and_leaks_are_counted(web, processes):
    server, url = web
    c = RawClient(server.socket)
    c.alloc(9, DRAM, 0x1000, 4096)        # no device 9
    c.free(0, 0xdead0000)                 # nothing there
    c.sync()
    fam = scrape(url)
    assert value(fam, "ttalloc_protocol_errors_total", reason="bad_device") == 1
    assert value(fam, "ttalloc_protocol_errors_total", reason="unknown_free") == 1

    p = processes([sys.executable, str(SUPPORT), server.socket])
    p.expect(r"^pid=\d+")
    for line in ("alloc 1 0 0x800000000 %d" % (5 * MiB), "sync", "exit"):
        p.send(line)
    p.wait()
    fam = wait_for(lambda: (lambda f: f if value(f, "ttalloc_leaked_bytes_total", device=1) else None)(scrape(url)),
                   5, what="the leak to be counted")
    assert value(fam, "ttalloc_leaked_bytes_total", device=1) == 5 * MiB
    assert value(fam, "ttalloc_leaked_bytes_total", device=0) == 0
    c.close()


def test_label_values_are_escaped(web, processes):
    server, url = web
    weird = 'a"b\\c d'
    env = dict(os.environ, TTALLOC_TEST_COMM=weird)
    p = processes([sys.executable, str(SUPPORT), server.socket], env=env)
    pid = int(p.expect(r"^pid=(\d+)").group(1))
    p.send("alloc 0 0 0x800000000 4096")
    p.expect("^ok$")
    p.send("sync")
    p.expect("^ok$")
    text = get(url + "metrics").body.decode()
    assert 'process="a\\"b\\\\c d"' in text
    fam = parse(text)
    assert value(fam, "ttalloc_process_memory_used_bytes", pid=pid, type="dram") == 4096
    labels = [l for l, _ in fam["ttalloc_process_memory_used_bytes"]["samples"] if l["pid"] == str(pid)]
    assert labels[0]["process"] == weird


def test_clients_on_the_shared_memory_ring_are_counted(web, processes):
    from conftest import BIN
    server, url = web
    env = dict(os.environ, TT_ALLOC_TRACKING_ENABLED="1", TT_ALLOC_SERVER_SOCKET=server.socket)
    p = processes([str(BIN / "ttalloc-load"), "-n", "3", "-s", "1M", "--hold-ms", "-1", "-q"], env=env)
    wait_for(lambda: value(scrape(url), "ttalloc_live_buffers", device=0) == 3, timeout=10,
             what="the three buffers")
    fam = scrape(url)
    assert fam["ttalloc_ring_clients"]["type"] == "gauge"
    assert value(fam, "ttalloc_ring_clients") == 1
    assert value(fam, "ttalloc_rings_attached_total") == 1
    assert value(fam, "ttalloc_events_total", kind="alloc") == 3  # ring events count as events
    p.kill(signal.SIGTERM)  # ttalloc-load frees what it holds on SIGTERM
    p.wait(10)
    wait_for(lambda: value(scrape(url), "ttalloc_ring_clients") == 0, timeout=10, what="the ring's release")
    assert value(scrape(url), "ttalloc_events_total", kind="free") == 3
