"""ttalloc.ttmetal: `import ttalloc.ttmetal` after tt-metal is loaded (the
fake one, loaded RTLD_LOCAL as Python loads ttnn's module), its warnings
when it cannot track, and tt-metal's out-of-memory messages turned into
ALLOC_FAILED reports (parser, feature detection, context manager)."""

import os
import subprocess
import sys
import warnings

import pytest

from conftest import BUILD, LIB_DIR, PYTHON_DIR, MiB, preload_env, wait_until, process_rows
import ttalloc
from ttalloc import protocol

with warnings.catch_warnings(record=True) as import_warnings:
    warnings.simplefilter("always")
    from ttalloc import ttmetal  # no tt-metal in the test process: it warns and tracks nothing

FAKE_LIB = BUILD / "tests" / "fakes" / "tt-metal" / "lib" / "libtt_metal.so"
PLUGIN = (FAKE_LIB.parent if (FAKE_LIB.parent / "libttalloc_ttmetal.so").exists() else LIB_DIR) / \
    "libttalloc_ttmetal.so"

# What tt-metal's allocator says (tt_metal/impl/allocator/bank_manager.cpp), as ttnn raises it.
NEW = ("TT_FATAL @ /work/tt_metal/impl/allocator/bank_manager.cpp:439: false\ninfo:\nOut of Memory: Not enough "
       "space to allocate 1061683200 B DRAM buffer across 8 banks, where each bank needs to store 132710400 B, but "
       "bank size is 4273390016 B (allocated: 4221954688 B, free: 51435328 B, largest free block: 45589184 B)\n"
       "backtrace:\n --- tt::tt_metal::BankManager::allocate_buffer(...)\n")
ONLY = ("Out of Memory: Not enough space to allocate 6400 B L1_SMALL buffer across 25 banks, where each bank needs "
        "to store 256 B, but bank size is only 0 B")
OLD = "Out of Memory: Not enough space to allocate 94633984 B L1 buffer across 12 banks, where each bank needs to store 7886848 B"
DEPENDENCIES = ("Out of Memory: Not enough space after considering dependencies to allocate 2048 B TRACE across 12 "
                "banks (192 B per bank), bank size is 1048576 B (allocated: 1048000 B, free: 576 B, largest free "
                "block: 160 B)")

# A program that loads the fake tt-metal as Python loads ttnn's module, then imports ttalloc.ttmetal.
IMPORT_AFTER_TTNN = r"""
import ctypes, sys, warnings
warnings.simplefilter("error")              # the import must not warn when it can track
fake = ctypes.CDLL(sys.argv[1])             # RTLD_LOCAL: tt-metal's symbols are not global
import ttalloc.ttmetal as tm
print("result", tm.result, tm.installed, flush=True)
print(tm.status, flush=True)
fake.fake_ttmetal_buffer_create.restype = ctypes.c_void_p
fake.fake_ttmetal_buffer_create.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_char_p,
                                            ctypes.c_size_t)
fake.fake_ttmetal_open_device(0)
err = ctypes.create_string_buffer(1024)
assert fake.fake_ttmetal_buffer_create(0, 0, 4 << 20, err, 1024)
assert not fake.fake_ttmetal_buffer_create(0, 0, 8 << 30, err, 1024)   # more DRAM than the fake has
oom = tm.parse_out_of_memory(err.value.decode())
print("oom", oom.size, oom.type_name, oom.num_banks, flush=True)
tm.install()                                # again: still one processor
print("background", fake.fake_ttmetal_background_processors(), flush=True)
sys.stdin.readline()
"""


def test_import_after_tt_metal_tracks_its_buffers(server, processes):
    env = server.env(extra={"TTALLOC_TTMETAL_PLUGIN": str(PLUGIN)})
    app = processes([sys.executable, "-c", IMPORT_AFTER_TTNN, str(FAKE_LIB)], env=preload_env(env, []))
    assert app.expect(r"^result (\S+) (\S+)").groups() == ("0", "True")
    app.expect(r"^tracking buffers of every thread \(background processor")
    assert app.expect(r"^oom (.*)").group(1) == "%d DRAM 12" % (8 << 30)
    assert app.expect(r"^background (\d+)").group(1) == "1"
    wait_until(lambda: [(r["device_id"], r["dram_allocated"]) for r in process_rows(server.socket)
                        if r["pid"] == app.pid] == [(0, 4 * MiB)], what="the buffer")


def test_import_when_already_preloaded_registers_once(server, processes):
    env = preload_env(server.env(), [PLUGIN])
    app = processes([sys.executable, "-c", IMPORT_AFTER_TTNN, str(FAKE_LIB)], env=env)
    assert app.expect(r"^result (\S+) (\S+)").groups() == ("0", "True")
    assert app.expect(r"^background (\d+)").group(1) == "1"


def test_import_without_tt_metal_warns_and_tracks_nothing():
    # this process has no tt-metal: the module was imported above, and warned
    assert not ttmetal.installed and [w.category for w in import_warnings] == [RuntimeWarning]
    assert ttmetal.install() is False
    code = "import warnings; warnings.simplefilter('always'); import ttalloc.ttmetal as tm; print(tm.installed)"
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), TT_ALLOC_TRACKING_ENABLED="1",
               TTALLOC_TTMETAL_PLUGIN=str(PLUGIN))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env=preload_env(env, []))
    assert res.returncode == 0 and res.stdout == "False\n"
    assert "RuntimeWarning: ttalloc.ttmetal: tt-metal buffers are not tracked: tt-metal (libtt_metal.so) is not " \
           "loaded in this process" in res.stderr


@pytest.mark.parametrize("text, figures", [
    (NEW, (1061683200, protocol.DRAM, "DRAM", 8, 132710400, 4273390016, 4221954688, 51435328, 45589184)),
    (ONLY, (6400, protocol.L1_SMALL, "L1_SMALL", 25, 256, 0, None, None, None)),
    (OLD, (94633984, protocol.L1, "L1", 12, 7886848, None, None, None, None)),
    (DEPENDENCIES, (2048, protocol.TRACE, "TRACE", 12, 192, 1048576, 1048000, 576, 160)),
    (OLD.replace("B L1 buffer", "B BufferType::L1 buffer"), (94633984, protocol.L1, "L1", 12, 7886848, None, None,
                                                             None, None)),
])
def test_out_of_memory_messages_are_parsed(text, figures):
    assert tuple(ttmetal.parse_out_of_memory(RuntimeError(text))) == figures


@pytest.mark.parametrize("text", [
    "Statically allocated circular buffers in program 527 clash with L1 buffers on core range [(0,0)-(2,9)]",
    "Out of Memory: Not enough space to allocate 12 B HOST buffer across 1 banks, where each bank needs to store 12 B",
    "", "RuntimeError",
])
def test_other_errors_are_not_out_of_memory(text):
    assert ttmetal.parse_out_of_memory(text) is None


class Recorder:
    """A reporter that has alloc_failed (what issue 13 gives ttalloc.Reporter)."""

    def __init__(self):
        self.calls = []

    def alloc_failed(self, device, buffer_type, size):
        self.calls.append((device, buffer_type, size))
        return True


def test_an_out_of_memory_becomes_an_alloc_failed_where_the_reporter_has_it():
    r = Recorder()
    assert ttmetal.report_out_of_memory(RuntimeError(NEW), device=1, reporter=r) is True
    assert r.calls == [(1, protocol.DRAM, 1061683200)]
    assert ttmetal.report_out_of_memory(RuntimeError("something else"), reporter=r) is False
    assert len(r.calls) == 1
    # a reporter without alloc_failed (before issue 13): nothing, no error
    assert ttmetal.report_out_of_memory(NEW, reporter=object()) is False


def test_reporting_oom_reports_and_reraises():
    r = Recorder()
    with pytest.raises(RuntimeError, match="Out of Memory"):
        with ttmetal.reporting_oom(device=0, reporter=r):
            raise RuntimeError(OLD)
    with pytest.raises(ValueError):
        with ttmetal.reporting_oom(reporter=r):
            raise ValueError("not tt-metal's")

    @ttmetal.reporting_oom(device=2, reporter=r)
    def allocate():
        raise RuntimeError(ONLY)

    with pytest.raises(RuntimeError):
        allocate()
    assert r.calls == [(0, protocol.L1, 94633984), (2, protocol.L1_SMALL, 6400)]


def test_the_excepthook_reports_then_hands_over(monkeypatch):
    seen, handed = [], []
    monkeypatch.setattr(ttmetal, "report_out_of_memory", lambda exc, *a, **k: seen.append(str(exc)))
    monkeypatch.setattr(ttmetal, "_previous_excepthook", lambda *args: handed.append(args[0]))
    ttmetal._excepthook(RuntimeError, RuntimeError(OLD), None)
    assert seen == [OLD] and handed == [RuntimeError]
