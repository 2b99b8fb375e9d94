"""libttalloc through ctypes, for the Reporter (ttalloc.reporter).

    load()      the bound library, or None when it is not installed (or
                $TTALLOC_LIBRARY is "off"); `why` says which

Where libttalloc is looked for, first found:
    $TTALLOC_LIBRARY         a path to libttalloc.so.0 ("off": never use the library)
    the copy already loaded  (an application or libttalloc_ttmetal linked it)
    the system's library path  (what `cmake --install` put in the prefix's
                             lib/ and ldconfig knows, LD_LIBRARY_PATH)
    ctypes.util.find_library("ttalloc")
    <sys.prefix>/lib, /usr/local/lib   (an install whose ldconfig did not run)

A library that lacks the functions this module needs (an older release) is
not used. Imports nothing of the package.
"""

import ctypes
import ctypes.util
import os
import sys

__all__ = ["load", "why", "open_library", "LIBRARY_ENV", "SONAME"]

LIBRARY_ENV = "TTALLOC_LIBRARY"
SONAME = "libttalloc.so.0"

# include/ttalloc.h's error codes (TTALLOC_ERRNO_MAP, from -99 upwards)
ENOSERVER, EINVAL, ENOMEM, EUNKNOWN_BUFFER, EDUPLICATE, EPROTOCOL, EIO, ENODEV = range(-99, -91)

why = "not looked for yet"  # how load() found the library, or why it did not
_lib = None
_tried = False


class Stats(ctypes.Structure):
    """struct ttalloc_stats (include/ttalloc.h)."""

    _fields_ = [("events", ctypes.c_uint64), ("unconfirmed", ctypes.c_uint64),
                ("refused_device", ctypes.c_uint64), ("connections", ctypes.c_uint64),
                ("server_devices", ctypes.c_uint32), ("connected", ctypes.c_int),
                ("socket_path", ctypes.c_char * 108)]


def open_library(path, mode=0):
    """ctypes.CDLL(path, mode), or None when it cannot be loaded (ttalloc.ttmetal's plugin too)."""
    try:
        return ctypes.CDLL(path, mode=mode)
    except OSError:
        return None


def _candidates():
    """(how, CDLL or None) in the order of the module docstring."""
    yield "already loaded", lambda: open_library(SONAME, getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY)
    yield "the library path", lambda: open_library(SONAME)
    found = ctypes.util.find_library("ttalloc")
    if found:
        yield "find_library", lambda: open_library(found)
    for d in (os.path.join(sys.prefix, "lib"), "/usr/local/lib"):
        path = os.path.join(d, SONAME)
        if os.path.exists(path):
            yield path, lambda p=path: open_library(p)


# The 64-bit arguments of the two calls on the reporting path (address,
# size) are declared c_void_p where a pointer is 64 bits: the same register
# as a uint64_t in the LP64 calling conventions (x86-64, AArch64), and
# ctypes converts an int to c_void_p on a fast path, c_uint64 through
# from_param: about 0.15 us less per event (bench/python_reporter.py). The Reporter checks
# the ranges first (a negative int would wrap either way).
_U64_ARG = ctypes.c_void_p if ctypes.sizeof(ctypes.c_void_p) == 8 else ctypes.c_uint64


def _bind(lib):
    """Declares the functions the Reporter calls; False when one is missing."""
    c_int, c_u64 = ctypes.c_int, ctypes.c_uint64
    signatures = {
        "ttalloc_init": ([], c_int),
        "ttalloc_enabled": ([], c_int),
        "ttalloc_report_alloc": ([c_int, c_int, _U64_ARG, _U64_ARG], c_int),
        "ttalloc_report_free": ([c_int, _U64_ARG], c_int),
        "ttalloc_report_alloc_failed": ([c_int, c_int, c_u64], c_int),
        "ttalloc_mark": ([ctypes.c_char_p], c_int),
        "ttalloc_flush": ([], c_int),
        "ttalloc_live_buffers": ([], c_u64),
        "ttalloc_get_stats": ([ctypes.POINTER(Stats), ctypes.c_size_t], c_int),
        "ttalloc_last_error": ([ctypes.c_char_p, ctypes.c_size_t], c_int),
        "ttalloc_shutdown": ([], None),
    }
    for name, (args, result) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            return False
        fn.argtypes = args
        fn.restype = result
    return True


def load():
    """libttalloc with its functions declared, or None (see `why`)."""
    global _lib, _tried, why
    if _tried:
        return _lib
    _tried = True
    forced = os.environ.get(LIBRARY_ENV, "")
    if forced.lower() in ("off", "0", "no", "none"):
        why = "%s=%s: pure Python" % (LIBRARY_ENV, forced)
        return None
    options = [(forced, lambda: open_library(forced))] if forced else list(_candidates())
    for how, opener in options:
        lib = opener()
        if lib is None:
            continue
        if not _bind(lib):
            why = "%s (%s) lacks this release's functions: pure Python" % (SONAME, how)
            return None
        _lib = lib
        why = "%s (%s)" % (SONAME, how)
        return _lib
    why = ("%s not found (%s=%s)" % (SONAME, LIBRARY_ENV, forced) if forced else
           "%s is not installed: pure Python (install ttalloc's library, or set %s)" % (SONAME, LIBRARY_ENV))
    return None


def stats(lib):
    """ttalloc_get_stats() as a Stats."""
    st = Stats()
    lib.ttalloc_get_stats(ctypes.byref(st), ctypes.sizeof(st))
    return st


def last_error(lib):
    """ttalloc_last_error()'s line, or None."""
    buf = ctypes.create_string_buffer(512)
    return buf.value.decode("utf-8", "replace") if lib.ttalloc_last_error(buf, len(buf)) else None


def others_loaded():
    """True when another ttalloc library in this process shares libttalloc
    (libttalloc_ttmetal, the CUDA interposer): it is not the Reporter's to
    shut down."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return True
    return any(name in maps for name in ("libttalloc_ttmetal", "libttalloc_cuda"))
