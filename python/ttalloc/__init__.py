"""ttalloc: query and report device memory allocations (standard library only).

Query side, compatible with the seed's query_stats.py:

    from ttalloc import query_device_stats, format_bytes
    stats = query_device_stats(0)     # device_id, dram_allocated, l1_allocated,
                                      # l1_small_allocated, trace_allocated
    print(format_bytes(stats["dram_allocated"]))

and, with the names of the HTTP API and tt_smi --json (docs/DATA_MODEL.md),
as dataclasses: devices() and device_status() (Device), processes()
(Process, with its ProcessDevice per device), leaks() (LeakReport, with its
Buffers), device_info() (DeviceInfo), clear_leaks() (ClearedLeaks);
num_devices(), dump_remaining(), is_server_running(), document() (any JSON
document of the API, over the socket: post-mortems, maps, diffs between
marks, ...); mark(label) records a named point in the server's timeline.

Measuring code: profile_function(func, *args, device_id=0, **kwargs)
returns (result, MemoryDeltas); @profile prints the seed's lines at each
call; track() gives deltas and peak of a block. The pytest plugin
(`-p ttalloc.pytest_plugin --ttalloc-leaks`) fails a test that leaves
device memory allocated.

Report side: Reporter sends this process's ALLOC/FREE events and keeps its
own table of live buffers, reconnects and re-sends the table, so start order
does not matter; report calls never raise because the server is absent
(they return False). It goes through libttalloc (ctypes) when that library
is installed, pure Python otherwise (see ttalloc.reporter).

The socket is the `socket_path` argument, else `ttalloc.socket_path`, which
starts as $TT_ALLOC_SERVER_SOCKET or /tmp/tt_allocation_server.sock; setting
it changes the default of every later call.

dir(ttalloc) lists the public API (__all__); the modules behind it
(protocol, connection, model, query, reporter, monitor) are importable for
what they document, and ttalloc.ttmetal (tt-metal's own buffers, after
`import ttnn`) is loaded on demand.
"""

import sys
import types

from . import connection
from .connection import ServerAccessDenied, ServerError, ServerNotRunning
from .model import Buffer, ClearedLeaks, Device, DeviceInfo, LeakDevice, LeakReport, Process, ProcessDevice
from .monitor import MemoryDeltas, Tracker, profile, profile_function, track
from .protocol import CB, DRAM, KERNEL, L1, L1_SMALL, SYSTEM_MEMORY, TRACE
from .query import (clear_leaks, device_info, device_status, devices, document, dump_remaining, format_bytes,
                    is_server_running, leaks, num_devices, processes, query_device_stats)
from .reporter import PeakWatch, Reporter, default_reporter, mark, tracking_enabled

__all__ = [
    # where the server is
    "socket_path", "is_server_running",
    # the seed's query
    "query_device_stats", "format_bytes",
    # the data model
    "devices", "device_status", "device_info", "num_devices", "processes", "leaks", "clear_leaks",
    "document", "dump_remaining", "mark",
    "Device", "DeviceInfo", "Process", "ProcessDevice", "Buffer", "LeakReport", "LeakDevice", "ClearedLeaks",
    # measuring code
    "profile_function", "profile", "MemoryDeltas", "track", "Tracker",
    # reporting
    "Reporter", "PeakWatch", "default_reporter", "tracking_enabled",
    "DRAM", "L1", "SYSTEM_MEMORY", "L1_SMALL", "TRACE", "CB", "KERNEL",
    # errors
    "ServerNotRunning", "ServerAccessDenied", "ServerError",
]


class _Package(types.ModuleType):
    """The type of this package's module object: `ttalloc.socket_path` reads
    and sets ttalloc.connection.socket_path, where the other modules look (a
    module's __class__ may be a ModuleType subclass, for properties), and
    dir() shows the public API only."""

    @property
    def socket_path(self):
        return connection.socket_path

    @socket_path.setter
    def socket_path(self, value):
        connection.socket_path = value

    def __dir__(self):
        return sorted(__all__)


sys.modules[__name__].__class__ = _Package
