"""make demo's script, end to end (README's first command, without the installs).

The demo had broken twice without a test noticing: the data model renamed a
field its diff scene read, and `tt_smi --oom | head` died of SIGPIPE under
`set -o pipefail` when the machine was busy. Here it runs as `make demo`
runs it, on a private socket and a free port, and must finish cleanly with
every scene in its output.
"""
import os
import re
import subprocess

import pytest

from conftest import BUILD, REPO, SANITIZED, tsan_build


@pytest.mark.skipif(SANITIZED or tsan_build(), reason="the demo is about the normal build")
def test_demo_runs_every_scene_and_leaves_nothing_running(short_dir):
    env = dict(os.environ)
    env.pop("CI", None)  # as in a user's terminal: leaks are not retained
    env.pop("TT_ALLOC_SERVER_SOCKET", None)
    env.update(TTALLOC_DEMO_SOCKET=str(short_dir / "demo.sock"), TTALLOC_DEMO_HTTP="127.0.0.1:0")
    done = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), str(BUILD)], env=env, cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
    out = done.stdout
    assert done.returncode == 0, out[-4000:]
    sections = re.findall(r"^\x1b\[1m== (\d+b?)\. ", out, re.M)
    assert sections == ["1", "2", "3", "3b", "4", "4b", "5"], out[-4000:]
    assert re.search(r"^Dashboard: http://127\.0\.0\.1:\d+/ ", out, re.M)
    assert "Process A: Allocated 100MB DRAM on device 0" in out
    assert re.search(r"exited but left 5 buffers allocated", out)  # the leak report
    assert re.search(r"needs 1\.5 GB, [\d.]+ GB free, largest free block [\d.]+ MB: fragmentation", out)
    m = re.search(r"^  allocated (\d+) B, freed (\d+) B in (\d+) buffers, growth (-?\d+) B$", out, re.M)
    assert m, out[-4000:]  # the diff scene read the API's answer
    assert int(m.group(3)) > 0 and int(m.group(2)) > 0
    assert out.rstrip().endswith("Demo finished: nothing left running.")
    assert not (short_dir / "demo.sock").exists()
