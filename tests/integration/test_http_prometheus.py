"""A real Prometheus (Debian's prometheus) scrapes the real server on loopback
every second; a PromQL query through Prometheus's HTTP API returns the bytes
a client just allocated.

Missing prometheus skips the test outside CI and fails it under CI=true.
"""

import json
import os
import signal
import subprocess
import urllib.parse

import pytest

from http_support import DRAM, MiB, RawClient, dashboard_url, free_port, get, tool, wait_for


@pytest.fixture
def prometheus(tmp_path):
    """start(target "host:port") -> Prometheus base URL; killed at teardown."""
    binary = tool("prometheus", "/usr/bin/prometheus")
    procs = []

    def start(target):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ttalloc\n    static_configs:\n"
            "      - targets: ['%s']\n" % target)
        log = open(tmp_path / "prometheus.log", "wb")
        proc = subprocess.Popen([binary, "--config.file=%s" % config,
                                 "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % port,
                                 "--storage.tsdb.retention.time=1h"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append((proc, log))
        base = "http://127.0.0.1:%d/" % port

        def ready():
            if proc.poll() is not None:
                pytest.fail("prometheus exited (rc %s):\n%s"
                            % (proc.returncode, (tmp_path / "prometheus.log").read_text()[-3000:]))
            try:
                return get(base + "-/ready", timeout=1).status == 200
            except OSError:
                return False
        wait_for(ready, 30, interval=0.2, what="prometheus to be ready")
        return base

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def api(base, path, **params):
    r = get(base + path + "?" + urllib.parse.urlencode(params), timeout=5)
    assert r.status == 200, r.body[:300]
    doc = json.loads(r.body)
    assert doc["status"] == "success", doc
    return doc["data"]


def test_prometheus_scrapes_the_server_and_promql_returns_the_allocation(server_factory, prometheus):
    server = server_factory(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(server)
    target = urllib.parse.urlsplit(url).netloc
    prom = prometheus(target)

    def target_up():
        targets = api(prom, "api/v1/targets")["activeTargets"]
        return [t for t in targets if t["scrapeUrl"] == url + "metrics" and t["health"] == "up"]
    up = wait_for(target_up, 30, interval=0.25, what="prometheus to scrape the server")
    assert up[0]["labels"]["job"] == "ttalloc"

    size = 123 * MiB + 4096
    c = RawClient(server.socket)
    c.alloc(1, DRAM, 0x800000000, size)
    c.sync()
    query = 'ttalloc_process_memory_used_bytes{device="1",type="dram",pid="%d"}' % os.getpid()

    def answered():
        result = api(prom, "api/v1/query", query=query)["result"]
        return result if result and float(result[0]["value"][1]) == size else None
    result = wait_for(answered, 20, interval=0.25, what="PromQL to return the allocation")
    assert result[0]["metric"]["job"] == "ttalloc"

    # the README's Grafana-style queries work as written
    used = api(prom, "api/v1/query", query='sum by (device) (ttalloc_device_memory_used_bytes{type="dram"})')
    by_device = {r["metric"]["device"]: float(r["value"][1]) for r in used["result"]}
    assert by_device["1"] == size
    pct = api(prom, "api/v1/query",
              query='100 * ttalloc_device_memory_used_bytes{type="dram"} / ttalloc_device_memory_total_bytes')
    pct_by_device = {r["metric"]["device"]: float(r["value"][1]) for r in pct["result"]}
    assert abs(pct_by_device["1"] - 100.0 * size / (12 * 1024 ** 3)) < 1e-6
    c.close()
