"""libttalloc_ttmetal (docs/TTMETAL.md) driving the real server from a
program that uses the fake tt-metal (tests/fakes/tt-metal): buffers per
chip and per mesh, circular buffers, a SIGKILL with buffers live, a graph
capture pushed and popped alongside, no server, no tt-metal, tracking off,
ttalloc-run --tt-metal, a tt-metal without background processors, and a
plugin built against the fake meeting another tt-metal."""

import os
import re
import signal
import subprocess
import sys

import pytest

from conftest import BUILD, LIB_DIR, REPO, MiB, preload_env, wait_until
import ttalloc

FAKE = BUILD / "tests" / "fakes" / "tt-metal"
APP = FAKE / "fake_ttmetal_app"
# the fake-based plugin: lib/ of a default build, beside the fake next to a real build
PLUGIN_DIR = FAKE / "lib" if (FAKE / "lib" / "libttalloc_ttmetal.so").exists() else LIB_DIR
PLUGIN = PLUGIN_DIR / "libttalloc_ttmetal.so"
LEGACY = FAKE / "legacy" / "lib"
UNMARKED = FAKE / "unmarked" / "lib"
DRAM, L1, SYSTEM_MEMORY, L1_SMALL, TRACE = range(5)

pytestmark = pytest.mark.skipif(not APP.exists() or not PLUGIN.exists(),
                                reason="the fake tt-metal or libttalloc_ttmetal is not built")


def app_env(srv, plugin=PLUGIN, libs=None, tracking=True, extra=None):
    """Environment of fake_ttmetal_app with `plugin` preloaded (None: not),
    the fake tt-metal of `libs` (default: the current one)."""
    env = srv.env(tracking=tracking, extra=extra) if srv else dict(os.environ)
    if libs:
        env["LD_LIBRARY_PATH"] = str(libs)
    env.pop("TTALLOC_TTMETAL_MAIN_PID", None)
    return preload_env(env, [plugin] if plugin else [])


def start_app(processes, env, argv=None):
    app = processes(argv or [APP], env=env)
    app.expect(r"^ready pid=\d+")
    return app


def ok(app, line, timeout=5.0):
    m = app.command(line, timeout)
    assert m.group(1) == "0", app.lines[-1]
    return app.lines[-1]


def rows(srv, pid):
    """This process's per-device rows on the server: {device: row}."""
    return {d.device_id: d for p in ttalloc.processes(socket_path=srv.socket) if p.pid == pid for d in p.devices}


def usage(srv, pid, device, key):
    """Bytes of `key` (a ProcessDevice field: dram_allocated, cb_allocated, ...) of pid on device."""
    row = rows(srv, pid).get(device)
    return getattr(row, key) if row else 0


def test_every_buffer_is_reported_with_its_chip_type_and_address(server, processes):
    app = start_app(processes, app_env(server))
    ok(app, "open 0")
    ok(app, "open 1")
    assert ok(app, "state") == "rc=0 enabled=0 thread=1 background=1"  # is_enabled() stays false
    addr = int(ok(app, "alloc w 0 %d %d" % (DRAM, MiB)).split("=")[-1], 16)
    ok(app, "alloc a 1 %d 65536" % L1)
    ok(app, "alloc s 0 %d 4096" % L1_SMALL)
    ok(app, "alloc t 0 %d 8192" % TRACE)
    ok(app, "alloc h 0 %d 12288" % SYSTEM_MEMORY)
    ok(app, "thread_alloc x 1 %d 32768" % DRAM)  # on another thread: the background processor sees it
    wait_until(lambda: getattr(rows(server, app.pid).get(0), "buffer_count", None) == 4
               and getattr(rows(server, app.pid).get(1), "buffer_count", None) == 2, what="six buffers")
    r = rows(server, app.pid)
    assert (r[0].dram_allocated, r[0].l1_small_allocated, r[0].trace_allocated, r[0].system_memory_allocated) == \
        (MiB, 4096, 8192, 12288)
    assert (r[1].l1_allocated, r[1].dram_allocated) == (65536, 32768)
    assert re.search(r"\[Device 0\] ALLOC: %d bytes DRAM by PID %d \(buffer 0x%x\)" % (MiB, app.pid, addr),
                     server.log())
    ok(app, "free w")
    ok(app, "thread_free x")
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 0 and usage(server, app.pid, 1, "dram_allocated") == 0,
               what="the frees")
    app.send("exit")
    assert app.wait() == 0
    wait_until(lambda: not rows(server, app.pid), what="the process to be gone")
    assert "exited but left" not in server.log()  # everything was freed, CBs and all


def test_a_mesh_buffer_is_reported_on_every_chip(server, processes):
    app = start_app(processes, app_env(server))
    for line in ("open 0", "open 1", "mesh 100 0 1"):
        ok(app, line)
    addr = ok(app, "alloc m 100 %d %d" % (DRAM, 2 * MiB)).split("=")[-1]
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 2 * MiB and usage(server, app.pid, 1, "dram_allocated") == 2 * MiB,
               what="the mesh buffer on both chips")
    log = server.log()
    for chip in (0, 1):
        assert "[Device %d] ALLOC: %d bytes DRAM by PID %d (buffer %s)" % (chip, 2 * MiB, app.pid, addr) in log
    assert "Device 100" not in log
    ok(app, "free m")
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") + usage(server, app.pid, 1, "dram_allocated") == 0, what="frees")


def test_circular_buffers_are_records_per_chip_released_with_their_program(server, processes):
    app = start_app(processes, app_env(server))
    ok(app, "open 0")
    ok(app, "open 1")
    ok(app, "cb 0 0x10000 2048 4")           # 2 KiB per core on 4 cores
    ok(app, "cb 0 0x10000 1024 2")           # another program's CB at the same L1 address
    ok(app, "cb 0 0x20000 4096 1 global")    # in an L1 buffer already reported: not again
    ok(app, "cb 1 0x10000 512 8")
    wait_until(lambda: usage(server, app.pid, 0, "cb_allocated") == 8192 + 2048 and usage(server, app.pid, 1, "cb_allocated") == 4096,
               what="the CBs")
    assert rows(server, app.pid)[0].buffer_count == 2
    ok(app, "program 0")  # running a program changes nothing
    ok(app, "cbfree 0")   # a program with CBs on chip 0 was destroyed: all of chip 0's go
    wait_until(lambda: usage(server, app.pid, 0, "cb_allocated") == 0, what="chip 0's CBs released")
    assert usage(server, app.pid, 1, "cb_allocated") == 4096
    app.send("exit")
    assert app.wait() == 0
    wait_until(lambda: not rows(server, app.pid), what="the process to be gone")
    assert "exited but left" not in server.log()  # CBs go with the program at a normal exit


def test_sigkill_with_buffers_live_is_a_leak_report_by_buffer(server, processes):
    app = start_app(processes, app_env(server))
    ok(app, "open 0")
    dram = ok(app, "alloc w 0 %d %d" % (DRAM, 3 * MiB)).split("=")[-1]
    l1 = ok(app, "alloc a 0 %d 8192" % L1).split("=")[-1]
    ok(app, "alloc gone 0 %d 4096" % L1)
    ok(app, "free gone")
    ok(app, "cb 0 0x10000 1024 2")
    wait_until(lambda: getattr(rows(server, app.pid).get(0), "buffer_count", None) == 3, what="three live records")
    app.kill(signal.SIGKILL)
    m = server.wait_for_log(r"Process %d exited but left 3 buffers allocated" % app.pid)
    report = server.log()[m.start():]
    assert "[Device 0] Buffer %s: %d bytes DRAM" % (dram, 3 * MiB) in report
    assert "[Device 0] Buffer %s: 8192 bytes L1" % l1 in report
    assert re.search(r"\[Device 0\] Buffer 0x[0-9a-f]+0010000: 2048 bytes CB", report)
    leaks = {(b.type, b.size) for x in ttalloc.leaks(app.pid, socket_path=server.socket) for b in x.buffers}
    assert leaks == {("DRAM", 3 * MiB), ("L1", 8192), ("CB", 2048)}


def test_allocation_stacks_are_captured_through_the_plugin(server, processes):
    app = start_app(processes, app_env(server, extra={"TT_ALLOC_STACK_TRACE": "1"}))
    ok(app, "open 0")
    ok(app, "alloc w 0 %d 65536" % DRAM)
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 65536, what="the buffer")
    app.kill(signal.SIGKILL)
    m = server.wait_for_log(r"Process %d exited but left 1 buffer allocated" % app.pid)
    stack = server.log()[m.start():].split("\n")[2:9]
    # the plugin's frame (unless optimised into a tail call), tt-metal's (GraphTracker, Buffer),
    # then the application's own
    assert "track_allocate" in stack[0] and ("Processor" in stack[0] or "GraphTracker" in stack[0]), stack
    assert any("load_weights" in f and "fake_ttmetal_app.cpp" in f for f in stack), stack


def test_a_graph_capture_pushed_and_popped_alongside(server, processes):
    app = start_app(processes, app_env(server))
    ok(app, "open 0")
    ok(app, "alloc before 0 %d 4096" % DRAM)
    # RunMode::NO_DISPATCH: a hook takes allocations (address 0), nothing is allocated or reported
    ok(app, "capture_begin no_dispatch")
    assert ok(app, "state") == "rc=0 enabled=1 thread=2 background=1"
    assert ok(app, "alloc ghost 0 %d %d" % (DRAM, 8 * MiB)) == "rc=0 addr=0x0"
    ok(app, "cb 0 0x10000 1024 2")
    ok(app, "op ttnn::add")
    ok(app, "free ghost")
    events = int(ok(app, "capture_end").split("=")[-1])
    assert events >= 5  # the capture saw its events; ours did not get in its way
    assert ok(app, "state") == "rc=0 enabled=0 thread=1 background=1"
    # RunMode::NORMAL: both see the buffer
    ok(app, "capture_begin")
    ok(app, "alloc during 0 %d 8192" % DRAM)
    assert int(ok(app, "capture_end").split("=")[-1]) == 1
    ok(app, "alloc after 0 %d 16384" % DRAM)
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 4096 + 8192 + 16384, what="three real buffers")
    assert usage(server, app.pid, 0, "cb_allocated") == 0
    assert rows(server, app.pid)[0].buffer_count == 3
    # GraphTracker::clear() empties this thread's stack: buffers stay tracked (background), CBs do not
    ok(app, "clear")
    assert ok(app, "state") == "rc=0 enabled=0 thread=0 background=1"
    ok(app, "free during")
    ok(app, "cb 0 0x10000 1024 2")
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 4096 + 16384, what="the free after clear()")
    assert usage(server, app.pid, 0, "cb_allocated") == 0


def test_no_server_has_no_effect_on_the_program(short_dir, server_factory, processes):
    script = ["open 0", "churn 0 2000", "alloc a 0 %d %d" % (DRAM, MiB), "alloc b 0 %d 4096" % L1, "state"]
    socket_path = short_dir / "later.sock"

    def run(env):
        app = start_app(processes, env)
        answers = [ok(app, line, timeout=30) for line in script]
        return app, answers

    bare_env = app_env(None, plugin=None)
    bare_env.update(TT_ALLOC_SERVER_SOCKET=str(socket_path), TT_ALLOC_TRACKING_ENABLED="1")
    _, bare = run(bare_env)
    env = app_env(None)
    env.update(TT_ALLOC_SERVER_SOCKET=str(socket_path), TT_ALLOC_TRACKING_ENABLED="1")
    app, tracked = run(env)
    # the same answers (addresses included) apart from the processor registered
    assert tracked[:-1] == bare[:-1]
    assert (bare[-1], tracked[-1]) == ("rc=0 enabled=0 thread=0 background=0",
                                       "rc=0 enabled=0 thread=1 background=1")
    # the events were kept: a server started now gets the live buffers
    srv = server_factory(socket_path=socket_path)
    wait_until(lambda: usage(srv, app.pid, 0, "dram_allocated") == MiB and usage(srv, app.pid, 0, "l1_allocated") == 4096,
               timeout=10, what="the resync to the late server")


def test_without_tt_metal_it_says_so_and_does_nothing(server):
    env = app_env(server)
    code = "import subprocess; subprocess.run(['/bin/true'], check=True); print('hello')"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stdout == "hello\n"
    # said once, at exit, by the first process of the tree, not by every process under it
    lines = [x for x in res.stderr.splitlines() if "libttalloc_ttmetal" in x]
    assert len(lines) == 1, res.stderr
    assert re.match(r"ttalloc: libttalloc_ttmetal.so was preloaded into python[\d.]* \(pid \d+\), but tt-metal "
                    r"\(libtt_metal.so\) was never loaded there: nothing was tracked in it", lines[0]), lines
    assert not ttalloc.processes(socket_path=server.socket)


def registers_nothing(server, app, message):
    """The plugin said `message` when tt-metal came, registered nothing, and
    the program ran as without it."""
    app.expect(message)
    app.expect(r"^ready pid=\d+")
    ok(app, "open 0")
    assert ok(app, "state") == "rc=0 enabled=0 thread=0 background=0"
    ok(app, "alloc w 0 %d 4096" % DRAM)
    app.send("exit")
    assert app.wait() == 0
    assert not ttalloc.processes(socket_path=server.socket)


def test_with_tracking_off_it_says_so_and_registers_nothing(server, processes):
    app = processes([APP], env=app_env(server, tracking=False))
    registers_nothing(server, app, r"TT_ALLOC_TRACKING_ENABLED is not 1: not tracking")


def test_ttalloc_run_tt_metal_preloads_the_plugin(server, tmp_path):
    report = tmp_path / "report.json"
    env = server.env()
    env.pop("TT_ALLOC_TRACKING_ENABLED")
    env["TTALLOC_TTMETAL_PLUGIN"] = str(PLUGIN)
    env = preload_env(env, [])  # the sanitizer runtimes only: ttalloc-run adds the plugin
    res = subprocess.run([str(BUILD / "bin" / "ttalloc-run"), "--socket", server.socket, "--tt-metal",
                          "--json", str(report), "--", str(APP)],
                         input="open 0\nalloc w 0 0 1048576\nalloc x 0 1 4096\nfree x\nexit keep\n",
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 86, res.stderr  # the DRAM buffer leaked
    import json
    doc = json.loads(report.read_text())
    assert [(b["type"], b["size"], b["address"]) for b in doc["buffers"]] == [("DRAM", MiB, "0x10000000")]
    assert "fake_ttmetal_ap" == doc["buffers"][0]["name"]


def test_ttalloc_run_tt_metal_without_the_plugin_is_a_clear_error(server, tmp_path):
    env = server.env()
    env["TTALLOC_TTMETAL_PLUGIN"] = str(tmp_path / "missing.so")
    res = subprocess.run([str(BUILD / "bin" / "ttalloc-run"), "--socket", server.socket, "--tt-metal", "--",
                          "/bin/echo", "ran"], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and res.stdout == ""  # the command did not run
    assert "--tt-metal: libttalloc_ttmetal.so not found (looked for %s)" % (tmp_path / "missing.so") in res.stderr
    assert "-DTTALLOC_TT_METAL_DIR" in res.stderr


def test_tt_metal_without_background_processors_is_tracked_on_the_loading_thread(server, processes):
    app = processes([APP], env=app_env(server, plugin=LEGACY / "libttalloc_ttmetal.so", libs=LEGACY))
    m = app.expect(r"this tt-metal has no background processors: pushed on thread (\d+)")
    app.expect(r"^ready pid=(\d+)")
    assert int(m.group(1)) == app.pid  # the main thread
    ok(app, "open 0")
    assert ok(app, "state") == "rc=0 enabled=0 thread=1 background=0"
    ok(app, "alloc main 0 %d 4096" % DRAM)
    ok(app, "thread_alloc other 0 %d 8192" % DRAM)  # another thread's stack is empty: not seen
    ok(app, "cb 0 0x10000 1024 1")
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 4096 and usage(server, app.pid, 0, "cb_allocated") == 1024,
               what="the main thread's buffer and CB")
    ok(app, "alloc last 0 %d 16384" % DRAM)
    wait_until(lambda: usage(server, app.pid, 0, "dram_allocated") == 4096 + 16384, what="the last buffer")


def test_a_plugin_built_against_the_fake_refuses_another_tt_metal(server, processes):
    app = processes([APP], env=app_env(server, libs=UNMARKED))
    registers_nothing(server, app, r"built against the tests' fake tt-metal, not the one loaded: build it "
                                   r"against yours with -DTTALLOC_TT_METAL_DIR")
