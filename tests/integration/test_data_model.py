"""One data model (docs/DATA_MODEL.md, schemas/): every JSON document the
project writes validates against its JSON Schema with real data, and a
concept has one name wherever it appears.

The scene, built once for the module: a server on two simulated devices
whose hardware root holds a tt-metal shared-memory region (a process only
tt-metal reports) and a Kubernetes pod's files (a reporting process in a
container); a simulated tt_metal process holding buffers of every type
with Python stacks, between two marks, with an allocation failure
(OutOfMemoryError, reported as ALLOC_FAILED) and a double free; a process
that exited leaking; ttalloc-run's report of another leak. A second server
on the n150 fixture tree sees a process that holds the device without
reporting (the kernel's view).
"""

import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from conftest import (BIN, REPO, REPORTER_CLIENT, SMI_BIN, LineProcess, MiB, Server, compile_c,
                      wait_until)
from http_support import DASHBOARD_RE, get, get_json
from schema_support import errors, names, validate
from test_fleet_identity import CONTAINERS, K8S_V1_ID, give_cgroup
from test_ttmetal_shm import region, slot
from test_untracked import expose_identity, hw_tree, set_holders
import ttalloc

HOLDER = r"""
import os, sys, ttalloc, tt_metal as ttm
MiB = 1 << 20
d = ttm.CreateDevice(0)
T = ttm.BufferType
keep = [ttm.Buffer(d, size=4 * MiB, buffer_type=t) for t in (T.DRAM, T.L1, T.L1_SMALL, T.TRACE, T.SYSTEM_MEMORY)]
r = ttalloc.default_reporter()
assert r.report_alloc(0, ttalloc.CB, 0x30000, 65536) and r.report_alloc(0, ttalloc.KERNEL, 0x40000, 8192)
ttalloc.mark("step-1")
step = ttm.Buffer(d, size=8 * MiB, buffer_type=T.DRAM)
ttalloc.mark("step-2")
try:
    ttm.Buffer(d, size=20 << 30, buffer_type=T.DRAM)
except ttm.OutOfMemoryError:
    pass
assert r.report_alloc(1, ttalloc.DRAM, 0x900000000, 4096) and r.report_free(1, 0x900000000)
r.report_free(1, 0x900000000)  # a double free: /api/misuse
assert r.flush()
print("ready", flush=True)
sys.stdin.readline()
"""

LEAKER = r"""
import os, ttalloc, tt_metal as ttm
d = ttm.CreateDevice(1)
b = ttm.Buffer(d, size=1 << 20, buffer_type=ttm.BufferType.L1)
ttalloc.default_reporter().flush()
os._exit(0)
"""


class Scene:
    """The servers and processes of the module; everything is stopped at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.dir = Path(tempfile.mkdtemp(prefix="ttdm", dir="/tmp"))  # sun_path is short
        self.children = []
        self.servers = []

    def server(self, name, args):
        srv = Server(self.dir / (name + ".sock"), self.tmp / (name + ".log"), args)
        self.servers.append(srv)
        srv.start()
        m = srv.wait_for_log(DASHBOARD_RE.pattern, timeout=10) if "--http" in args else None
        return srv, (m.group(1) if m else None)

    def spawn(self, argv, env):
        p = LineProcess([str(a) for a in argv], env=env, cwd=str(REPO))
        self.children.append(p)
        return p

    def close(self):
        for p in self.children:
            p.close()
        for srv in self.servers:
            srv.check_clean_exit()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("datamodel")
    s = Scene(tmp)
    try:
        build(s, tmp)
        yield s
    finally:
        s.close()


def build(s, tmp):
    root = tmp / "root"
    (root / "dev" / "shm").mkdir(parents=True)
    shutil.copytree(CONTAINERS / "k8s-v1" / "var", root / "var", symlinks=True)
    srv, url = s.server("a", ["--devices", "sim:2", "--hw-root", str(root), "--http", "127.0.0.1:0",
                              "--history-interval", "100"])
    s.srv, s.url = srv, url
    stacks = srv.env(extra={"TT_ALLOC_STACK_TRACE": "1"})
    s.holder = s.spawn([sys.executable, "-c", HOLDER], stacks)
    s.holder.expect(r"^ready$", timeout=20)
    leaker = s.spawn([sys.executable, "-c", LEAKER], stacks)
    leaker.wait()
    srv.wait_for_log(r"Process %d exited but left 1 buffer allocated" % leaker.pid)
    s.leaker_pid = leaker.pid
    # a reporting process in a Kubernetes pod (its cgroup file under the hardware root)
    s.pod = s.spawn([sys.executable, "-c", REPORTER_CLIENT], srv.env())
    s.pod.expect(r"^pid=\d+")
    give_cgroup(root, "k8s-v1", 5000, s.pod.pid)
    assert s.pod.command("alloc 1 0 0x800000000 %d" % MiB).group(1) == "1"
    assert s.pod.command("flush").group(1) == "1"
    # a process only tt-metal's shared memory reports, on device 1
    writer = compile_c([REPO / "tests/integration/ttmetal_shm_writer.c"], tmp / "writer", libs=["-lpthread"])
    sleeper = s.spawn(["sleep", "600"], None)
    region(writer, root, 7001, "--version", 4, "--device", 1, *slot(sleeper.pid, "shm_job", dram=32 * MiB, cb=MiB))
    s.shm_pid = sleeper.pid
    wait_until(lambda: any(p["source"] == "tt-metal shm" for p in get_json(url + "api/processes")), timeout=10,
               what="the tt-metal region's process")
    wait_until(lambda: len(get_json(url + "api/history")["timestamps"]) >= 2, timeout=10, what="history samples")

    # the kernel's view: a process that holds the n150 card without reporting
    hw = hw_tree(tmp)
    s.srv_hw, _ = s.server("hw", ["--hw-root", str(hw), "--http", "127.0.0.1:0"])
    s.untracked = s.spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"], None)
    s.untracked.expect(r"^up$")
    expose_identity(hw, s.untracked.pid)
    set_holders(hw, [s.untracked.pid])

    def kernel_view():
        return any(p["source"] == "kernel" for p in ttalloc.document("/api/processes", s.srv_hw.socket))
    wait_until(kernel_view, timeout=10, what="the untracked process in the kernel's view")


# ---- reading every document ----

def api(scene, path):
    return get_json(scene.url + path.lstrip("/"))


def first_event(scene):
    """The data of the first /api/events update."""
    u = urllib.parse.urlparse(scene.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/api/events", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    try:
        while True:
            line = resp.fp.readline().decode()
            assert line, "the event stream ended before an update"
            if line.startswith("data: "):
                return json.loads(line[6:])
    finally:
        conn.close()


def tool(argv, ok=(0,), env=None):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode in ok, res.stdout + res.stderr
    return res


def smi(scene, *args, ok=(0,)):
    return tool([SMI_BIN, "--socket", scene.srv.socket] + list(args), ok=ok)


def documents(scene):
    """{schema name: [document, ...]} of everything the scene's programs write."""
    docs = {
        "devices": [api(scene, "/api/devices")],
        "device": [api(scene, "/api/devices/%d" % d) for d in (0, 1)],
        "device_stats": [api(scene, "/api/devices/0/stats")],
        "processes": [api(scene, "/api/processes"), ttalloc.document("/api/processes", scene.srv_hw.socket)],
        "buffers": [api(scene, "/api/buffers"), api(scene, "/api/buffers?device=0&limit=3")],
        "leaks": [api(scene, "/api/leaks")],
        "history": [api(scene, "/api/history"), api(scene, "/api/history?device=0&points=2")],
        "event": [first_event(scene)],
        "health": [api(scene, "/healthz")],
        "oom": [api(scene, "/api/oom")],
        "misuse": [api(scene, "/api/misuse")],
        "marks": [api(scene, "/api/marks")],
        "diff": [api(scene, "/api/diff?from=step-1&to=step-2"), api(scene, "/api/diff?from=step-1")],
        "snapshot": [api(scene, "/api/snapshot")],
        "map": [api(scene, "/api/devices/0/map?cells=16"), api(scene, "/api/devices/0/map?type=l1")],
        "trace": [api(scene, "/api/export/trace")],
    }
    docs["leak"] = [api(scene, "/api/leaks/%d" % docs["leaks"][0]["reports"][0]["id"])]
    docs["oom_report"] = [api(scene, "/api/oom/%d" % docs["oom"][0]["reports"][0]["id"])]
    docs["smi"] = [json.loads(smi(scene, "--json").stdout),
                   json.loads(tool([SMI_BIN, "--socket", scene.srv_hw.socket, "--json"]).stdout)]
    docs["smi_doctor"] = [json.loads(smi(scene, "--doctor", "--json", ok=(0, 3)).stdout)]
    snap = scene.dir / "snap.json"
    smi(scene, "--snapshot", snap)
    docs["snapshot"].append(json.loads(snap.read_text()))
    trace = scene.dir / "trace.json"
    smi(scene, "--export-trace", trace)
    docs["trace"].append(json.loads(trace.read_text()))
    report = scene.dir / "run.json"
    tool([BIN / "ttalloc-run", "--socket", scene.srv.socket, "--json", report, "--", sys.executable, "-c", LEAKER],
         ok=(86,), env=scene.srv.env())
    docs["run"] = [json.loads(report.read_text())]
    return docs


@pytest.fixture(scope="module")
def docs(scene):
    return documents(scene)


def test_every_document_has_a_schema_and_every_schema_a_document(docs):
    assert sorted(docs) == names()


@pytest.mark.parametrize("name", names())
def test_the_document_validates_against_its_schema(docs, name):
    for doc in docs[name]:
        validate(doc, name)


def test_every_json_endpoint_of_the_server_is_covered(scene, docs):
    """The 404 answer lists the endpoints: each JSON one is read above."""
    listed = re.findall(r"(/[a-z/]+)", get(scene.url + "no-such-thing").json()["error"].split("(try", 1)[1])
    text_only = {"/api/events", "/api/export/stacks", "/metrics", "/"}  # a stream, texts, the page
    covered = {"/api/devices", "/api/processes", "/api/buffers", "/api/leaks", "/api/history", "/api/oom",
               "/api/misuse", "/api/marks", "/api/diff", "/api/snapshot", "/api/export/trace", "/healthz"}
    assert set(listed) - text_only == covered, listed


def test_the_scene_has_every_kind_of_thing_the_schemas_describe(scene, docs):
    """The validations above mean something only if the documents hold data."""
    procs = {p["source"] for p in docs["processes"][0] + docs["processes"][1]}
    assert procs == {"socket", "tt-metal shm", "kernel"}
    dev0 = docs["devices"][0][0]
    assert all(dev0[k] > 0 for k in ("dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated",
                                     "cb_allocated", "kernel_allocated", "system_memory_allocated"))
    assert docs["devices"][0][1]["ttmetal_shm"] is not None
    pod = [p for p in docs["processes"][0] if p["pid"] == scene.pod.pid]
    assert pod and pod[0]["container_id"] == K8S_V1_ID and pod[0]["pod"] == "trainer-0"
    assert docs["leaks"][0]["reports"][0]["buffers"][0]["stack"]
    assert docs["oom"][0]["reports"] and docs["misuse"][0]["entries"][0]["kind"] == "double_free"
    assert docs["diff"][0]["allocated"]["buffer_count"] == 1 and docs["marks"][0]["marks_total"] == 2
    assert docs["run"][0]["buffers"] and docs["smi"][0]["oom"] is not None


# ---- one name per concept ----

SHARED = {
    "device": lambda d: (d["devices"][0] + d["event"][0]["devices"] + d["snapshot"][0]["devices"]
                         + d["smi"][0]["devices"] + d["device"]),
    "process": lambda d: d["processes"][0] + d["processes"][1] + d["snapshot"][0]["processes"]
    + d["smi"][0]["processes"] + d["smi"][1]["processes"],
    "buffer": lambda d: (d["buffers"][0]["buffers"] + d["leaks"][0]["reports"][0]["buffers"]
                         + d["oom"][0]["reports"][0]["buffers"] + d["diff"][0]["allocated"]["buffers"]
                         + d["snapshot"][0]["buffers"] + d["run"][0]["buffers"]),
    "leak_report": lambda d: d["leaks"][0]["reports"],
    "oom_report": lambda d: d["oom"][0]["reports"] + [d["smi"][0]["oom"]],
}


@pytest.mark.parametrize("definition", sorted(SHARED))
def test_a_concept_validates_against_the_same_definition_in_every_document(docs, definition):
    objects = SHARED[definition](docs)
    assert objects
    for obj in objects:
        validate(obj, "model#" + definition)


def test_a_device_has_the_same_keys_and_values_in_the_api_tt_smi_and_python(scene, docs):
    api_dev = docs["devices"][0][0]
    smi_dev = docs["smi"][0]["devices"][0]
    py_dev = ttalloc.devices(socket_path=scene.srv.socket)[0].to_dict()
    assert set(api_dev) - {"ttmetal_shm"} == set(smi_dev) == set(py_dev) - {"ttmetal_shm"}
    for key in ("device_id", "dram_allocated", "l1_allocated", "cb_allocated", "kernel_allocated", "name", "arch",
                "dram_capacity", "l1_capacity", "buffer_count", "process_count", "serial", "uuid", "pci_bus_id"):
        assert api_dev[key] == smi_dev[key] == py_dev[key], key
    # the seed's keys first, as the seed's dashboard and query_stats.py read them
    assert list(api_dev)[:5] == list(smi_dev)[:5] == ["device_id", "dram_allocated", "l1_allocated",
                                                      "l1_small_allocated", "trace_allocated"]
    assert {k: api_dev[k] for k in list(api_dev)[:5]} == ttalloc.query_device_stats(0, socket_path=scene.srv.socket)


def test_a_process_has_the_same_keys_and_values_in_the_api_tt_smi_and_python(scene, docs):
    pid = scene.holder.pid
    (api_p,) = [p for p in docs["processes"][0] if p["pid"] == pid]
    (smi_p,) = [p for p in docs["smi"][0]["processes"] if p["pid"] == pid]
    (py_p,) = [p.to_dict() for p in ttalloc.processes(socket_path=scene.srv.socket) if p.pid == pid]
    assert set(api_p) == set(smi_p) == set(py_p)
    for key in ("pid", "name", "user", "uid", "source", "buffer_count", "dram_allocated", "l1_allocated",
                "l1_small_allocated", "trace_allocated", "cb_allocated", "kernel_allocated",
                "system_memory_allocated", "first_seen", "container_id"):
        assert api_p[key] == smi_p[key] == py_p[key], key
    assert [set(d) for d in api_p["devices"]] == [set(d) for d in smi_p["devices"]]
    # what tt_smi cannot learn over the socket is null, not a made-up value
    assert smi_p["connection_count"] is None and api_p["connection_count"] == 1


def test_a_leaked_buffer_has_the_same_keys_and_values_in_the_api_and_python(scene, docs):
    (api_rep,) = [r for r in docs["leaks"][0]["reports"] if r["pid"] == scene.leaker_pid]
    (py_rep,) = ttalloc.leaks(pid=scene.leaker_pid, socket_path=scene.srv.socket)
    py = py_rep.to_dict()
    validate(py, "model#leak_report")
    assert set(py) == set(api_rep)
    for key in ("pid", "name", "user", "uid", "exit_time", "buffer_count", "bytes", "source", "devices"):
        assert py[key] == api_rep[key], key
    assert py["id"] is None  # the socket does not tell the report's number
    (a,), (b,) = api_rep["buffers"], py["buffers"]
    assert set(a) == set(b) and {k: a[k] for k in a if k != "age_seconds"} == \
        {k: b[k] for k in b if k != "age_seconds"}
    assert py_rep.buffers[0].address == int(a["address"], 16)  # an int in Python, a string in JSON


def test_python_objects_validate_against_the_model(scene):
    for d in ttalloc.devices(socket_path=scene.srv.socket):
        validate(d.to_dict(), "model#device")
    for socket_path in (scene.srv.socket, scene.srv_hw.socket):
        for p in ttalloc.processes(socket_path=socket_path):
            validate(p.to_dict(), "model#process")
    validate(ttalloc.device_status(1, socket_path=scene.srv.socket).to_dict(), "model#device")


def test_addresses_are_strings_everywhere(docs):
    """No JSON document has an address (or a map's base) as a number."""
    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("address", "base"):
                    assert x is None or isinstance(x, str) and x.startswith("0x"), (path + [k], x)
                walk(x, path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, path + [i])
    for name, found in docs.items():
        walk(found, [name])


@pytest.mark.parametrize("old,where", [
    ("total_dram_size", "device"), ("temperature", "device"), ("buffers", "device"), ("processes", "device"),
    ("dram_total", "device"), ("comm", "process"), ("dram", "process"), ("connections", "process"),
    ("process", "buffer"), ("device", "buffer"),
])
def test_the_schemas_refuse_the_old_names(docs, old, where):
    obj = dict({"device": docs["devices"][0][0], "process": docs["processes"][0][0],
                "buffer": docs["buffers"][0]["buffers"][0]}[where])
    obj[old] = 1
    assert errors(obj, "model#" + where), "%s accepted in a %s" % (old, where)
