#!/usr/bin/env python3
"""Writes deploy/grafana/ttalloc.json, the Grafana dashboard of a ttalloc
fleet: fleet overview -> host -> device -> process, with template
variables host (ttalloc_host_info's hostname), instance (hidden: the
targets of the chosen hosts), device and process.

    python3 deploy/grafana/make_dashboard.py          # rewrite ttalloc.json
    python3 deploy/grafana/make_dashboard.py --check  # exit 1 when it is out of date

The panels query Prometheus with the recording rules of
deploy/prometheus/rules/ttalloc-recording.yml (ttalloc:*), so load those.
tests/integration/test_deploy.py runs every panel's PromQL against a real
Prometheus scraping real servers.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ttalloc.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
DEV = 'instance=~"$instance",device=~"$device"'

_ids = iter(range(1, 1000))


def target(expr, legend="", instant=False, fmt="time_series"):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": "A", "format": fmt}
    if instant:
        t["instant"] = True
        t["range"] = False
    return t


def panel(kind, title, x, y, w, h, targets, unit=None, description="", **extra):
    p = {"id": next(_ids), "type": kind, "title": title, "description": description, "datasource": DS,
         "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []}, "options": {}}
    p.update(extra)
    return p


def stat(title, x, y, expr, unit="none", description=""):
    return panel("stat", title, x, y, 4, 4, [target(expr, instant=True)], unit, description,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "none"})


def series(title, x, y, w, expr, legend, unit, description=""):
    return panel("timeseries", title, x, y, w, 8, [target(expr, legend)], unit, description)


def table(title, x, y, w, expr, unit="none", description=""):
    return panel("table", title, x, y, w, 8, [target(expr, instant=True, fmt="table")], unit, description,
                 transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True}}}])


def row(title, y):
    return {"id": next(_ids), "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def variable(name, label, query, hide=0, include_all=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS, "hide": hide,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "refresh": 2, "multi": True, "includeAll": include_all,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 3, "regex": ""}


def panels():
    p = [row("Fleet", 0)]
    p += [
        stat("Hosts reporting", 0, 1, "count(ttalloc_host_info)"),
        stat("Devices reporting", 4, 1, "count(ttalloc_device_info)"),
        stat("DRAM in use, fleet", 8, 1, "sum(ttalloc:device_dram_used_bytes)", "bytes"),
        stat("Devices over 90 % DRAM", 12, 1, "count(ttalloc:device_dram_used_ratio > 0.9) or vector(0)",
             description="TTAllocDeviceMemoryHigh fires for each after 5 minutes"),
        stat("Leaked, last 15 min", 16, 1, "sum(ttalloc:leaked_bytes:increase15m) or vector(0)", "bytes"),
        stat("Servers down", 20, 1, 'count(up{job=~"ttalloc.*"} == 0) or vector(0)'),
        panel("bargauge", "DRAM in use per host, now", 0, 5, 12, 8,
              [target("sort_desc(ttalloc:host_dram_used_bytes)", "{{hostname}}", instant=True)], "bytes",
              options={"orientation": "horizontal", "displayMode": "gradient"}),
        table("Top processes across the fleet (DRAM)", 12, 5, 12,
              'topk(10, ttalloc:process_dram_used_bytes{pid!="other"})', "bytes"),
        table("Firing alerts", 0, 13, 24, 'ALERTS{alertname=~"TTAlloc.*", alertstate="firing"}',
              description="ttalloc's alert rules (deploy/prometheus/rules/ttalloc-alerts.yml) firing now"),
    ]
    p.append(row("Host", 21))
    p += [
        series("DRAM in use per host", 0, 22, 12, 'ttalloc:host_dram_used_bytes{hostname=~"$host"}', "{{hostname}}",
               "bytes"),
        series("DRAM in use per device, % of capacity", 12, 22, 12,
               "100 * ttalloc:device_dram_used_ratio{%s}" % SEL, "{{instance}} device {{device}}", "percent"),
        table("Device identity", 0, 30, 24, "ttalloc_device_info{%s}" % SEL,
              description="identity: serial, asic_id, pci_bus_id, card_type, uuid (made up for simulated devices)"),
        series("HTTP refusals", 0, 38, 12,
               "sum by (instance, reason) (rate(ttalloc_http_refused_total{%s}[$__rate_interval]))" % SEL,
               "{{instance}} {{reason}}", "reqps",
               description="connections and requests the server refused or cut (limits, credentials, timeouts)"),
        series("Allocation failures", 12, 38, 12,
               "sum by (instance, device, type) (increase(ttalloc_alloc_failures_total{%s}[$__rate_interval]))"
               % DEV, "{{instance}} device {{device}} {{type}}", "none"),
    ]
    p.append(row("Device", 46))
    p += [
        series("DRAM in use", 0, 47, 8, "ttalloc:device_dram_used_bytes{%s}" % DEV, "{{instance}} device {{device}}",
               "bytes"),
        series("L1 in use", 8, 47, 8, "ttalloc:device_l1_used_bytes{%s}" % DEV, "{{instance}} device {{device}}",
               "bytes"),
        series("Live buffers", 16, 47, 8, "ttalloc_live_buffers{%s}" % DEV, "{{instance}} device {{device}}", "none"),
        series("Temperature", 0, 55, 8, "ttalloc_device_temperature_celsius{%s}" % DEV,
               "{{instance}} device {{device}}", "celsius"),
        series("Power", 8, 55, 8, "ttalloc_device_power_watts{%s}" % DEV, "{{instance}} device {{device}}", "watt"),
        series("Leaked bytes", 16, 55, 8,
               "increase(ttalloc_leaked_bytes_total{%s}[$__rate_interval])" % DEV, "{{instance}} device {{device}}",
               "bytes"),
        series("Untracked and vanished processes", 0, 63, 8,
               "ttalloc_untracked_processes{%s} or ttalloc_vanished_processes{%s}" % (DEV, DEV),
               "{{instance}} device {{device}} {{__name__}}", "none",
               description="processes holding the device without reporting (the kernel's view; not for simulated "
                           "devices)"),
        series("Stale tt-metal memory", 8, 63, 8,
               "sum by (instance, device) (ttalloc_process_stale_memory_bytes{%s})" % DEV,
               "{{instance}} device {{device}}", "bytes"),
    ]
    p.append(row("Process", 71))
    proc = 'instance=~"$instance",device=~"$device",process=~"$process"'
    p += [
        series("DRAM per process", 0, 72, 24, "ttalloc:process_dram_used_bytes{%s}" % proc,
               "{{hostname}} {{process}} ({{pid}}) device {{device}}", "bytes"),
        table("Processes", 0, 80, 12,
              "sum by (hostname, pid, process, user, device) (ttalloc:process_dram_used_bytes{%s})" % proc, "bytes"),
        table("Containers and pods", 12, 80, 12,
              'sum by (hostname, namespace, pod, container) (ttalloc_process_memory_used_bytes{%s,pod!=""}'
              ' * on (job, instance) group_left (hostname) ttalloc_host_info)' % SEL, "bytes",
              description="needs ttalloc-server --metrics-labels pod,namespace,container"),
    ]
    return p


def dashboard():
    return {
        "title": "ttalloc: accelerator memory, fleet to process",
        "uid": "ttalloc-fleet",
        "description": "Device memory of every ttalloc-server a Prometheus scrapes: fleet, host, device, process.",
        "tags": ["ttalloc", "accelerators", "tenstorrent"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": ""},
            variable("host", "Host", "label_values(ttalloc_host_info, hostname)"),
            variable("instance", "Target", 'label_values(ttalloc_host_info{hostname=~"$host"}, instance)', hide=2),
            variable("device", "Device", 'label_values(ttalloc_device_info{instance=~"$instance"}, device)'),
            variable("process", "Process",
                     'label_values(ttalloc_process_memory_used_bytes{instance=~"$instance",device=~"$device",'
                     'pid!="other"}, process)'),
        ]},
        "panels": panels(),
        "annotations": {"list": []},
        "links": [],
    }


def main():
    parser = argparse.ArgumentParser(description="Writes deploy/grafana/ttalloc.json, the fleet dashboard.")
    parser.add_argument("--check", action="store_true", help="exit 1 when ttalloc.json is out of date; write nothing")
    args = parser.parse_args()
    text = json.dumps(dashboard(), indent=2) + "\n"
    if args.check:
        with open(OUT) as f:
            if f.read() != text:
                print("deploy/grafana/ttalloc.json is out of date: run deploy/grafana/make_dashboard.py")
                return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
