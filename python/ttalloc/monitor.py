"""Monitoring helpers on top of the queries: profile_function(), @profile, track().

    import ttalloc

    result, deltas = ttalloc.profile_function(my_model_inference, batch, device_id=0)
    print(deltas.dram_allocated, deltas.elapsed_seconds)

    @ttalloc.profile                 # prints the seed's lines at each call:
    def my_model_inference():        #   Function: my_model_inference
        ...                          #     Time: 0.412s
                                     #     DRAM change: +64.00 MB
                                     #     L1 change: 0 B

    with ttalloc.track(0) as t:                          # deltas and peak
        run_model()
    print(t)              # DRAM +64.00 MB (peak +96.00 MB), L1 +0 B (peak +1.00 MB), 0.412 s

What "peak" means (track): the highest total seen between the start and the
end of the block. It is the largest of
  - the totals before and after the block,
  - samples taken by a background thread every `interval` seconds (default
    5 ms; a spike shorter than that, in another process or reported by the C
    library, can be missed),
  - the totals before the block plus the high-water mark of the buffers this
    process reports through a ttalloc.Reporter (the default reporter, which the
    simulated tt_metal uses): exact for those, however short the spike, as
    every report updates it (assuming the rest stays as it was at the start).
So the peak is exact for this process's own Python-reported buffers and a
lower bound (to the sampling interval) for everything else.
"""

import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

from . import protocol
from .connection import _Connection
from .query import format_bytes, query_device_stats
from .reporter import default_reporter

__all__ = ["profile_function", "profile", "MemoryDeltas", "track", "Tracker"]


def _seed_frame(conn, msg_type, answer_type, device_id):
    msg = conn.exchange(protocol.pack(msg_type, device_id), answer_type)
    return protocol.unpack_seed(msg["payload"])


def format_delta(delta):
    """format_bytes() with a sign: '+1.00 MB', '-512.00 KB', '0 B'."""
    if delta == 0:
        return "0 B"
    return ("+" if delta > 0 else "-") + format_bytes(abs(delta))


@dataclass
class MemoryDeltas:
    """How a device's totals changed around a call (profile_function,
    @profile): each total's bytes after minus bytes before (the names of
    the totals, negative for a decrease), and the seconds the call took.
    str() gives the seed's lines."""

    device_id: int
    dram_allocated: int
    l1_allocated: int
    l1_small_allocated: int
    trace_allocated: int
    elapsed_seconds: float
    function: Optional[str] = None

    def lines(self):
        """The seed's profile_memory_usage.py lines: Function, Time, DRAM change, L1 change."""
        return ["Function: %s" % self.function,
                "  Time: %.3fs" % self.elapsed_seconds,
                "  DRAM change: %s" % format_delta(self.dram_allocated),
                "  L1 change: %s" % format_delta(self.l1_allocated)]

    def __str__(self):
        return "\n".join(self.lines())


def _flush_reports():
    """This process's Python reports reach the server before a total is read."""
    reporter = default_reporter()
    if reporter.enabled:
        reporter.flush()


def profile_function(func, *args, device_id=0, **kwargs):
    """Calls func(*args, **kwargs) and measures the device's memory around it
    (the seed's profile_memory_usage.py, as a library function).

    Returns (result, deltas): what func returned, and a MemoryDeltas with
    the change of each of the device's totals (dram_allocated, l1_allocated,
    l1_small_allocated, trace_allocated: bytes after minus bytes before,
    negative for a decrease), elapsed_seconds and the function's name. The
    totals are the device's (every process on it), as query_device_stats()
    reads them; the server is ttalloc.socket_path. Prints nothing: str(deltas)
    or @ttalloc.profile gives the seed's lines. `device_id` is this
    function's: a func that takes its own device_id gets it through a
    wrapper (functools.partial or a lambda).
    """
    return _measure(func, args, kwargs, device_id, None)


def _measure(func, args, kwargs, device_id, socket_path):
    """profile_function's work, with the server's socket (None: ttalloc.socket_path)."""
    _flush_reports()
    before = query_device_stats(device_id, socket_path=socket_path)
    start = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    _flush_reports()
    after = query_device_stats(device_id, socket_path=socket_path)
    deltas = MemoryDeltas(device_id=device_id, elapsed_seconds=elapsed,
                          function=getattr(func, "__name__", repr(func)),
                          **{k: after[k] - before[k] for k in ("dram_allocated", "l1_allocated",
                                                               "l1_small_allocated", "trace_allocated")})
    return result, deltas


def profile(func=None, *, device_id=0, socket_path=None, file=None, logger=None):
    """Decorator: each call of the function is measured as profile_function()
    does and the seed's lines are printed (Function, Time, DRAM change, L1
    change), to `file` (default sys.stdout) or, with `logger`, as
    logger.info() lines. The call returns what the function returns.

        @ttalloc.profile
        def step(): ...

        @ttalloc.profile(device_id=1, logger=logging.getLogger("mem"))
        def step(): ...

    `socket_path` picks the server (default ttalloc.socket_path). The
    deltas of the latest call are in the wrapper's `last_deltas`.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            result, deltas = _measure(fn, args, kwargs, device_id, socket_path)
            wrapper.last_deltas = deltas
            for line in deltas.lines():
                if logger is not None:
                    logger.info("%s", line)
                else:
                    print(line, file=file or sys.stdout)
            return result

        wrapper.last_deltas = None
        return wrapper

    if func is not None:
        if not callable(func):
            raise TypeError("@ttalloc.profile takes keyword arguments only (device_id=, socket_path=, file=, "
                            "logger=), not %r" % (func,))
        return decorate(func)
    return decorate


class Tracker:
    """Result of a track() block (filled in when the block ends).

    dram_before, l1_before, dram_after, l1_after   totals (bytes) at the edges
    dram_delta, l1_delta                           after - before
    peak_dram, peak_l1                             highest totals seen (see the module doc)
    peak_dram_delta, peak_l1_delta                 peak - before: the extra memory the block needed
    elapsed                                        seconds
    samples                                        background samples taken
    scope, device_id, pid                          what was measured

    DRAM is the DRAM buffer type, L1 the L1 type, as in query_device_stats().
    """

    def __init__(self, device_id, scope, interval, socket_path, reporter):
        if scope not in ("device", "process"):
            raise ValueError("scope must be 'device' or 'process', not %r" % (scope,))
        self.device_id = int(device_id)
        self.scope = scope
        self.interval = interval
        self.socket_path = socket_path
        self.pid = os.getpid()
        self._reporter = reporter
        self.samples = 0
        self.elapsed = None
        self.dram_before = self.l1_before = None
        self.dram_after = self.l1_after = None
        self.dram_delta = self.l1_delta = None
        self.peak_dram = self.peak_l1 = None
        self.peak_dram_delta = self.peak_l1_delta = None
        self._max = [0, 0]
        self._stop = threading.Event()
        self._thread = None
        self._watch = None
        self._sample_error = None

    # ---- measuring ----

    def _read(self, conn):
        """(dram, l1) now: the device's totals or this process's use of the device."""
        if self.scope == "device":
            seed = _seed_frame(conn, protocol.QUERY, protocol.RESPONSE, self.device_id)
            if not seed["is_available"]:
                raise ValueError("device %d does not exist: the server has %d device(s)"
                                 % (self.device_id, seed["num_devices"]))
            return seed["dram_allocated"], seed["l1_allocated"]
        rows = conn.rows(protocol.pack(protocol.PROCESS_QUERY, self.device_id,
                                       payload=protocol.pack_filter("")),
                         protocol.PROCESS_ROW)
        for r in rows:
            if r["process_id"] == self.pid and r["device_id"] == self.device_id:
                used = protocol.unpack_process(r["payload"])["used"]
                return used[0], used[1]
        return 0, 0

    def _note(self, dram, l1):
        self._max[0] = max(self._max[0], dram)
        self._max[1] = max(self._max[1], l1)

    def _sampler(self):
        try:
            with _Connection(self.socket_path) as conn:
                while not self._stop.wait(self.interval):
                    self._note(*self._read(conn))
                    self.samples += 1
        except (OSError, ValueError) as e:  # server gone: edges and reporter still count
            self._sample_error = e

    def _flush(self):
        if self._reporter is not None and self._reporter.enabled:
            self._reporter.flush()

    def _begin(self):
        self._flush()
        if self._reporter is not None and self._reporter.enabled:
            self._watch = self._reporter.watch_peaks()
        with _Connection(self.socket_path) as conn:
            self.dram_before, self.l1_before = self._read(conn)
        self._note(self.dram_before, self.l1_before)
        self._t0 = time.monotonic()
        if self.interval and self.interval > 0:
            self._thread = threading.Thread(target=self._sampler, name="ttalloc-track",
                                            daemon=True)
            self._thread.start()

    def _end(self):
        self.elapsed = time.monotonic() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        own_dram = own_l1 = 0
        if self._watch is not None:
            self._watch.close()
            own_dram = self._watch.increase(self.device_id, protocol.DRAM)
            own_l1 = self._watch.increase(self.device_id, protocol.L1)
        self._flush()
        with _Connection(self.socket_path) as conn:
            self.dram_after, self.l1_after = self._read(conn)
        self._note(self.dram_after, self.l1_after)
        self._note(self.dram_before + own_dram, self.l1_before + own_l1)
        self.dram_delta = self.dram_after - self.dram_before
        self.l1_delta = self.l1_after - self.l1_before
        self.peak_dram, self.peak_l1 = self._max
        self.peak_dram_delta = self.peak_dram - self.dram_before
        self.peak_l1_delta = self.peak_l1 - self.l1_before

    # ---- context manager ----

    def __enter__(self):
        self._begin()
        return self

    def __exit__(self, *exc):
        self._end()
        return False

    def __str__(self):
        if self.elapsed is None:
            return "<ttalloc.Tracker: running>"
        return ("DRAM %s (peak %s), L1 %s (peak %s), %.3f s"
                % (format_delta(self.dram_delta), format_delta(self.peak_dram_delta),
                   format_delta(self.l1_delta), format_delta(self.peak_l1_delta), self.elapsed))

    def as_dict(self):
        """The results as a plain dict (for JSON or logging)."""
        keys = ("device_id", "scope", "pid", "elapsed", "samples", "dram_before", "l1_before",
                "dram_after", "l1_after", "dram_delta", "l1_delta", "peak_dram", "peak_l1",
                "peak_dram_delta", "peak_l1_delta")
        return {k: getattr(self, k) for k in keys}


def track(device_id=0, scope="device", interval=0.005, socket_path=None, reporter=None):
    """Context manager measuring a block's DRAM/L1 deltas and peak.

        with ttalloc.track(0) as t:
            run_model()
        print(t.dram_delta, t.peak_dram_delta, t)

    scope "device" (default) measures the device's totals (every process on
    it, like profile_function and query_device_stats); "process" measures
    only this process's use of the device (its row in processes()), which is
    what to use on a shared machine. `interval` is the background sampling
    period in seconds (0 or None: no sampling thread). `reporter` is the
    Reporter whose high-water mark makes the peak exact (default: the
    process's default reporter, when tracking is enabled; False: none). See the module
    docstring for what the peak is. Raises ServerNotRunning when the server
    cannot be reached at the start or the end.
    """
    if reporter is None:
        reporter = default_reporter()
    elif reporter is False:
        reporter = None
    return Tracker(device_id, scope, interval, socket_path, reporter)
