"""Every binary's command line behaves alike (issue 15): --version prints the
project's version and exits 0; an unknown option is one line with the
nearest option, a hint, and exit 2."""
import re
import subprocess

import pytest

from conftest import BIN, REPO

BINARIES = ["ttalloc-server", "tt_smi", "ttalloc-run", "ttalloc-load"]


def project_version():
    return re.search(r"project\(ttalloc VERSION (\S+)", (REPO / "CMakeLists.txt").read_text()).group(1)


def run(binary, *args):
    return subprocess.run([str(BIN / binary)] + list(args), capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("binary", BINARIES)
def test_version_prints_the_projects_version(binary):
    res = run(binary, "--version")
    assert res.returncode == 0 and res.stderr == ""
    assert re.fullmatch(r"%s( \(ttalloc\))? %s\n" % (re.escape(binary), re.escape(project_version())), res.stdout)


@pytest.mark.parametrize("binary", BINARIES)
def test_an_unknown_option_is_one_line_a_hint_and_exit_2(binary):
    res = run(binary, "--sokcet", "/tmp/x.sock")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == ("%s: unknown option '--sokcet'; did you mean '--socket'?\nTry '%s --help'.\n"
                          % (binary, binary))
