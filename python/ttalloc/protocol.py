"""The ttalloc wire format, in Python.

Mirror of src/common/protocol.h, which is the one definition: every message
is a fixed 112-byte little-endian packed frame. The header (offsets 0..39) is
the same for every type; the payload (offsets 40..111) depends on the type.

    FRAME            the seed's struct "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII"
    HEADER           offsets 0..39
    SEED_PAYLOAD     RESPONSE / DEVICE_INFO_RESPONSE (seed fields)
    STATUS_PAYLOAD   DEVICE_STATUS
    PROCESS_PAYLOAD  PROCESS_ROW, LEAK_ROW and BUFFER_ROW
    ERROR_PAYLOAD    ERROR
    HELLO_PAYLOAD    HELLO / HELLO_ACK
    FILTER_PAYLOAD   PROCESS_QUERY / LEAK_QUERY (session filter)
    ALLOC_PAYLOAD    ALLOC, FREE, ALLOC_FAILED (the call's stack id, 0: none; flags)
    STACK_PAYLOAD    STACK_DEF (up to 9 return addresses)
    TEXT_PAYLOAD     STACK_LINE (one symbolized frame), MARK (a label),
                     STACK_TEXT (one frame as text), DOC_QUERY (a path),
                     DOC_CHUNK (72 bytes of a document)

Upstream tt-metal's later AllocationClient sends 144-byte frames
(UPSTREAM_FRAME: the same header, the seed's totals plus cb and kernel
totals, the device info 16 bytes further on, ring-buffer fields) with the
types CB_ALLOC .. DUMP_KERNELS; the server tells the two sizes apart per
connection.
    HOLDER_PAYLOAD   HOLDER_ROW (a process holding a device, the kernel's view)
    HISTORY_PAYLOAD  HISTORY_QUERY / HISTORY_ROW (a device's memory over time)

Each layout also has an offsets table (field name -> byte offset in the
frame), checked against the C compiler's offsetof() by
tests/integration/test_protocol_layout.py.
"""

import struct

MSG_SIZE = 112
DEFAULT_SOCKET = "/tmp/tt_allocation_server.sock"
SOCKET_ENV = "TT_ALLOC_SERVER_SOCKET"
TRACKING_ENV = "TT_ALLOC_TRACKING_ENABLED"
# A client copies $TTALLOC_SESSION into HELLO (ttalloc-run's process group).
SESSION_ENV = "TTALLOC_SESSION"
SESSION_LEN = 32  # NUL included
EXT_VERSION = 1
MAX_DEVICES = 64

# ---- message types (enum proto_msg_type) ----
# seed types
ALLOC = 1
FREE = 2
QUERY = 3
RESPONSE = 4
DUMP_REMAINING = 5
DEVICE_INFO_QUERY = 6
DEVICE_INFO_RESPONSE = 7
# upstream tt-metal (AllocationClient; 144-byte frames, accepted in 112 too)
CB_ALLOC = 8
CB_FREE = 9
KERNEL_LOAD = 10
KERNEL_UNLOAD = 11
DUMP_KERNELS = 12
# ttalloc extensions, version EXT_VERSION
HELLO = 128
HELLO_ACK = 129
SYNC = 130
SYNC_ACK = 131
DEVICE_STATUS_QUERY = 132
DEVICE_STATUS = 133
PROCESS_QUERY = 134
PROCESS_ROW = 135
LEAK_QUERY = 136
LEAK_ROW = 137
ROWS_END = 138
ERROR = 139
STACK_DEF = 140
RING_ATTACH = 141  # C clients only: hands over the shared-memory ring (src/common/ring.h)
RING_ACK = 142
GOODBYE = 143  # the client closes on purpose: its live buffers are leaks at its last close
ALLOC_FAILED = 144  # an allocation failed in the client's allocator: the server keeps a post-mortem
MARK = 145          # a named point in the server's timeline (label in the text payload)
STACK_TEXT = 146    # one frame of a call stack as text ("function (file:line)")
DOC_QUERY = 147     # one of the HTTP API's documents by path, answered in DOC_CHUNKs
DOC_CHUNK = 148
HOLDER_QUERY = 150
HOLDER_ROW = 151
HISTORY_QUERY = 152
HISTORY_ROW = 153
BUFFER_QUERY = 154  # one process's live buffers (tt_smi top's buffer view)
BUFFER_ROW = 155
CLEAR_LEAKS = 156  # drop the exited processes a --retain-leaks server keeps in its totals
CLEARED = 157      # its answer: size = buffers, buffer_id = processes
IDENTITY_QUERY = 158  # the host's name, device identities, processes' containers
IDENTITY_ROW = 159
STACK_LINE = 160
LEAK_WITH_STACKS = 1  # LEAK_QUERY buffer_type flag
BUFFER_WITH_STACKS = 1  # BUFFER_QUERY buffer_type flag: each row followed by its top frame
BUFFER_DEFAULT_ROWS = 1000  # BUFFER_QUERY rows when its size is 0
BUFFER_MAX_ROWS = 10000  # the most rows a BUFFER_QUERY gets
STACK_MAX_DEPTH = 32
STACK_IPS_PER_FRAME = 9

TYPE_NAMES = {
    ALLOC: "ALLOC", FREE: "FREE", QUERY: "QUERY", RESPONSE: "RESPONSE",
    DUMP_REMAINING: "DUMP_REMAINING", DEVICE_INFO_QUERY: "DEVICE_INFO_QUERY",
    DEVICE_INFO_RESPONSE: "DEVICE_INFO_RESPONSE", CB_ALLOC: "CB_ALLOC",
    CB_FREE: "CB_FREE", KERNEL_LOAD: "KERNEL_LOAD", KERNEL_UNLOAD: "KERNEL_UNLOAD",
    DUMP_KERNELS: "DUMP_KERNELS", HELLO: "HELLO",
    HELLO_ACK: "HELLO_ACK", SYNC: "SYNC", SYNC_ACK: "SYNC_ACK",
    DEVICE_STATUS_QUERY: "DEVICE_STATUS_QUERY", DEVICE_STATUS: "DEVICE_STATUS",
    PROCESS_QUERY: "PROCESS_QUERY", PROCESS_ROW: "PROCESS_ROW",
    LEAK_QUERY: "LEAK_QUERY", LEAK_ROW: "LEAK_ROW", ROWS_END: "ROWS_END",
    ERROR: "ERROR", STACK_DEF: "STACK_DEF", STACK_LINE: "STACK_LINE",
    RING_ATTACH: "RING_ATTACH", RING_ACK: "RING_ACK", GOODBYE: "GOODBYE",
    HOLDER_QUERY: "HOLDER_QUERY", HOLDER_ROW: "HOLDER_ROW",
    HISTORY_QUERY: "HISTORY_QUERY", HISTORY_ROW: "HISTORY_ROW",
    BUFFER_QUERY: "BUFFER_QUERY", BUFFER_ROW: "BUFFER_ROW",
    CLEAR_LEAKS: "CLEAR_LEAKS", CLEARED: "CLEARED",
    ALLOC_FAILED: "ALLOC_FAILED", MARK: "MARK", STACK_TEXT: "STACK_TEXT",
    DOC_QUERY: "DOC_QUERY", DOC_CHUNK: "DOC_CHUNK",
    IDENTITY_QUERY: "IDENTITY_QUERY", IDENTITY_ROW: "IDENTITY_ROW",
}
ALLOC_RESYNC = 1 << 0  # ALLOC payload flag: re-sent by a resync, not a new buffer
TEXT_MAX = 71          # longest MARK label, STACK_TEXT frame and DOC_QUERY path (bytes)
MAX_REQUEST = 1 << 50  # largest size an ALLOC_FAILED may name

# ---- buffer types (enum ttalloc_buffer_type = tt-metal's BufferType) ----
DRAM = 0
L1 = 1
SYSTEM_MEMORY = 2  # host memory: counted, not in the device totals
L1_SMALL = 3
TRACE = 4
CB = 5  # circular buffers, where a separate count is wanted
KERNEL = 6  # kernel binaries in L1 (KERNEL_LOAD / KERNEL_UNLOAD)
BUFFER_TYPES = 7
BUFFER_TYPE_NAMES = {DRAM: "DRAM", L1: "L1", SYSTEM_MEMORY: "SYSTEM_MEMORY",
                     L1_SMALL: "L1_SMALL", TRACE: "TRACE", CB: "CB", KERNEL: "KERNEL"}

# ---- architectures (enum proto_arch) ----
ARCH_INVALID = 0
ARCH_GRAYSKULL = 1
ARCH_WORMHOLE_B0 = 2
ARCH_BLACKHOLE = 3
ARCH_QUASAR = 4
ARCH_NAMES = {ARCH_INVALID: "Unknown", ARCH_GRAYSKULL: "Grayskull",
              ARCH_WORMHOLE_B0: "Wormhole_B0", ARCH_BLACKHOLE: "Blackhole",
              ARCH_QUASAR: "Quasar"}

# DEVICE_STATUS valid bits (enum proto_status_valid)
STATUS_TEMPERATURE = 1 << 0
STATUS_POWER = 1 << 1
STATUS_UTILIZATION = 1 << 2

# PROCESS_ROW / LEAK_ROW flags (enum proto_process_flags)
PROCESS_EXITED = 1 << 0
PROCESS_SHM = 1 << 1    # process row from tt-metal's /dev/shm statistics (no buffer list)
PROCESS_STALE = 1 << 2  # shm row of a process that is gone
UID_UNKNOWN = 0xFFFFFFFF  # a process row's uid when the process is gone

# HELLO_ACK features (enum proto_feature)
FEATURE_HOLDERS = 1 << 0
FEATURE_HISTORY = 1 << 1
FEATURE_RING = 1 << 2
FEATURE_SESSIONS = 1 << 3  # HELLO's instance and epoch, and GOODBYE
FEATURE_BUFFERS = 1 << 4  # BUFFER_QUERY
FEATURE_DIAG = 1 << 5     # ALLOC_FAILED, MARK, STACK_TEXT and DOC_QUERY
FEATURE_IDENTITY = 1 << 6  # IDENTITY_QUERY

# IDENTITY_ROW fields (enum proto_identity_field, the row's buffer_type); a
# value longer than IDENTITY_PIECE bytes comes in pieces, offset in `size`
IDENTITY_FIELDS = ("hostname", "serial", "asic_id", "pci_bus_id", "card_type", "uuid",
                   "container_id", "container_runtime", "pod", "namespace", "container", "driver_version")
IDENTITY_PIECE = 71

# HOLDER_ROW states (enum proto_holder_state) and flags (enum proto_holder_flags)
HOLDER_TRACKED = 0
HOLDER_UNTRACKED = 1
HOLDER_VANISHED = 2
HOLDER_STATE_NAMES = {HOLDER_TRACKED: "tracked", HOLDER_UNTRACKED: "untracked",
                      HOLDER_VANISHED: "vanished"}
HOLDER_DRIVER = 1 << 0
HOLDER_FD = 1 << 1
HOLDER_MEMORY = 1 << 2
HOLDER_UID = 1 << 3

# HISTORY_QUERY limits and HISTORY_ROW flags (enum proto_history_flags)
HISTORY_MAX_POINTS = 600
HISTORY_DEFAULT_POINTS = 60
HISTORY_VALID = 1 << 0

# ERROR reasons (enum proto_error_reason, the order of PROTO_ERROR_MAP)
ERROR_REASONS = ("truncated", "unknown_type", "unexpected_type", "bad_device",
                 "bad_buffer_type", "bad_size", "pid_mismatch", "foreign_free",
                 "unknown_free", "duplicate_alloc", "output_overflow", "limit",
                 "bad_stack", "foreign_query", "bad_ring", "bad_text")

# ---- layouts ----

# The seed's frame, exactly as its query_stats.py spells it. Fields 13..16
# are dram/l1/l1_small/trace allocated.
FRAME = struct.Struct("=BBBB i Q BBBB i Q Q QQQQ QQIIIIII")
HEADER = struct.Struct("<B3xiQB3xiQQ")
PAYLOAD_OFFSET = 40
PAYLOAD_SIZE = MSG_SIZE - PAYLOAD_OFFSET

HEADER_FIELDS = ("type", "device_id", "size", "buffer_type", "process_id",
                 "buffer_id", "timestamp")
HEADER_OFFSETS = {"type": 0, "device_id": 4, "size": 8, "buffer_type": 16,
                  "process_id": 20, "buffer_id": 24, "timestamp": 32}

SEED_PAYLOAD = struct.Struct("<QQQQ QQ IIIIII")
SEED_FIELDS = ("dram_allocated", "l1_allocated", "l1_small_allocated",
               "trace_allocated", "total_dram_size", "total_l1_size",
               "arch_type", "num_dram_channels", "dram_size_per_channel",
               "l1_size_per_core", "is_available", "num_devices")

STATUS_PAYLOAD = struct.Struct("<iIII Q II QQ 24s")
STATUS_FIELDS = ("temperature_mc", "power_mw", "utilization", "valid",
                 "live_buffers", "processes", "backend_flags", "cb_allocated",
                 "system_memory", "name")

PROCESS_PAYLOAD = struct.Struct("<4Q QQ II 16s")
PROCESS_FIELDS = ("used", "system_memory", "cb", "uid", "flags", "comm")

ERROR_PAYLOAD = struct.Struct("<iI64s")
ERROR_FIELDS = ("code", "reason", "message")

HELLO_PAYLOAD = struct.Struct("<IIII32sQIBBHI4s")
HELLO_FIELDS = ("version", "features", "num_devices", "server_pid", "session", "instance", "epoch",
                "log_level", "http_state", "http_port", "server_release", "reserved")
HTTP_OFF, HTTP_UP, HTTP_WAITING = 0, 1, 2  # HELLO_ACK's http_state

FILTER_PAYLOAD = struct.Struct("<32s40s")
FILTER_FIELDS = ("session", "reserved")

ALLOC_PAYLOAD = struct.Struct("<QI60s")
ALLOC_FIELDS = ("stack_id", "flags", "reserved")

STACK_PAYLOAD = struct.Struct("<9Q")
STACK_FIELDS = ("ips",)

TEXT_PAYLOAD = struct.Struct("<72s")
TEXT_FIELDS = ("text",)

HOLDER_PAYLOAD = struct.Struct("<Q III 16s 36s")
HOLDER_FIELDS = ("memory", "state", "flags", "uid", "comm", "reserved")

HISTORY_PAYLOAD = struct.Struct("<4Q Q IIIIII 8s")
HISTORY_FIELDS = ("used", "time_ms", "seconds", "points", "index", "step_ms", "interval_ms",
                  "flags", "reserved")

# RING_ATTACH / RING_ACK: the shared-memory ring's geometry (C clients only;
# described here so the layout check covers it).
RING_PAYLOAD = struct.Struct("<IIIIII Q 40s")
RING_FIELDS = ("version", "lanes", "lane_events", "shards", "event_size", "reserved0",
               "region_size", "reserved")


def _offsets(fmt_fields, base=PAYLOAD_OFFSET):
    """Frame offsets of consecutive packed fields given as (name, size)."""
    table, off = {}, base
    for name, size in fmt_fields:
        table[name] = off
        off += size
    return table


SEED_OFFSETS = _offsets([(n, 8) for n in SEED_FIELDS[:6]] + [(n, 4) for n in SEED_FIELDS[6:]])
STATUS_OFFSETS = _offsets([("temperature_mc", 4), ("power_mw", 4), ("utilization", 4),
                           ("valid", 4), ("live_buffers", 8), ("processes", 4),
                           ("backend_flags", 4), ("cb_allocated", 8),
                           ("system_memory", 8), ("name", 24)])
PROCESS_OFFSETS = _offsets([("used", 32), ("system_memory", 8), ("cb", 8), ("uid", 4),
                            ("flags", 4), ("comm", 16)])
ERROR_OFFSETS = _offsets([("code", 4), ("reason", 4), ("message", 64)])
HELLO_OFFSETS = _offsets([("version", 4), ("features", 4), ("num_devices", 4),
                          ("server_pid", 4), ("session", SESSION_LEN), ("instance", 8), ("epoch", 4),
                          ("log_level", 1), ("http_state", 1), ("http_port", 2), ("server_release", 4),
                          ("reserved", 4)])
FILTER_OFFSETS = _offsets([("session", SESSION_LEN), ("reserved", 40)])
ALLOC_OFFSETS = _offsets([("stack_id", 8), ("flags", 4), ("reserved", 60)])
STACK_OFFSETS = _offsets([("ips", 72)])
TEXT_OFFSETS = _offsets([("text", 72)])
HOLDER_OFFSETS = _offsets([("memory", 8), ("state", 4), ("flags", 4), ("uid", 4), ("comm", 16),
                           ("reserved", 36)])
HISTORY_OFFSETS = _offsets([("used", 32), ("time_ms", 8), ("seconds", 4), ("points", 4),
                            ("index", 4), ("step_ms", 4), ("interval_ms", 4), ("flags", 4),
                            ("reserved", 8)])
RING_OFFSETS = _offsets([(n, 4) for n in RING_FIELDS[:6]] + [("region_size", 8), ("reserved", 40)])

# Upstream tt-metal's 144-byte AllocMessage (struct proto_upstream_msg).
UPSTREAM_MSG_SIZE = 144
MAX_FRAME_SIZE = UPSTREAM_MSG_SIZE
UPSTREAM_FRAME = struct.Struct("<B3xiQB3xiQQ 6Q QQ 6I 4I")
UPSTREAM_FIELDS = ("type", "device_id", "size", "buffer_type", "process_id", "buffer_id",
                   "timestamp", "dram_allocated", "l1_allocated", "l1_small_allocated",
                   "trace_allocated", "cb_allocated", "kernel_allocated", "total_dram_size",
                   "total_l1_size", "arch_type", "num_dram_channels", "dram_size_per_channel",
                   "l1_size_per_core", "is_available", "num_devices", "ringbuffer_total_size",
                   "ringbuffer_used_bytes", "ringbuffer_num_programs", "pad3")
UPSTREAM_OFFSETS = dict(HEADER_OFFSETS, **_offsets(
    [(n, 8) for n in UPSTREAM_FIELDS[7:15]] + [(n, 4) for n in UPSTREAM_FIELDS[15:]]))

# Sizes of the payload structs, each filling the 72-byte payload.
for _s in (SEED_PAYLOAD, STATUS_PAYLOAD, PROCESS_PAYLOAD, ERROR_PAYLOAD, HELLO_PAYLOAD,
           FILTER_PAYLOAD, ALLOC_PAYLOAD, STACK_PAYLOAD, TEXT_PAYLOAD, HOLDER_PAYLOAD,
           HISTORY_PAYLOAD, RING_PAYLOAD):
    assert _s.size == PAYLOAD_SIZE, _s.format
assert FRAME.size == MSG_SIZE and HEADER.size == PAYLOAD_OFFSET
assert UPSTREAM_FRAME.size == UPSTREAM_MSG_SIZE
del _s


# ---- packing ----

def pack(msg_type, device_id=0, size=0, buffer_type=0, process_id=0,
         buffer_id=0, timestamp=0, payload=b""):
    """One 112-byte frame: the header fields and up to 72 payload bytes."""
    if len(payload) > PAYLOAD_SIZE:
        raise ValueError("payload of %d bytes; at most %d" % (len(payload), PAYLOAD_SIZE))
    head = HEADER.pack(msg_type, device_id, size, buffer_type, process_id,
                       buffer_id, timestamp)
    return head + bytes(payload) + bytes(PAYLOAD_SIZE - len(payload))


def unpack_header(frame):
    """The header of a frame as a dict (keys HEADER_FIELDS) plus 'payload'."""
    if len(frame) != MSG_SIZE:
        raise ValueError("frame of %d bytes; a message is %d" % (len(frame), MSG_SIZE))
    msg = dict(zip(HEADER_FIELDS, HEADER.unpack_from(frame, 0)))
    msg["payload"] = bytes(frame[PAYLOAD_OFFSET:])
    return msg


def _cstr(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def pack_seed(**fields):
    """Payload bytes of RESPONSE / DEVICE_INFO_RESPONSE (missing fields 0)."""
    return SEED_PAYLOAD.pack(*(fields.get(n, 0) for n in SEED_FIELDS))


def unpack_seed(payload):
    return dict(zip(SEED_FIELDS, SEED_PAYLOAD.unpack(payload)))


def pack_status(**fields):
    values = [fields.get(n, 0) for n in STATUS_FIELDS[:-1]]
    return STATUS_PAYLOAD.pack(*values, fields.get("name", "").encode()[:23])


def unpack_status(payload):
    d = dict(zip(STATUS_FIELDS, STATUS_PAYLOAD.unpack(payload)))
    d["name"] = _cstr(d["name"])
    return d


def pack_process(used=(0, 0, 0, 0), system_memory=0, cb=0, uid=0, flags=0, comm=""):
    return PROCESS_PAYLOAD.pack(*used, system_memory, cb, uid, flags, comm.encode()[:15])


def unpack_process(payload):
    v = PROCESS_PAYLOAD.unpack(payload)
    return {"used": list(v[0:4]), "system_memory": v[4], "cb": v[5], "uid": v[6],
            "flags": v[7], "comm": _cstr(v[8])}


def pack_error(code=0, reason=0, message=""):
    return ERROR_PAYLOAD.pack(code, reason, message.encode()[:63])


def unpack_error(payload):
    d = dict(zip(ERROR_FIELDS, ERROR_PAYLOAD.unpack(payload)))
    d["message"] = _cstr(d["message"])
    return d


def _session_bytes(session):
    return (session or "").encode("utf-8")[:SESSION_LEN - 1]


# HELLO's log_level (enum proto_log_level), from a client's $TT_METAL_LOGGER_LEVEL
LOG_LEVELS = {"error": 1, "fatal": 1, "warn": 2, "warning": 2, "info": 3, "debug": 4, "trace": 4}


def log_level_code(text):
    """HELLO's log_level for a TT_METAL_LOGGER_LEVEL value (any case); 0 when unset or unknown."""
    return LOG_LEVELS.get((text or "").lower(), 0)


def pack_hello(version=EXT_VERSION, features=0, num_devices=0, server_pid=0, session="", instance=0,
               epoch=0, log_level=0):
    return HELLO_PAYLOAD.pack(version, features, num_devices, server_pid,
                              _session_bytes(session), instance, epoch, log_level, 0, 0, 0, b"")


def release_text(release):
    """HELLO_ACK's server_release as "MAJOR.MINOR.PATCH" (protocol.h's PROTO_RELEASE); None for 0."""
    if not release:
        return None
    return "%d.%d.%d" % (release >> 16, (release >> 8) & 0xff, release & 0xff)


def unpack_hello(payload):
    d = dict(zip(HELLO_FIELDS, HELLO_PAYLOAD.unpack(payload)))
    del d["reserved"]
    d["session"] = _cstr(d["session"])
    return d


def pack_filter(session=""):
    """Payload of PROCESS_QUERY / LEAK_QUERY: only processes of `session`
    (empty: every process)."""
    return FILTER_PAYLOAD.pack(_session_bytes(session), b"")


def unpack_filter(payload):
    return {"session": _cstr(FILTER_PAYLOAD.unpack(payload)[0])}


def unpack_holder(payload):
    """HOLDER_ROW payload: memory (None unless HOLDER_MEMORY), uid (None
    unless HOLDER_UID), state, flags, comm."""
    d = dict(zip(HOLDER_FIELDS, HOLDER_PAYLOAD.unpack(payload)))
    del d["reserved"]
    d["comm"] = _cstr(d["comm"])
    if not d["flags"] & HOLDER_MEMORY:
        d["memory"] = None
    if not d["flags"] & HOLDER_UID:
        d["uid"] = None
    return d


def pack_history(seconds=0, points=0):
    """Payload of HISTORY_QUERY: the last `seconds` (0: all kept) in at most
    `points` buckets per device (0: HISTORY_DEFAULT_POINTS)."""
    return HISTORY_PAYLOAD.pack(0, 0, 0, 0, 0, seconds, points, 0, 0, 0, 0, b"")


def unpack_history(payload):
    v = HISTORY_PAYLOAD.unpack(payload)
    return {"used": list(v[0:4]), "time_ms": v[4], "seconds": v[5], "points": v[6],
            "index": v[7], "step_ms": v[8], "interval_ms": v[9], "flags": v[10]}


def pack_alloc(stack_id=0, flags=0):
    """Payload of ALLOC, FREE and ALLOC_FAILED: the call's stack id and flags (ALLOC_RESYNC)."""
    return ALLOC_PAYLOAD.pack(stack_id, flags, b"")


def text_valid(text):
    """True when `text` can be a MARK label, STACK_TEXT frame or DOC_QUERY path:
    1..TEXT_MAX bytes of UTF-8 without control characters (the server's
    proto_text_valid)."""
    if not isinstance(text, str):
        return False
    raw = text.encode("utf-8", "surrogatepass")
    return 0 < len(raw) <= TEXT_MAX and all(b >= 0x20 and b != 0x7F for b in raw)


def pack_text(text):
    """Payload of a text frame; raises ValueError unless text_valid(text)."""
    if not text_valid(text):
        raise ValueError("text must be 1..%d bytes of UTF-8 without control characters" % TEXT_MAX)
    return TEXT_PAYLOAD.pack(text.encode("utf-8"))


def type_name(msg_type):
    return TYPE_NAMES.get(msg_type, "TYPE%d" % msg_type)


def buffer_type_name(buffer_type):
    return BUFFER_TYPE_NAMES.get(buffer_type, "TYPE?")


def pack_upstream(msg_type, device_id=0, size=0, buffer_type=0, process_id=0,
                  buffer_id=0, timestamp=0, **fields):
    """One 144-byte frame as upstream tt-metal's AllocationClient writes it:
    the header fields, every other field 0 unless given by name."""
    values = dict(type=msg_type, device_id=device_id, size=size, buffer_type=buffer_type,
                  process_id=process_id, buffer_id=buffer_id, timestamp=timestamp)
    unknown = set(fields) - set(UPSTREAM_FIELDS)
    if unknown:
        raise ValueError("no such upstream field: %s" % ", ".join(sorted(unknown)))
    values.update(fields)
    return UPSTREAM_FRAME.pack(*(values.get(n, 0) for n in UPSTREAM_FIELDS))


def unpack_upstream(frame):
    """A 144-byte frame as a dict (keys UPSTREAM_FIELDS)."""
    if len(frame) != UPSTREAM_MSG_SIZE:
        raise ValueError("frame of %d bytes; an upstream message is %d"
                         % (len(frame), UPSTREAM_MSG_SIZE))
    return dict(zip(UPSTREAM_FIELDS, UPSTREAM_FRAME.unpack(frame)))
