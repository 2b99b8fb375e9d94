"""The query API: what the server knows, asked over a short connection each.

    query_device_stats(device_id)   the seed's query_stats.py answer
    device_info(), num_devices(), device_status(), processes(), leaks(),
    dump_remaining(), is_server_running(), format_bytes()
    document()        a diagnosis document (post-mortems, maps, diffs, ...)
    send_mark()       a mark over a short connection of its own

Every function takes `socket_path` (default: ttalloc.socket_path, read at
the call) and raises ServerNotRunning when nothing answers there.
Imports ttalloc.protocol and ttalloc.connection.
"""

import json
import os
import socket

from . import protocol
from .connection import ServerError, _Connection, _resolve

__all__ = ["query_device_stats", "device_info", "num_devices", "device_status", "processes",
           "leaks", "clear_leaks", "dump_remaining", "is_server_running", "format_bytes", "document",
           "send_mark"]


def _seed_answer(device_id, query_type, answer_type, path):
    """The seed's answer to QUERY / DEVICE_INFO_QUERY. HELLO goes first in
    the same write, so a device the server does not have comes back as a
    typed ERROR (ValueError here) instead of the closed connection a seed
    client sees."""
    with _Connection(path) as conn:
        conn.send(protocol.pack(protocol.HELLO, -1, process_id=os.getpid(), payload=protocol.pack_hello()))
        try:
            conn.read()  # HELLO_ACK
            msg = conn.exchange(protocol.pack(query_type, device_id), answer_type)
        except ServerError as e:
            if e.reason != "bad_device":
                raise
            count = _device_count(conn)
            raise ValueError("device %d does not exist: the server has %d device(s), 0..%d"
                             % (device_id, count, count - 1)) from None
    return protocol.unpack_seed(msg["payload"])


def _device_count(conn):
    msg = conn.exchange(protocol.pack(protocol.DEVICE_INFO_QUERY, -1), protocol.DEVICE_INFO_RESPONSE)
    return protocol.unpack_seed(msg["payload"])["num_devices"]


def _check_device(device_id, seed):
    """An older server answers a missing device with is_available = 0."""
    if not seed["is_available"]:
        raise ValueError("device %d does not exist: the server has %d device(s), 0..%d"
                         % (device_id, seed["num_devices"], seed["num_devices"] - 1))


def query_device_stats(device_id, socket_path=None):
    """Allocation totals of one device, as the seed's query_stats.py returns them.

    Returns a dict with device_id, dram_allocated, l1_allocated,
    l1_small_allocated and trace_allocated (bytes). Raises ServerNotRunning
    when the server cannot be reached and ValueError for a device the server
    does not have.
    """
    seed = _seed_answer(device_id, protocol.QUERY, protocol.RESPONSE, socket_path)
    _check_device(device_id, seed)
    return {
        "device_id": device_id,
        "dram_allocated": seed["dram_allocated"],
        "l1_allocated": seed["l1_allocated"],
        "l1_small_allocated": seed["l1_small_allocated"],
        "trace_allocated": seed["trace_allocated"],
    }


def device_info(device_id, socket_path=None):
    """Static facts of a device (DEVICE_INFO_QUERY): sizes, arch, channels.

    Keys: the seed's device-info fields (total_dram_size, total_l1_size,
    arch_type, num_dram_channels, dram_size_per_channel, l1_size_per_core,
    is_available, num_devices), plus device_id and arch (a name).
    """
    seed = _seed_answer(device_id, protocol.DEVICE_INFO_QUERY,
                        protocol.DEVICE_INFO_RESPONSE, socket_path)
    _check_device(device_id, seed)
    info = {k: seed[k] for k in protocol.SEED_FIELDS[4:]}
    info["device_id"] = device_id
    info["arch"] = protocol.ARCH_NAMES.get(seed["arch_type"], "Unknown")
    return info


def num_devices(socket_path=None):
    """Number of devices the server watches."""
    return _seed_answer(-1, protocol.DEVICE_INFO_QUERY, protocol.DEVICE_INFO_RESPONSE,
                        socket_path)["num_devices"]


def device_status(device_id, socket_path=None):
    """Dynamic state of a device (DEVICE_STATUS): temperature, power, name...

    Readings whose validity bit is clear are None (print them as N/A).
    """
    with _Connection(socket_path) as conn:
        msg = conn.exchange(protocol.pack(protocol.DEVICE_STATUS_QUERY, device_id),
                            protocol.DEVICE_STATUS)
    st = protocol.unpack_status(msg["payload"])
    valid = st.pop("valid")
    st["temperature_c"] = (st["temperature_mc"] / 1000.0
                           if valid & protocol.STATUS_TEMPERATURE else None)
    st["power_w"] = st["power_mw"] / 1000.0 if valid & protocol.STATUS_POWER else None
    if not valid & protocol.STATUS_UTILIZATION:
        st["utilization"] = None
    st["simulated"] = bool(st["backend_flags"] & 1)
    st["kernel_allocated"] = msg["buffer_id"]  # DEVICE_STATUS: kernel bytes in the header
    st["device_id"] = device_id
    return st


def _session_rows(path, query_type, row_type, session, device_id=0, process_id=0):
    """The rows answering a query filtered by $TTALLOC_SESSION tag `session`,
    as (header, payload unpacked as a process row) pairs."""
    with _Connection(path) as conn:
        rows = conn.rows(protocol.pack(query_type, device_id, process_id=process_id,
                                       payload=protocol.pack_filter(session)), row_type)
    return [(r, protocol.unpack_process(r["payload"])) for r in rows]


def processes(device_id=-1, socket_path=None, session=None):
    """One dict per (process, device) holding buffers (PROCESS_QUERY).

    device_id -1 (default) lists every device; `session` keeps only the
    processes whose HELLO carried that $TTALLOC_SESSION tag. Keys: pid, device_id, buffers,
    dram, l1, l1_small, trace, system_memory, cb, kernel, uid, comm, first_seen_ns, source
    ("socket", or "tt-metal shm" for a process only tt-metal's /dev/shm statistics report:
    buffers 0, no buffer list), stale (a shm slot whose process is gone) and exited (the
    process is gone and a --retain-leaks server keeps its leaks in the totals).
    """
    return [{"pid": r["process_id"], "device_id": r["device_id"],
             "buffers": r["size"], "dram": p["used"][0], "l1": p["used"][1],
             "l1_small": p["used"][2], "trace": p["used"][3],
             "system_memory": p["system_memory"], "cb": p["cb"],
             "kernel": r["buffer_id"], "uid": p["uid"], "comm": p["comm"],
             "source": "tt-metal shm" if p["flags"] & protocol.PROCESS_SHM else "socket",
             "stale": bool(p["flags"] & protocol.PROCESS_STALE),
             "exited": bool(p["flags"] & protocol.PROCESS_EXITED) and not p["flags"] & protocol.PROCESS_SHM,
             "first_seen_ns": r["timestamp"]}
            for r, p in _session_rows(socket_path, protocol.PROCESS_QUERY, protocol.PROCESS_ROW,
                                      session, device_id=device_id)]


def clear_leaks(socket_path=None):
    """Drops the exited processes whose leaks a --retain-leaks server keeps in
    its totals (the caller's user's; root: everyone's). Returns
    {"buffers": N, "processes": M}, what left the totals."""
    with _Connection(socket_path) as conn:
        msg = conn.exchange(protocol.pack(protocol.CLEAR_LEAKS, -1), protocol.CLEARED)
    return {"buffers": msg["size"], "processes": msg["buffer_id"]}


def leaks(pid=0, socket_path=None, session=None):
    """Buffers left by processes that exited (LEAK_QUERY), one dict each.

    pid 0 (default) lists every kept report of the caller's user; `session`
    keeps only those of processes tagged with that $TTALLOC_SESSION. Keys: pid,
    device_id, address, size, buffer_type (code), type (name), age_s,
    exit_time_ns, uid, comm.
    """
    return [{"pid": r["process_id"], "device_id": r["device_id"],
             "address": r["buffer_id"], "size": r["size"],
             "buffer_type": r["buffer_type"],
             "type": protocol.buffer_type_name(r["buffer_type"]),
             "age_s": p["used"][0] / 1e9, "exit_time_ns": p["used"][1],
             "uid": p["uid"], "comm": p["comm"]}
            for r, p in _session_rows(socket_path, protocol.LEAK_QUERY, protocol.LEAK_ROW,
                                      session, process_id=pid)]


def dump_remaining(socket_path=None):
    """Asks the server to print the live buffers in its log (DUMP_REMAINING).

    The dump is in the server's output, not returned; a SYNC round trip makes
    sure it was printed before this returns.
    """
    with _Connection(socket_path) as conn:
        conn.send(protocol.pack(protocol.DUMP_REMAINING, 0, process_id=os.getpid()))
        conn.exchange(protocol.pack(protocol.SYNC, -1, size=1), protocol.SYNC_ACK)


def document(path, socket_path=None):
    """One of the server's diagnosis documents, read over the socket
    (DOC_QUERY), as the HTTP API serves it: "/api/oom", "/api/oom/3",
    "/api/misuse", "/api/marks", "/api/diff?from=A&to=B",
    "/api/devices/0/map?type=dram", "/api/snapshot", "/api/export/trace"
    (parsed JSON), "/api/export/stacks" (text). `path` is at most 71 bytes
    (query values URL-encoded). Raises ServerError when the server refuses
    it (unknown path or mark, bad parameter)."""
    with _Connection(socket_path) as conn:
        conn.send(protocol.pack(protocol.DOC_QUERY, -1, process_id=os.getpid(),
                                payload=protocol.pack_text(path)))
        data = bytearray()
        while True:
            msg = conn.read()
            if msg["type"] == protocol.ROWS_END:
                break
            if msg["type"] != protocol.DOC_CHUNK:
                raise ConnectionError("unexpected answer %s while reading a document"
                                      % protocol.type_name(msg["type"]))
            data += msg["payload"][:msg["size"] - msg["buffer_id"]]
    text = data.decode("utf-8")
    return text if path.startswith("/api/export/stacks") else json.loads(text)


def send_mark(label, socket_path=None):
    """Records a mark named `label` over a connection of its own (MARK, then
    SYNC: it is in the server's timeline when this returns). ValueError for
    a label that is not 1..71 bytes of text without control characters."""
    payload = protocol.pack_text(label)
    with _Connection(socket_path) as conn:
        conn.send(protocol.pack(protocol.MARK, -1, process_id=os.getpid(), payload=payload))
        conn.exchange(protocol.pack(protocol.SYNC, -1, size=1), protocol.SYNC_ACK)
    return True


def is_server_running(socket_path=None):
    """True when something accepts connections on the server socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1.0)
    try:
        sock.connect(_resolve(socket_path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def format_bytes(bytes_val):
    """Format bytes in human-readable form (the seed's query_stats.py output).

    Kept line for line as the seed's (examples/seed/query_stats.py, which
    must stay verbatim), so both print the same text."""
    if bytes_val >= 1024**3:
        return f"{bytes_val / 1024**3:.2f} GB"
    elif bytes_val >= 1024**2:
        return f"{bytes_val / 1024**2:.2f} MB"
    elif bytes_val >= 1024:
        return f"{bytes_val / 1024:.2f} KB"
    else:
        return f"{bytes_val} B"
