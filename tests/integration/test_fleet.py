"""Issue 14, items 4 and 5: a fleet in one test.

One real Prometheus (Debian's) scrapes three real servers, each on its own
socket and port and told it is another host (--hostname h1, h2, h3), with
different loads, every 200 ms, with deploy/prometheus's rule files loaded.
The fleet queries (top processes across hosts, DRAM per host) answer; the
memory alert is pending (its `for` is 5 minutes) for the overloaded host
only; and every panel of deploy/grafana/ttalloc.json, its variables filled
as Grafana fills them, runs without error, the core panels with data.
"""

import json
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import Server
from http_support import DRAM, L1, MiB, dashboard_url, free_port
from prometheus_support import Prometheus, prometheus_factory  # noqa: F401

SUPPORT = Path(__file__).resolve().parent / "http_support.py"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GiB = 1024 * MiB

# (host, [(process name, device, type, bytes)]): h1 is over 90 % of device 0's 12 GiB of DRAM
LOADS = [
    ("h1", [("trainer", 0, DRAM, 11 * GiB + 512 * MiB), ("eval", 1, DRAM, 2 * GiB)]),
    ("h2", [("serve", 0, DRAM, 4 * GiB), ("serve2", 1, L1, 256 * MiB)]),
    ("h3", [("notebook", 0, DRAM, 1 * GiB), ("notebook2", 1, DRAM, 3 * GiB)]),
]
# panels that may be empty on this fleet: nothing fires yet (the alert is pending), simulated
# devices have no kernel's view, no tt-metal slot, no container labels, and no client reports
# allocation failures
MAY_BE_EMPTY = {"Firing alerts", "Untracked and vanished processes", "Stale tt-metal memory", "Containers and pods",
                "Allocation failures"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    work = tmp_path_factory.mktemp("fleet")
    servers, clients = [], []
    try:
        for host, load in LOADS:
            srv = Server(work / (host + ".sock"), work / (host + ".log"),
                         ["--devices", "sim:2", "--hostname", host, "--history-interval", "100"]).start()
            servers.append(srv)
            for name, device, buffer_type, size in load:
                p = _client(srv, name)
                clients.append(p)
                p.send("alloc %d %d %d %d" % (device, buffer_type, 0x10000000, size))
                p.expect("^ok")
                p.send("sync")
                p.expect("^ok")
        targets = [urllib.parse.urlsplit(dashboard_url(s)).netloc for s in servers]
        rules = [str(DEPLOY / "prometheus/rules/ttalloc-recording.yml"),
                 str(DEPLOY / "prometheus/rules/ttalloc-alerts.yml")]
        config = ("global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n  evaluation_interval: 200ms\n"
                  "rule_files: [%s]\n" % ", ".join("'%s'" % r for r in rules)
                  + "scrape_configs:\n  - job_name: ttalloc\n    static_configs:\n      - targets: [%s]\n"
                  % ", ".join("'%s'" % t for t in targets))
        prom = Prometheus(work / "prometheus", config)
        try:
            prom.wait_targets_up(3)
            yield prom, dict(zip((h for h, _ in LOADS), targets)), clients
        finally:
            prom.stop()
    finally:
        for p in clients:
            p.close()
        for s in servers:
            s.check_clean_exit()


def _client(server, comm):
    from conftest import LineProcess
    p = LineProcess([sys.executable, str(SUPPORT), server.socket],
                    env=server.env(extra={"TTALLOC_TEST_COMM": comm}))
    p.expect(r"^pid=\d+")
    return p


def test_fleet_queries_and_the_memory_alert(fleet):
    prom, targets, _ = fleet
    # DRAM per host, named by the servers' --hostname
    per_host = prom.wait_query("ttalloc:host_dram_used_bytes", lambda r: len(r) == 3)
    got = {r["metric"]["hostname"]: float(r["value"][1]) for r in per_host}
    assert got == {"h1": 13.5 * GiB, "h2": 4 * GiB, "h3": 4 * GiB}
    assert {r["metric"]["hostname"]: r["metric"]["instance"] for r in per_host} == targets
    # the top processes across the fleet, with their hosts
    top = prom.query('topk(3, ttalloc:process_dram_used_bytes{pid!="other"})')
    assert [(r["metric"]["hostname"], r["metric"]["process"]) for r in
            sorted(top, key=lambda r: -float(r["value"][1]))] == [("h1", "trainer"), ("h2", "serve"),
                                                                   ("h3", "notebook2")]
    # device identities differ between hosts (the labels a fleet joins on)
    serials = prom.query("count by (serial) (ttalloc_device_info)")
    assert len(serials) == 6 and all(float(r["value"][1]) == 1 for r in serials)
    # the memory alert: pending (for: 5m) for h1's device 0, nobody else
    alerts = prom.wait_query('ALERTS{alertname="TTAllocDeviceMemoryHigh"}', lambda r: len(r) >= 1,
                             what="TTAllocDeviceMemoryHigh to be pending")
    for _ in range(5):  # and it stays so across several evaluations
        alerts = prom.query('ALERTS{alertname="TTAllocDeviceMemoryHigh"}')
        assert [(a["metric"]["instance"], a["metric"]["device"]) for a in alerts] == [(targets["h1"], "0")], alerts
        assert alerts[0]["metric"]["alertstate"] in ("pending", "firing")
    api_alerts = prom.api("api/v1/alerts")["alerts"]
    assert {a["labels"]["alertname"] for a in api_alerts} == {"TTAllocDeviceMemoryHigh"}, api_alerts


# ---- the Grafana dashboard against this fleet ----

def promql_regex(values):
    """Grafana's "All" of a multi-value variable: the values as one regex, escaped for a PromQL string."""
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in values) or "__none__"


def label_values(prom, query, variables):
    """Grafana's label_values(SELECTOR, LABEL) through the series API."""
    m = re.fullmatch(r"label_values\((.*), *(\w+)\)", query)
    assert m, query
    selector = fill(m.group(1), variables)
    series = prom.api("api/v1/series", **{"match[]": selector})
    return sorted({s[m.group(2)] for s in series if m.group(2) in s})


def fill(expr, variables):
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("$" + name, variables[name])
    return expr


def test_every_dashboard_panel_runs_and_core_panels_have_data(fleet):
    prom, targets, _ = fleet
    dash = json.loads((DEPLOY / "grafana/ttalloc.json").read_text())
    variables = {"__rate_interval": "2s", "__interval": "1s", "__range": "1m"}
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        values = label_values(prom, v["query"]["query"], variables)
        assert values, "template variable %s has no values" % v["name"]
        variables[v["name"]] = promql_regex(values)
    assert variables["host"] == "h1|h2|h3"
    # rates and increases need two samples in their window: wait until one has them
    prom.wait_query(fill("rate(ttalloc_http_refused_total{instance=~\"$instance\"}[$__rate_interval])", variables),
                    lambda r: len(r) > 0)
    problems = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            expr = fill(t["expr"], variables)
            assert "$" not in expr, expr
            try:
                result = prom.query(expr)
            except AssertionError as e:
                problems.append("%s: %s fails: %s" % (panel["title"], expr, e))
                continue
            if not result and panel["title"] not in MAY_BE_EMPTY:
                problems.append("%s: %s has no data" % (panel["title"], expr))
    assert not problems, "\n".join(problems)


# ---- tt_smi --prometheus ----

def smi(*args, timeout=30):
    from conftest import SMI_BIN
    return subprocess.run([str(SMI_BIN), *args], capture_output=True, text=True, timeout=timeout)


def test_tt_smi_shows_the_fleet_from_prometheus(fleet):
    prom, targets, _ = fleet
    out = smi("--prometheus", prom.base, "--width", "110")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = [l for l in lines if re.match(r"│ h\d ", l)]
    # hosts x devices, then the top processes (their host named)
    devices = [l for l in rows if "DRAM:" in l]
    assert [l.split()[1] + ":" + l.split()[2] for l in devices] == ["h1:0", "h1:1", "h2:0", "h2:1", "h3:0", "h3:1"]
    assert "DRAM:  11.5GB / 12.0GB  (95%)" in devices[0]
    assert "°C" in devices[0] and "W" in devices[0]
    procs = [l.split()[1] + ":" + l.split()[5] for l in rows if "DRAM:" not in l]
    assert procs[:3] == ["h1:trainer", "h2:serve", "h3:notebook2"], rows
    assert "Prometheus: ✅ 3 hosts, 6 devices | Updates: One-shot" in out.stdout


def test_tt_smi_says_when_prometheus_is_unreachable_or_has_no_ttalloc(prometheus_factory):
    port = free_port()  # nothing listens there
    out = smi("--prometheus", "http://127.0.0.1:%d" % port)
    assert out.returncode == 1
    assert "tt_smi: cannot reach Prometheus at http://127.0.0.1:%d" % port in out.stderr
    empty = prometheus_factory("global:\n  scrape_interval: 1s\nscrape_configs: []\n")
    out = smi("--prometheus", empty.base)
    assert out.returncode == 1
    assert "has no ttalloc series" in out.stderr and "deploy/prometheus" in out.stderr
    out = smi("--prometheus", "prom:9090")
    assert out.returncode == 2 and "an http:// or https:// URL" in out.stderr


def test_tt_smi_redraws_the_fleet_every_period(fleet):
    from conftest import SMI_BIN
    prom, _, _ = fleet
    p = subprocess.Popen([str(SMI_BIN), "--prometheus", prom.base, "-l", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.monotonic() + 20
        while len([l for l in seen if l.startswith("Prometheus: ✅")]) < 2 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen.append(line)
        assert len([l for l in seen if l.startswith("Prometheus: ✅")]) >= 2, "".join(seen) + p.stderr.read()
        assert "Updates: Real-time" in "".join(seen)
    finally:
        p.terminate()
        assert p.wait(10) == 0
