"""Issue 14, item 4: the operations assets of deploy/, checked as shipped.

- deploy/prometheus: `promtool check rules`, `promtool test rules` (the
  alert and recording rules' unit tests) and `promtool check config` for
  the scrape configurations;
- deploy/grafana/ttalloc.json: made by make_dashboard.py (up to date), every
  panel has PromQL, every variable it uses is defined (the queries run
  against a real Prometheus in test_fleet.py);
- deploy/kubernetes: the manifests parse and hang together (selectors,
  ports, read-only host mounts, hostPID, limits), and the image's runtime
  packages provide every library the binaries need.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN
from http_support import tool

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROM = DEPLOY / "prometheus"
K8S = DEPLOY / "kubernetes"
yaml = pytest.importorskip("yaml", reason="python3-yaml (scripts/install-deps.sh)")


def promtool(*args):
    return subprocess.run([tool("promtool", "/usr/bin/promtool"), *args], capture_output=True, text=True,
                          timeout=60, cwd=str(PROM))


def test_rules_pass_promtool_check():
    out = promtool("check", "rules", "rules/ttalloc-recording.yml", "rules/ttalloc-alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


def test_rules_pass_their_unit_tests():
    out = promtool("test", "rules", "tests/ttalloc-rules-test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_alert_the_issue_names_is_there_and_tested():
    alerts = {r["alert"]: r for g in yaml.safe_load((PROM / "rules/ttalloc-alerts.yml").read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    # device memory > 90 %, leaks in 15 minutes, allocation failures, server down or absent,
    # stale tt-metal slots, untracked processes
    assert {"TTAllocDeviceMemoryHigh", "TTAllocMemoryLeaked", "TTAllocAllocationFailures", "TTAllocServerDown",
            "TTAllocServerAbsent", "TTAllocStaleSharedMemory", "TTAllocUntrackedProcesses"} <= set(alerts)
    assert "ttalloc_alloc_failures_total" in alerts["TTAllocAllocationFailures"]["expr"]
    assert "0.9" in alerts["TTAllocDeviceMemoryHigh"]["expr"]
    assert "15m" in Path(PROM / "rules/ttalloc-recording.yml").read_text()
    tested = {t["alertname"] for case in yaml.safe_load((PROM / "tests/ttalloc-rules-test.yml").read_text())["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    untested = set(alerts) - tested - {"TTAllocDeviceL1High"}
    assert not untested, "alerts without a firing case in the rules' unit tests: %s" % sorted(untested)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-federation.yml"])
def test_scrape_configs_pass_promtool(config):
    out = promtool("check", "config", config)
    assert out.returncode == 0, out.stdout + out.stderr


def test_kubernetes_discovery_config():
    doc = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    (job,) = doc["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert {r["source_labels"][0] for r in keep} == {"__meta_kubernetes_pod_label_app_kubernetes_io_name",
                                                     "__meta_kubernetes_pod_container_port_name"}
    out = promtool("check", "config", "prometheus-kubernetes.yml")
    if "field kubernetes_sd_configs not found" in out.stdout + out.stderr:
        return  # Debian's Prometheus is built without Kubernetes discovery: the structure above is the check
    assert out.returncode == 0, out.stdout + out.stderr


# ---- Grafana ----

def dashboard():
    return json.loads((DEPLOY / "grafana/ttalloc.json").read_text())


def test_dashboard_is_made_by_its_generator():
    out = subprocess.run(["/usr/bin/python3", str(DEPLOY / "grafana/make_dashboard.py"), "--check"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout


def test_dashboard_panels_use_only_defined_variables():
    d = dashboard()
    names = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "host", "instance", "device", "process"} <= names
    builtin = {"__rate_interval", "__interval", "__range"}
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in d["panels"] if p["type"] != "row"]
    assert len(titles) == len(set(titles))
    rows = [p["title"] for p in d["panels"] if p["type"] == "row"]
    assert rows == ["Fleet", "Host", "Device", "Process"]
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        for t in p["targets"]:
            used = set(re.findall(r"\$(\w+)", t["expr"]))
            assert used <= names | builtin, (p["title"], used - names - builtin)
            assert t["datasource"]["uid"] == "${datasource}"


# ---- Kubernetes ----

def manifests():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return {d["kind"]: d for _, d in docs}, docs


def test_kubernetes_manifests_hang_together():
    kinds, docs = manifests()
    assert {"Namespace", "DaemonSet", "Service", "PodMonitor", "ServiceMonitor", "Secret"} <= set(kinds)
    for name, d in docs:
        assert d["apiVersion"] and d["metadata"]["name"], name
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "ttalloc", name
    ds = kinds["DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["hostPID"] is True
    (c,) = pod["containers"]
    args = dict(a[2:].split("=", 1) for a in c["args"])
    assert args["hw-root"] == "/host" and args["http"].startswith("0.0.0.0:")
    assert args["hostname"] == "$(NODE_NAME)"
    assert c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"]
    assert args["http"] == "0.0.0.0:%d" % port
    # resource limits, no privilege escalation, only the two capabilities it needs
    assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) == {"SYS_PTRACE", "DAC_READ_SEARCH"}
    # host files read-only under --hw-root; the socket directory shared, writable
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path, host in (("/host/sys", "/sys"), ("/host/proc", "/proc"), ("/host/dev/shm", "/dev/shm"),
                       ("/host/var/log/pods", "/var/log/pods")):
        assert mounts[path].get("readOnly") is True, path
        assert volumes[mounts[path]["name"]]["hostPath"]["path"] == host
    sock = args["socket"].rsplit("/", 1)[0]
    assert not mounts[sock].get("readOnly")
    assert volumes[mounts[sock]["name"]]["hostPath"]["path"] == sock
    assert volumes[mounts["/etc/ttalloc"]["name"]]["secret"]["secretName"] == "ttalloc-web-config"
    assert args["web-config"].startswith("/etc/ttalloc/")
    # the Service and both monitors select these pods and their metrics port
    svc = kinds["Service"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"
    svc_port = svc["spec"]["ports"][0]["name"]
    sm = kinds["ServiceMonitor"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == svc_port
    pm = kinds["PodMonitor"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    secrets = {d["metadata"]["name"]: d for n, d in docs if d["kind"] == "Secret"}
    web = yaml.safe_load(secrets["ttalloc-web-config"]["stringData"]["web.yml"])
    assert set(web) == {"tls_server_config", "basic_auth_users"}
    for ref in (sm["spec"]["endpoints"][0], pm["spec"]["podMetricsEndpoints"][0]):
        assert ref["basicAuth"]["password"]["name"] in secrets
        assert ref["scheme"] == "https"


def needed_packages(binary):
    """Debian packages holding the shared libraries `binary` names in its NEEDED entries."""
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, timeout=30).stdout
    libs = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=30).stdout
    packages = {}
    for lib in libs:
        m = re.search(r"^\s+%s \(libc6,x86-64\) => (\S+)$" % re.escape(lib), cache, re.M)
        if not m:
            continue  # our own (libttalloc) or not in the cache
        path = m.group(1)
        # merged /usr: the cache and dpkg may name the library under /lib or /usr/lib
        for candidate in (path, path.replace("/usr/lib/", "/lib/"), re.sub(r"^/lib/", "/usr/lib/", path)):
            owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, timeout=30)
            if owner.returncode == 0:
                packages[lib] = owner.stdout.split(":")[0]
                break
        assert lib in packages, "no Debian package holds %s (%s)" % (lib, path)
    return packages


def test_the_image_has_every_library_the_binaries_need():
    if not tool("dpkg") or not tool("readelf"):
        pytest.skip("needs dpkg and readelf")
    text = (K8S / "Dockerfile").read_text()
    runtime = text.split("FROM debian:12-slim\n", 1)[1]
    listed = set(re.findall(r"\b(lib[a-z0-9.+-]+)", runtime))
    base = {"libc6", "libgcc-s1", "libstdc++6", "libcrypt1"}  # in debian:12-slim already
    for binary in ("ttalloc-server", "tt_smi"):
        # sanitizer runtimes belong to an instrumented test build (make asan-test), never to the image's
        missing = {lib: pkg for lib, pkg in needed_packages(BIN / binary).items()
                   if pkg not in listed and pkg not in base and not re.match(r"lib(asan|ubsan|tsan)\d+$", pkg)}
        assert not missing, "%s needs %s, which deploy/kubernetes/Dockerfile does not install" % (binary, missing)
