"""scripts/install-deps.sh: one list of Debian packages in groups, so that
`make demo` installs what the build and the demo need and `make test` (and
.ci/run) everything. Read through --list (nothing is installed here)."""

import re
import shutil
import subprocess

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts/install-deps.sh"
GROUPS = ("build", "demo", "test")
# What the demo must not pull in: the browser, Prometheus and the test tools.
TEST_ONLY = ("chromium", "prometheus", "clang", "nodejs", "npm", "wrk", "tmux", "python3-pytest",
            "python3-jsonschema")


def listed(*groups):
    res = subprocess.run(["bash", str(SCRIPT), "--list"] + list(groups), capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_every_group_lists_packages_and_no_package_is_in_two_groups():
    seen = {}
    for group in GROUPS:
        packages = listed(group)
        assert packages, group
        assert len(packages) == len(set(packages)), "%s lists a package twice" % group
        for pkg in packages:
            assert pkg not in seen, "%s is in %s and %s" % (pkg, seen[pkg], group)
            seen[pkg] = group


def test_no_group_means_every_group():
    assert listed() == listed(*GROUPS)


def test_the_demo_groups_leave_the_browser_prometheus_and_test_tools_out():
    demo = set(listed("build", "demo"))
    assert not demo & set(TEST_ONLY), sorted(demo & set(TEST_ONLY))
    assert set(TEST_ONLY) <= set(listed("test"))
    assert {"cmake", "python3", "python-is-python3", "curl"} <= demo  # the seed types `python`


def test_an_unknown_group_is_refused():
    res = subprocess.run(["bash", str(SCRIPT), "--list", "demos"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert "unknown group 'demos' (groups: build demo test)" in res.stderr


def test_make_demo_installs_build_and_demo_and_make_test_everything():
    def commands(target):
        res = subprocess.run(["make", "-n", "-C", str(REPO), target], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return [line for line in res.stdout.splitlines() if "install-deps.sh" in line]

    assert commands("demo") == ["bash scripts/install-deps.sh build demo"]
    assert commands("test") == ["bash scripts/install-deps.sh"]
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r"^bash scripts/install-deps\.sh$", ci, re.M)


def test_the_build_group_has_every_library_cmake_asks_pkg_config_for():
    # each pkg_check_modules(... name) of the build is found through a .pc
    # file; the Debian package owning that file must be in the build group
    if not shutil.which("pkg-config") or not shutil.which("dpkg-query"):
        pytest.skip("needs pkg-config and dpkg")
    cmake_text = "".join(p.read_text() for p in [REPO / "CMakeLists.txt", REPO / "tests/unit/CMakeLists.txt"])
    modules = set(re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+?)\)", cmake_text))
    assert {"jansson", "libmicrohttpd", "cmocka"} <= modules
    build = set(listed("build"))
    for module in sorted(modules):
        pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", module], capture_output=True, text=True,
                               check=True).stdout.strip()
        owner = subprocess.run(["dpkg-query", "-S", "%s/%s.pc" % (pcdir, module)], capture_output=True,
                               text=True, check=True).stdout.split(":")[0]
        assert owner in build, "%s comes from %s, which the build group does not list" % (module, owner)
