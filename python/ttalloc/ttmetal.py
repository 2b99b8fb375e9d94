"""ttalloc.ttmetal: per-buffer tracking of a stock tt-metal from Python.

    import ttnn
    import ttalloc.ttmetal          # after ttnn: tt-metal must be loaded

Importing the module loads libttalloc_ttmetal.so (ctypes) and registers its
processor with the tt-metal already in the process (docs/TTMETAL.md): every
buffer tt-metal allocates or frees is reported to the ttalloc server, with
TT_ALLOC_TRACKING_ENABLED=1 as for every client. When that cannot be done
(tt-metal not loaded yet, tracking off, the library missing) the import
warns (RuntimeWarning) and `installed` is False; `install()` tries again.
A process already started with LD_PRELOAD=libttalloc_ttmetal.so or
`ttalloc-run --tt-metal` is registered once, not twice.

Allocation failures never reach tt-metal's GraphTracker: tt-metal raises
instead, with its allocator's message ("Out of Memory: Not enough space to
allocate ... B DRAM buffer across ... banks, ..."). This module turns that
exception into an ALLOC_FAILED report: for exceptions that end the program
(a sys.excepthook installed on import, when tracking is on), and for those
caught around `with ttalloc.ttmetal.reporting_oom(device=0):` (re-raised).
The message names no device: the device is the caller's (default 0).
`parse_out_of_memory()` reads the figures out of the message.

Library lookup, first found: $TTALLOC_TTMETAL_PLUGIN, the copy already
loaded (preloaded), the build tree of this checkout (build/lib), the
system's library path.
"""

import ctypes
import os
import re
import sys
import warnings
from collections import namedtuple
from pathlib import Path

from .library import open_library
from .protocol import BUFFER_TYPE_NAMES

__all__ = ["install", "installed", "result", "status", "OutOfMemory", "parse_out_of_memory",
           "report_out_of_memory", "reporting_oom"]

PLUGIN = "libttalloc_ttmetal.so"
LIBTTALLOC = "libttalloc.so.0"

# ttalloc_ttmetal.h's enum ttalloc_ttmetal_result
ALL_THREADS, THIS_THREAD = 0, 1
ENOTTMETAL, EDISABLED, ELOAD, EMISMATCH = -1, -2, -3, -4

installed = False   # the processor is registered
result = None       # ttalloc_ttmetal_init()'s result (None: the library was not found)
status = "not tried"  # what happened, in words

_plugin = None
_previous_excepthook = None


def _find_plugin():
    """The loaded library: ($TTALLOC_TTMETAL_PLUGIN, preloaded, checkout build, system), or None."""
    forced = os.environ.get("TTALLOC_TTMETAL_PLUGIN")
    if forced:
        return open_library(forced)
    # already there (LD_PRELOAD): the same copy, so that nothing registers twice
    lib = open_library(PLUGIN, getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY)
    if lib is not None:
        return lib
    checkout = Path(__file__).resolve().parents[2] / "build" / "lib" / PLUGIN
    if checkout.exists():
        return open_library(str(checkout))
    return open_library(PLUGIN)


def install():
    """Registers libttalloc_ttmetal's processor with the tt-metal loaded in
    this process (once). Returns True when buffers are tracked; `result` and
    `status` say how, or why not."""
    global _plugin, installed, result, status
    if _plugin is None:
        _plugin = _find_plugin()
        if _plugin is None:
            result, status = None, ("%s not found: build ttalloc with -DTTALLOC_TT_METAL_DIR (docs/TTMETAL.md) "
                                    "or set TTALLOC_TTMETAL_PLUGIN" % PLUGIN)
            return False
        _plugin.ttalloc_ttmetal_init.restype = ctypes.c_int
        _plugin.ttalloc_ttmetal_status.restype = ctypes.c_char_p
    result = _plugin.ttalloc_ttmetal_init()
    status = _plugin.ttalloc_ttmetal_status().decode("utf-8", "replace")
    installed = result >= 0
    return installed


# ---- out of memory ----

OutOfMemory = namedtuple("OutOfMemory", "size buffer_type type_name num_banks per_bank bank_size allocated free "
                                        "largest_free_block")
OutOfMemory.__doc__ = """Figures of tt-metal's out-of-memory message, in bytes; buffer_type is the
ttalloc/tt-metal code (ttalloc.DRAM ...); bank_size and the allocator
statistics are None in messages of tt-metal versions that did not print them."""

# tt_metal/impl/allocator/bank_manager.cpp. Older versions end after "needs
# to store {} B", or say "bank size is only {} B" without the statistics.
_OOM_BANKS = re.compile(
    r"Out of Memory: Not enough space to allocate (\d+) B ([\w:]+) buffer across (\d+) banks, where each bank needs "
    r"to store (\d+) B(?:, but bank size is (?:only )?(\d+) B(?: \(allocated: (\d+) B, free: (\d+) B, largest free "
    r"block: (\d+) B\))?)?")
# the same file, allocators with dependencies
_OOM_DEPENDENCIES = re.compile(
    r"Out of Memory: Not enough space after considering dependencies to allocate (\d+) B ([\w:]+) across (\d+) banks "
    r"\((\d+) B per bank\), bank size is (\d+) B \(allocated: (\d+) B, free: (\d+) B, largest free block: (\d+) B\)")

_TYPE_CODES = {name: code for code, name in BUFFER_TYPE_NAMES.items()}


def parse_out_of_memory(text):
    """The OutOfMemory figures of a tt-metal allocation failure (an exception
    or its text, TT_FATAL header and backtrace included), or None when the
    text is not one."""
    text = str(text)
    m = _OOM_BANKS.search(text) or _OOM_DEPENDENCIES.search(text)
    if not m:
        return None
    name = m.group(2).rsplit("::", 1)[-1]  # "BufferType::L1" in some versions' enum names
    if name not in _TYPE_CODES:
        return None
    nums = [None if g is None else int(g) for i, g in enumerate(m.groups()) if i != 1]
    return OutOfMemory(nums[0], _TYPE_CODES[name], name, *nums[1:])


def _c_alloc_failed():
    """ttalloc_report_alloc_failed of the libttalloc this process reports through, if it has one."""
    lib = open_library(LIBTTALLOC, getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY)
    fn = getattr(lib, "ttalloc_report_alloc_failed", None) if lib is not None else None
    if fn is not None:
        fn.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_uint64)
        fn.restype = ctypes.c_int
    return fn


def report_out_of_memory(error, device=0, reporter=None):
    """Reports tt-metal's out-of-memory `error` (an exception or its text) as
    an ALLOC_FAILED of its size and buffer type on `device`. Returns True
    when it was reported, False when `error` is not an out-of-memory or no
    reporting path has ALLOC_FAILED. Never raises."""
    oom = parse_out_of_memory(error)
    if oom is None:
        return False
    # ALLOC_FAILED (issue 13): libttalloc's ttalloc_report_alloc_failed(int device,
    # enum ttalloc_buffer_type type, uint64_t size) and Reporter.alloc_failed(device,
    # buffer_type, size), both feature-detected. The server works out free bytes, the
    # largest free block and fragmentation from its own view of the process's buffers,
    # so the message's allocator figures need not travel.
    try:
        fn = _c_alloc_failed() if reporter is None else None
        if fn is not None:  # the connection that carries this process's buffers
            return fn(int(device), oom.buffer_type, oom.size) == 0
        if reporter is None:
            from .reporter import Reporter, default_reporter
            if not hasattr(Reporter, "alloc_failed"):
                return False  # not before creating a reporter (a connection) for nothing
            reporter = default_reporter()
        alloc_failed = getattr(reporter, "alloc_failed", None)
        if alloc_failed is None:
            return False
        return bool(alloc_failed(int(device), oom.buffer_type, oom.size))
    except Exception:  # reporting must never turn one failure into another
        return False


class reporting_oom:
    """Context manager and decorator: an out-of-memory exception raised
    inside is reported (report_out_of_memory) and re-raised unchanged."""

    def __init__(self, device=0, reporter=None):
        self.device = device
        self.reporter = reporter

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            report_out_of_memory(exc, self.device, self.reporter)
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with reporting_oom(self.device, self.reporter):
                return fn(*args, **kwargs)
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def _excepthook(exc_type, exc, tb):
    report_out_of_memory(exc)
    (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)


def _install_excepthook():
    global _previous_excepthook
    if _previous_excepthook is None:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook


if not install():
    warnings.warn("ttalloc.ttmetal: tt-metal buffers are not tracked: %s" % status, RuntimeWarning, stacklevel=2)
else:
    if result == THIS_THREAD:
        warnings.warn("ttalloc.ttmetal: %s" % status, RuntimeWarning, stacklevel=2)
    _install_excepthook()
