"""Monitoring helpers on top of the queries: devices(), profile_function(), track().

    import ttalloc
    for d in ttalloc.devices():
        print(d["device_id"], d["name"], ttalloc.format_bytes(d["dram_allocated"]))

    ttalloc.profile_function(my_model_inference)        # the seed's printout

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

import os
import sys
import threading
import time

from . import protocol
from .connection import _Connection
from .query import format_bytes, query_device_stats
from .reporter import default_reporter

__all__ = ["devices", "profile_function", "track", "Tracker"]


def _seed_frame(conn, msg_type, answer_type, device_id):
    msg = conn.exchange(protocol.pack(msg_type, device_id), answer_type)
    return protocol.unpack_seed(msg["payload"])


def devices(socket_path=None):
    """Every device the server watches, one dict each, in device order.

    Keys: the seed's query_device_stats() keys (device_id, dram_allocated,
    l1_allocated, l1_small_allocated, trace_allocated: bytes), plus name,
    arch, total_dram_size, total_l1_size (bytes), temperature (deg C),
    power (W), utilization (%) - None when the device gives no such reading -
    cb_allocated, system_memory_allocated (bytes), buffers, processes and
    simulated. The same names as the HTTP API's /api/devices.
    """
    out = []
    with _Connection(socket_path) as conn:
        count = _seed_frame(conn, protocol.DEVICE_INFO_QUERY, protocol.DEVICE_INFO_RESPONSE,
                            -1)["num_devices"]
        for dev in range(count):
            seed = _seed_frame(conn, protocol.QUERY, protocol.RESPONSE, dev)
            msg = conn.exchange(protocol.pack(protocol.DEVICE_STATUS_QUERY, dev),
                                protocol.DEVICE_STATUS)
            st = protocol.unpack_status(msg["payload"])
            valid = st["valid"]
            out.append({
                "device_id": dev,
                "dram_allocated": seed["dram_allocated"],
                "l1_allocated": seed["l1_allocated"],
                "l1_small_allocated": seed["l1_small_allocated"],
                "trace_allocated": seed["trace_allocated"],
                "name": st["name"],
                "arch": protocol.ARCH_NAMES.get(seed["arch_type"], "Unknown"),
                "total_dram_size": seed["total_dram_size"],
                "total_l1_size": seed["total_l1_size"],
                "temperature": (st["temperature_mc"] / 1000.0
                                if valid & protocol.STATUS_TEMPERATURE else None),
                "power": st["power_mw"] / 1000.0 if valid & protocol.STATUS_POWER else None,
                "utilization": (st["utilization"]
                                if valid & protocol.STATUS_UTILIZATION else None),
                "cb_allocated": st["cb_allocated"],
                "system_memory_allocated": st["system_memory"],
                "buffers": st["live_buffers"],
                "processes": st["processes"],
                "simulated": bool(st["backend_flags"] & 1),
            })
    return out


def format_delta(delta):
    """format_bytes() with a sign: '+1.00 MB', '-512.00 KB', '0 B'."""
    if delta == 0:
        return "0 B"
    return ("+" if delta > 0 else "-") + format_bytes(abs(delta))


def profile_function(func, device_id=0, socket_path=None, file=None):
    """Profile memory usage of a function (the seed's profile_memory_usage.py).

    Calls func() and prints, as the seed does:

        Function: my_model_inference
          Time: 0.412s
          DRAM change: +64.00 MB
          L1 change: 0 B

    The changes are those of the device's totals (every process on it),
    queried before and after; a negative change keeps its sign. Returns what
    func returned. `file` is where to print (default sys.stdout).
    """
    before = query_device_stats(device_id, socket_path=socket_path)
    start_time = time.time()
    result = func()
    after = query_device_stats(device_id, socket_path=socket_path)
    elapsed = time.time() - start_time
    dram_delta = after["dram_allocated"] - before["dram_allocated"]
    l1_delta = after["l1_allocated"] - before["l1_allocated"]
    out = file or sys.stdout
    name = getattr(func, "__name__", repr(func))
    print(f"Function: {name}", file=out)
    print(f"  Time: {elapsed:.3f}s", file=out)
    print(f"  DRAM change: {format_delta(dram_delta)}", file=out)
    print(f"  L1 change: {format_delta(l1_delta)}", file=out)
    return result


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
