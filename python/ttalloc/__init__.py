"""ttalloc: query and report device memory allocations (standard library only).

Query side, compatible with the seed's query_stats.py:

    from ttalloc import query_device_stats, format_bytes
    stats = query_device_stats(0)     # device_id, dram_allocated, l1_allocated,
                                      # l1_small_allocated, trace_allocated
    print(format_bytes(stats["dram_allocated"]))

plus device_info(), device_status(), num_devices(), processes(), leaks(),
clear_leaks(), dump_remaining(), is_server_running() and document() (the
diagnosis documents: post-mortems of allocation failures, address maps,
diffs between marks); mark(label) records a named point in the server's
timeline; from ttalloc.monitor: devices(),
profile_function() and track() (memory deltas and peak of a block of code).
ttalloc.pytest_plugin is a pytest plugin (--ttalloc-leaks) that fails a test
leaving device memory allocated.

Report side: Reporter sends ALLOC/FREE frames for this process, keeps its own
table of live buffers, reconnects (at most once per second, from the next
report or from a background thread while the process is idle) and re-sends
the table after a reconnect, so start order does not matter. Report calls
never raise because the server is absent: they return False.

The socket is the `socket_path` argument, else the module attribute
`ttalloc.socket_path`, which starts as $TT_ALLOC_SERVER_SOCKET or
/tmp/tt_allocation_server.sock; setting it changes the default of every
later call (it is ttalloc.connection.socket_path under another name).

Modules (each imports only those above it; none imports this package):

    protocol       the 112-byte frame, type codes, payload layouts
    connection     socket_path, _Connection (request/answer), ServerNotRunning,
                   ServerAccessDenied, ServerError, explain_connect_error()
    query          query_device_stats(), device_info(), ..., format_bytes()
    reporter       Reporter, PeakWatch, default_reporter(), tracking_enabled()
    monitor        devices(), profile_function(), track(), Tracker
    pytest_plugin  --ttalloc-leaks (loaded by pytest, not by this package)
    ttmetal        tt-metal's buffers through libttalloc_ttmetal, out-of-memory
                   reports (`import ttalloc.ttmetal` after ttnn; not loaded here)

Everything public is re-exported here: use `import ttalloc`.
"""

import sys
import types

from . import connection, protocol
from .connection import (QUERY_TIMEOUT, ServerAccessDenied, ServerError, ServerNotRunning,  # noqa: F401
                         explain_connect_error)
from .monitor import Tracker, devices, profile_function, track
from .protocol import (CB, DRAM, KERNEL, L1, L1_SMALL, SYSTEM_MEMORY, TRACE,  # noqa: F401
                       MSG_SIZE)
from .query import (clear_leaks, device_info, device_status, document, dump_remaining, format_bytes,
                    is_server_running, leaks, num_devices, processes, query_device_stats, send_mark)
from .reporter import PeakWatch, Reporter, default_reporter, mark, tracking_enabled

__all__ = [
    "socket_path", "query_device_stats", "format_bytes", "is_server_running",
    "device_info", "device_status", "num_devices", "processes", "leaks", "clear_leaks",
    "dump_remaining", "Reporter", "default_reporter", "tracking_enabled",
    "ServerNotRunning", "ServerAccessDenied", "ServerError", "explain_connect_error", "protocol",
    "DRAM", "L1", "SYSTEM_MEMORY", "L1_SMALL", "TRACE", "CB", "KERNEL",
    "devices", "profile_function", "track", "Tracker", "PeakWatch", "mark", "document", "send_mark",
]


class _Package(types.ModuleType):
    """The type of this package's module object: it makes `ttalloc.socket_path`
    read and set ttalloc.connection.socket_path, where the other modules look
    (a module's __class__ may be a ModuleType subclass, for properties)."""

    @property
    def socket_path(self):
        return connection.socket_path

    @socket_path.setter
    def socket_path(self, value):
        connection.socket_path = value

    def __dir__(self):
        return sorted(set(super().__dir__()) | {"socket_path"})


sys.modules[__name__].__class__ = _Package
