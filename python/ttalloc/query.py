"""The query API: what the server knows, asked over a short connection each.

    query_device_stats(device_id)   the seed's query_stats.py answer (a dict)
    devices(), device_status()      Device objects (ttalloc.model), as /api/devices
    processes()                     Process objects, as /api/processes
    leaks()                         LeakReport objects (the caller's user's, as LEAK_QUERY)
    device_info(), num_devices(), clear_leaks(), dump_remaining(),
    is_server_running(), format_bytes()
    document()        any JSON document of the HTTP API, over the socket
    send_mark()       a mark over a short connection of its own

Devices and processes are the server's own documents read over the socket
(DOC_QUERY), so their fields have the names of the HTTP API and tt_smi
--json (docs/DATA_MODEL.md); leak reports, which the server shows a user
only of their own, are built from LEAK_QUERY's rows under the same names. Every function takes `socket_path`
(default: ttalloc.socket_path, read at the call) and raises
ServerNotRunning when nothing answers there. Imports ttalloc.protocol,
ttalloc.connection and ttalloc.model.
"""

import json
import os
import pwd
import socket

from . import protocol
from .connection import ServerError, _Connection, _resolve
from .model import Buffer, ClearedLeaks, Device, DeviceInfo, LeakDevice, LeakReport, Process

__all__ = ["query_device_stats", "devices", "device_info", "num_devices", "device_status", "processes",
           "leaks", "clear_leaks", "dump_remaining", "is_server_running", "format_bytes", "document"]


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
    """Fixed facts of a device (the seed's DEVICE_INFO answer) as a DeviceInfo:
    arch, dram_capacity and l1_capacity (bytes), dram_channel_count,
    dram_channel_capacity and l1_core_capacity (bytes), device_count."""
    seed = _seed_answer(device_id, protocol.DEVICE_INFO_QUERY,
                        protocol.DEVICE_INFO_RESPONSE, socket_path)
    _check_device(device_id, seed)
    return DeviceInfo(device_id=device_id, arch=protocol.ARCH_NAMES.get(seed["arch_type"]),
                      dram_capacity=seed["total_dram_size"], l1_capacity=seed["total_l1_size"],
                      dram_channel_count=seed["num_dram_channels"],
                      dram_channel_capacity=seed["dram_size_per_channel"],
                      l1_core_capacity=seed["l1_size_per_core"], device_count=seed["num_devices"])


def num_devices(socket_path=None):
    """Number of devices the server watches."""
    return _seed_answer(-1, protocol.DEVICE_INFO_QUERY, protocol.DEVICE_INFO_RESPONSE,
                        socket_path)["num_devices"]


def devices(socket_path=None):
    """Every device the server watches, in device order, as Device objects:
    the seed's totals (dram_allocated, l1_allocated, l1_small_allocated,
    trace_allocated), cb/kernel/system_memory_allocated, name, arch,
    dram_capacity, l1_capacity (bytes), temperature_c, power_w,
    utilization_pct (None when the device gives no such reading),
    process_count, buffer_count, simulated, and its identity (serial,
    uuid, pci_bus_id, ...). GET /api/devices, read over the socket."""
    return [Device.from_json(d) for d in document("/api/devices", socket_path)]


def device_status(device_id, socket_path=None):
    """One device as a Device (see devices()). ValueError for a device the
    server does not have."""
    try:
        return Device.from_json(document("/api/devices/%d" % int(device_id), socket_path))
    except ServerError as e:
        if "does not exist" in str(e) or "no such endpoint" in str(e):
            raise ValueError(str(e).replace("server refused the request: ", "")) from None
        raise


def processes(device_id=-1, socket_path=None, session=None):
    """Every process the server knows, as Process objects (GET /api/processes):
    pid, name, user, source ("socket", "tt-metal shm" for a process only
    tt-metal's /dev/shm statistics report, "kernel" for one that holds a
    device without reporting), its totals (dram_allocated, ...,
    buffer_count) and one ProcessDevice per device in `devices`.

    device_id (default -1: all) keeps the processes on that device, each
    with only that device in `devices` and its totals those of that device;
    `session` keeps the processes whose HELLO carried that $TTALLOC_SESSION
    tag."""
    out = []
    for obj in document("/api/processes", socket_path):
        p = Process.from_json(obj)
        if session and p.session != session:
            continue
        if device_id is not None and device_id >= 0:
            d = p.device(device_id)
            if d is None:
                continue
            p.devices = [d]
            for key in ("dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated",
                        "cb_allocated", "kernel_allocated", "system_memory_allocated", "buffer_count"):
                setattr(p, key, getattr(d, key))
        out.append(p)
    return out


def clear_leaks(socket_path=None):
    """Drops the exited processes whose leaks a --retain-leaks server keeps in
    its totals (the caller's user's; root: everyone's). Returns ClearedLeaks:
    buffer_count and process_count, what left the totals."""
    with _Connection(socket_path) as conn:
        msg = conn.exchange(protocol.pack(protocol.CLEAR_LEAKS, -1), protocol.CLEARED)
    return ClearedLeaks(buffer_count=msg["size"], process_count=msg["buffer_id"])


def _leak_rows(path, pid, session):
    """LEAK_QUERY with stacks: [(LEAK_ROW header, its process payload, [stack frame, ...])]."""
    with _Connection(path) as conn:
        conn.send(protocol.pack(protocol.LEAK_QUERY, 0, process_id=pid, buffer_type=protocol.LEAK_WITH_STACKS,
                                payload=protocol.pack_filter(session)))
        rows = []
        while True:
            msg = conn.read()
            if msg["type"] == protocol.ROWS_END:
                return rows
            if msg["type"] == protocol.LEAK_ROW:
                rows.append((msg, protocol.unpack_process(msg["payload"]), []))
            elif msg["type"] == protocol.STACK_LINE and rows:
                text = protocol.TEXT_PAYLOAD.unpack(msg["payload"])[0]
                rows[-1][2].append(text.split(b"\0", 1)[0].decode("utf-8", "replace"))
            else:
                raise ConnectionError("unexpected answer %s while reading leak rows"
                                      % protocol.type_name(msg["type"]))


def leaks(pid=0, socket_path=None, session=None):
    """Leak reports of processes that exited leaving buffers allocated (LEAK_QUERY),
    as LeakReport objects: pid, name, uid, user, exit_time (ms), buffer_count,
    bytes, devices and the buffers the server keeps, each a Buffer with its
    age_seconds and stack (when the process had TT_ALLOC_STACK_TRACE=1).

    The server shows a user its own reports (root: everyone's); pid keeps one
    process's, `session` those tagged with that $TTALLOC_SESSION. The socket
    does not tell a report's number (`id` is None: GET /api/leaks has it) nor
    its session when not asked for one."""
    reports = {}
    for r, p, stack in _leak_rows(socket_path, pid, session):
        key = (r["process_id"], p["used"][1])  # a process's report: its pid and exit time
        rep = reports.get(key)
        if rep is None:
            uid = None if p["uid"] == protocol.UID_UNKNOWN else p["uid"]
            rep = reports[key] = LeakReport(id=None, pid=r["process_id"], name=p["comm"] or None, uid=uid,
                                            user=_user_name(uid), session=session or None,
                                            exit_time=p["used"][1] // 1000000)
        rep.buffers.append(Buffer(device_id=r["device_id"], address=r["buffer_id"], size=r["size"],
                                  type=protocol.buffer_type_name(r["buffer_type"]), pid=rep.pid, name=rep.name,
                                  age_seconds=p["used"][0] / 1e9, stack=stack or None))
    out = []
    for rep in sorted(reports.values(), key=lambda x: -x.exit_time):
        per_device = {}
        for b in rep.buffers:
            d = per_device.setdefault(b.device_id, LeakDevice(device_id=b.device_id))
            d.bytes += b.size
            d.buffer_count += 1
        rep.devices = [per_device[k] for k in sorted(per_device)]
        rep.buffer_count = rep.buffers_kept = len(rep.buffers)
        rep.bytes = sum(b.size for b in rep.buffers)
        out.append(rep)
    return out


def _user_name(uid):
    """The name of uid (its number when unknown; None for None)."""
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def dump_remaining(socket_path=None):
    """Asks the server to print the live buffers in its log (DUMP_REMAINING).

    The dump is in the server's output, not returned; a SYNC round trip makes
    sure it was printed before this returns.
    """
    with _Connection(socket_path) as conn:
        conn.send(protocol.pack(protocol.DUMP_REMAINING, 0, process_id=os.getpid()))
        conn.exchange(protocol.pack(protocol.SYNC, -1, size=1), protocol.SYNC_ACK)


def document(path, socket_path=None):
    """One of the server's JSON documents, read over the socket (DOC_QUERY),
    as the HTTP API serves it: "/api/devices", "/api/processes",
    "/api/leaks", "/api/oom", "/api/oom/3", "/api/misuse", "/api/marks",
    "/api/diff?from=A&to=B", "/api/devices/0/map?type=dram",
    "/api/snapshot", "/api/history?seconds=60", "/healthz",
    "/api/export/trace" (parsed JSON), "/api/export/stacks" (text). `path`
    is at most 71 bytes (query values URL-encoded). Raises ServerError
    when the server refuses it (unknown path or mark, bad parameter)."""
    with _Connection(socket_path) as conn:
        conn.send(protocol.pack(protocol.DOC_QUERY, -1, process_id=os.getpid(),
                                payload=protocol.pack_text(path)))
        data = bytearray()
        while True:
            try:
                msg = conn.read()
            except ServerError as e:
                if not data:
                    raise
                # a reason longer than an ERROR frame holds came whole, as chunks
                raise ServerError("server refused the request: %s" % data.decode("utf-8", "replace"),
                                  e.code, e.reason) from None
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
