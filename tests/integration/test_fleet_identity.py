"""Issue 14, items 1-3 against the real server: the identity a fleet joins
on (ttalloc_build_info, _server_start_time_seconds, _host_info,
ttalloc_device_info's serial/asic_id/pci_bus_id/card_type/uuid, the same in
/api/devices and tt_smi), per-process series bounded by
--metrics-processes, and each process's container and pod from its cgroup
and the kubelet's /var/log/pods (under --hw-root: a tree built here for the
real pids of real reporting processes, from tests/fixtures/containers)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SMI_BIN
from http_support import DRAM, L1, MiB, dashboard_url, get, get_json, wait_for
from test_http_metrics import parse, value

SUPPORT = Path(__file__).resolve().parent / "http_support.py"
CONTAINERS = Path(__file__).resolve().parents[1] / "fixtures" / "containers"
K8S_V1_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
DOCKER_V2 = "3f4e8a9b2c1d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"


def scrape(url):
    r = get(url + "metrics")
    assert r.status == 200
    return parse(r.body.decode("utf-8"))


def reporter(processes, server, comm=None):
    """A protocol client process (http_support.py); returns (LineProcess, pid)."""
    env = server.env(extra={"TTALLOC_TEST_COMM": comm} if comm else None)
    p = processes([sys.executable, str(SUPPORT), server.socket], env=env)
    pid = int(p.expect(r"^pid=(\d+)").group(1))
    return p, pid


def hold(p, device, buffer_type, address, size):
    p.send("alloc %d %d %d %d" % (device, buffer_type, address, size))
    p.expect("^ok")


def synced(p):
    p.send("sync")
    p.expect("^ok")


def smi_json(server):
    out = subprocess.run([str(SMI_BIN), "--json", "--socket", server.socket], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_identity_is_stable_per_host_and_differs_between_hosts(server_factory):
    h1 = server_factory("h1", args=["--devices", "sim:2", "--hostname", "h1"])
    h1b = server_factory("h1b", args=["--devices", "sim:2", "--hostname", "h1"])
    h2 = server_factory("h2", args=["--devices", "sim:2", "--hostname", "h2"])
    before = time.time()
    fams = {name: scrape(dashboard_url(s)) for name, s in (("h1", h1), ("h1b", h1b), ("h2", h2))}
    for name, f in fams.items():
        assert value(f, "ttalloc_host_info", hostname=name[:2]) == 1
        (build,) = f["ttalloc_build_info"]["samples"]
        assert build[0]["version"] and build[0]["revision"], build
        start = value(f, "ttalloc_server_start_time_seconds")
        assert before - 60 < start <= time.time()
    ids = {}
    for name, f in fams.items():
        rows = sorted(f["ttalloc_device_info"]["samples"], key=lambda s: s[0]["device"])
        assert len(rows) == 2
        for labels, v in rows:
            assert v == 1
            assert labels["simulated"] == "true" and labels["card_type"] == "sim"
            assert len(labels["serial"]) == 16 and len(labels["asic_id"]) == 16
            assert labels["uuid"].startswith("TT-SIM-")
            assert labels["pci_bus_id"] == "ffff:%02x:00.0" % int(labels["device"])
        ids[name] = [(l["serial"], l["asic_id"], l["uuid"]) for l, _ in rows]
    assert ids["h1"] == ids["h1b"], "same host and index: same made-up identity"
    assert not set(ids["h1"]) & set(ids["h2"]), "two hosts never share a device identity"
    assert ids["h1"][0] != ids["h1"][1]

    # the same identity in /api/devices, /healthz, tt_smi --json and --query-gpu
    url = dashboard_url(h2)
    devs = get_json(url + "api/devices")
    assert [(d["serial"], d["asic_id"], d["uuid"]) for d in devs] == ids["h2"]
    assert devs[0]["card_type"] == "sim" and devs[0]["pci_bus_id"] == "ffff:00:00.0"
    assert get_json(url + "healthz")["hostname"] == "h2"
    doc = smi_json(h2)
    assert doc["hostname"] == "h2"
    assert [(d["serial"], d["asic_id"], d["uuid"]) for d in doc["devices"]] == ids["h2"]
    assert all(d["simulated"] for d in doc["devices"])
    out = subprocess.run([str(SMI_BIN), "--socket", h2.socket, "--query-gpu=index,serial,uuid,pci.bus_id",
                          "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == "1, %s, %s, ffff:01:00.0" % (ids["h2"][1][0], ids["h2"][1][2])


def test_real_devices_label_tt_kmd_identity(server_factory):
    p150 = Path(__file__).resolve().parents[1] / "fixtures" / "p150"
    server = server_factory(args=["--devices", "tenstorrent", "--hw-root", str(p150)])
    f = scrape(dashboard_url(server))
    rows = {l["device"]: l for l, _ in f["ttalloc_device_info"]["samples"]}
    assert rows["0"]["serial"] == "0000046131924042"
    assert rows["0"]["asic_id"] == "6B2C3A4D5E6F7081"
    assert rows["0"]["pci_bus_id"] == "0000:03:00.0"
    assert rows["0"]["card_type"] == "p150a"
    assert rows["0"]["simulated"] == "false"
    assert "uuid" not in rows["0"], "tt-kmd gives no UUID: no label rather than a made-up one"
    # tt_smi's box: serial and PCI address under the device's name
    out = subprocess.run([str(SMI_BIN), "--socket", server.socket], capture_output=True, text=True, timeout=20)
    assert "0000046131924057 0000:04:00.0" in out.stdout, out.stdout


def test_per_process_series_are_bounded_and_other_keeps_sums_exact(server_factory, processes):
    server = server_factory(args=["--devices", "sim:2", "--metrics-processes", "top:2"])
    url = dashboard_url(server)
    sizes = [5, 7, 3, 11, 2]  # MiB on device 0; the biggest two keep their series
    clients = []
    for i, mib in enumerate(sizes):
        p, pid = reporter(processes, server)
        hold(p, 0, DRAM, 0x1000000 * (i + 1), mib * MiB)
        hold(p, 1, L1, 0x1000000 * (i + 1), MiB)
        synced(p)
        clients.append((p, pid, mib))
    f = scrape(url)
    samples = f["ttalloc_process_memory_used_bytes"]["samples"]
    dram0 = {l["pid"]: v for l, v in samples if l["device"] == "0" and l["type"] == "dram"}
    by_size = sorted(clients, key=lambda c: -c[2])
    assert set(dram0) == {str(by_size[0][1]), str(by_size[1][1]), "other"}
    assert dram0["other"] == (5 + 3 + 2) * MiB
    assert sum(dram0.values()) == value(f, "ttalloc_device_memory_used_bytes", device=0, type="dram")
    # equal use on device 1: the lowest pids win, so the set is the same at every scrape
    l1_1 = {l["pid"] for l, v in samples if l["device"] == "1" and l["type"] == "l1"}
    assert l1_1 == {str(p) for p in sorted(c[1] for c in clients)[:2]} | {"other"}
    assert value(f, "ttalloc_metrics_processes_omitted", device=0) == 3
    assert value(f, "ttalloc_process_memory_used_bytes", device=1, pid="other", type="l1") == 3 * MiB
    # a process that exits loses its series: the third biggest takes its place
    big = by_size[0]
    big[0].send("exit")
    wait_for(lambda: str(big[1]) not in {l["pid"] for l, _ in scrape(url)["ttalloc_process_memory_used_bytes"]
                                          ["samples"]}, 10, what="the exited process's series to go")
    f = scrape(url)
    dram0 = {l["pid"]: v for l, v in f["ttalloc_process_memory_used_bytes"]["samples"]
             if l["device"] == "0" and l["type"] == "dram"}
    assert set(dram0) == {str(by_size[1][1]), str(by_size[2][1]), "other"}
    assert dram0["other"] == (3 + 2) * MiB


def test_no_and_all_per_process_series(server_factory, processes):
    none = server_factory("none", args=["--metrics-processes", "none"])
    every = server_factory("all", args=["--metrics-processes", "all"])
    for srv in (none, every):
        for i in range(3):
            p, _ = reporter(processes, srv)
            hold(p, 0, DRAM, 0x1000 * (i + 1), MiB)
            synced(p)
    f = scrape(dashboard_url(none))
    assert f["ttalloc_process_memory_used_bytes"]["samples"] == []
    assert value(f, "ttalloc_device_memory_used_bytes", device=0, type="dram") == 3 * MiB
    f = scrape(dashboard_url(every))
    pids = {l["pid"] for l, _ in f["ttalloc_process_memory_used_bytes"]["samples"]}
    assert len(pids) == 3 and "other" not in pids


def give_cgroup(root, tree, fixture_pid, real_pid):
    """Makes ROOT/proc/REAL_PID/cgroup the fixture process's cgroup file."""
    (root / "proc" / str(real_pid)).mkdir(parents=True)
    shutil.copy(CONTAINERS / tree / "proc" / str(fixture_pid) / "cgroup", root / "proc" / str(real_pid) / "cgroup")


def test_containers_and_pods_in_the_api_metrics_and_tt_smi(server_factory, processes, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(CONTAINERS / "k8s-v1" / "var", root / "var", symlinks=True)
    server = server_factory(args=["--hw-root", str(root), "--metrics-labels", "pod,namespace,container"])
    clients = {}
    for name, size in (("trainer", 64), ("web", 32), ("host", 16)):
        p, pid = reporter(processes, server, comm=name)
        hold(p, 0, DRAM, 0x4000, size * MiB)
        synced(p)
        clients[name] = pid
    # the server reads a process's cgroup when first asked about it: give the real pids theirs
    give_cgroup(root, "k8s-v1", 5000, clients["trainer"])
    give_cgroup(root, "docker", 4242, clients["web"])
    pod_pid, docker_pid, host_pid = clients["trainer"], clients["web"], clients["host"]
    url = dashboard_url(server)
    procs = {p["pid"]: p for p in get_json(url + "api/processes")}
    assert procs[pod_pid]["container_id"] == K8S_V1_ID
    assert procs[pod_pid]["container_runtime"] == "containerd"
    assert (procs[pod_pid]["pod"], procs[pod_pid]["namespace"], procs[pod_pid]["container"]) == \
        ("trainer-0", "ml", "trainer")
    assert procs[docker_pid]["container_id"] == DOCKER_V2
    assert procs[docker_pid]["container_runtime"] == "docker"
    assert procs[docker_pid]["pod"] is None
    for key in ("container_id", "container_runtime", "pod", "namespace", "container"):
        assert procs[host_pid][key] is None, key
    f = scrape(url)
    rows = {l["pid"]: l for l, _ in f["ttalloc_process_memory_used_bytes"]["samples"] if l["type"] == "dram"}
    assert (rows[str(pod_pid)]["pod"], rows[str(pod_pid)]["namespace"], rows[str(pod_pid)]["container"]) == \
        ("trainer-0", "ml", "trainer")
    assert rows[str(host_pid)]["pod"] == "", "no pod: an empty value, which Prometheus stores as no label"
    # tt_smi: the JSON keys, and a Container column since processes run in one
    doc = smi_json(server)
    smi = {p["pid"]: p for p in doc["processes"]}
    assert smi[pod_pid]["pod"] == "trainer-0" and smi[pod_pid]["container_id"] == K8S_V1_ID
    assert smi[host_pid]["pod"] is None
    out = subprocess.run([str(SMI_BIN), "--socket", server.socket, "--width", "120"], capture_output=True,
                         text=True, timeout=20).stdout
    assert "Container" in out
    assert "trainer-0/trainer" in out and "docker 3f4e8a9b2c1d" in out, out
