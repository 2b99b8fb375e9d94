"""The Python wire format (python/ttalloc/protocol.py) equals the C one
(src/common/protocol.h), as the C compiler lays it out."""

import re
import struct
import subprocess

import pytest

from conftest import REPO, compile_c
from ttalloc import protocol


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    exe = tmp_path_factory.mktemp("layout") / "layout_offsets"
    compile_c([REPO / "tests/integration/layout_offsets.c"], exe,
              ["-I", str(REPO / "include"), "-I", str(REPO / "src")])
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10, check=True).stdout
    layout = {}
    for line in out.splitlines():
        group, name, offset, size = line.split()
        layout[(group, name)] = (int(offset), int(size))
    return layout


def test_frame_is_112_bytes_in_c_and_python(c_layout):
    assert c_layout[("frame", "size")][0] == 112
    assert protocol.FRAME.size == protocol.MSG_SIZE == 112
    assert protocol.HEADER.size + protocol.PAYLOAD_SIZE == 112


def test_seed_struct_string_is_the_seeds():
    assert protocol.FRAME.format == "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII"


@pytest.mark.parametrize("group,offsets", [
    ("header", protocol.HEADER_OFFSETS),
    ("seed", protocol.SEED_OFFSETS),
    ("status", protocol.STATUS_OFFSETS),
    ("process", protocol.PROCESS_OFFSETS),
    ("error", protocol.ERROR_OFFSETS),
    ("hello", protocol.HELLO_OFFSETS),
    ("filter", protocol.FILTER_OFFSETS),
    ("alloc", protocol.ALLOC_OFFSETS),
    ("stack", protocol.STACK_OFFSETS),
    ("text", protocol.TEXT_OFFSETS),
    ("holder", protocol.HOLDER_OFFSETS),
    ("history", protocol.HISTORY_OFFSETS),
    ("ring", protocol.RING_OFFSETS),
    ("upstream", protocol.UPSTREAM_OFFSETS),
])
def test_python_field_offsets_equal_c_offsetof(c_layout, group, offsets):
    c_fields = {name: off for (g, name), (off, _) in c_layout.items() if g == group}
    assert c_fields == offsets


def test_every_payload_of_the_c_union_has_a_python_layout(c_layout):
    # The members of proto_msg's union, read from protocol.h, so a payload
    # added there without a Python twin (and a line in layout_offsets.c) fails.
    header = (REPO / "src/common/protocol.h").read_text()
    union = re.search(r"struct __attribute__\(\(packed\)\) proto_msg \{.*?union[^{]*\{(.*?)\} u;",
                      header, re.S).group(1)
    members = set(re.findall(r"struct proto_\w+_payload (\w+);", union))
    groups = {g for (g, _) in c_layout} - {"frame", "const", "header", "upstream"}
    assert members == groups
    for group in groups:
        assert hasattr(protocol, group.upper() + "_OFFSETS"), group


@pytest.mark.parametrize("group,fields,unpack", [
    ("seed", protocol.SEED_FIELDS, protocol.unpack_seed),
    ("status", protocol.STATUS_FIELDS, protocol.unpack_status),
    ("error", protocol.ERROR_FIELDS, protocol.unpack_error),
])
def test_python_payload_structs_decode_each_field_at_its_c_offset(c_layout, group, fields, unpack):
    # Write a distinct marker into each C field's bytes and decode with Python.
    for name in fields:
        off, size = c_layout[(group, name)]
        frame = bytearray(112)
        frame[off:off + size] = bytes(range(1, size + 1)) if name in ("name", "message") \
            else (0x41).to_bytes(size, "little")
        decoded = unpack(bytes(frame[40:]))
        for other in fields:
            value = decoded[other]
            if other == name:
                assert value not in (0, ""), (group, name)
            else:
                assert value in (0, ""), (group, name, other, value)


def test_process_payload_fields_at_c_offsets(c_layout):
    frame = bytearray(112)
    off, _ = c_layout[("process", "used")]
    struct.pack_into("<4Q", frame, off, 1, 2, 3, 4)
    struct.pack_into("<Q", frame, c_layout[("process", "system_memory")][0], 5)
    struct.pack_into("<Q", frame, c_layout[("process", "cb")][0], 6)
    struct.pack_into("<I", frame, c_layout[("process", "uid")][0], 7)
    struct.pack_into("<I", frame, c_layout[("process", "flags")][0], 8)
    off, size = c_layout[("process", "comm")]
    frame[off:off + 7] = b"python3"
    assert size == 16
    p = protocol.unpack_process(bytes(frame[40:]))
    assert p == {"used": [1, 2, 3, 4], "system_memory": 5, "cb": 6, "uid": 7, "flags": 8,
                 "comm": "python3"}


def test_holder_payload_fields_at_c_offsets(c_layout):
    frame = bytearray(112)
    struct.pack_into("<Q", frame, c_layout[("holder", "memory")][0], 5 << 30)
    struct.pack_into("<I", frame, c_layout[("holder", "state")][0], protocol.HOLDER_UNTRACKED)
    struct.pack_into("<I", frame, c_layout[("holder", "flags")][0],
                     protocol.HOLDER_DRIVER | protocol.HOLDER_MEMORY | protocol.HOLDER_UID)
    struct.pack_into("<I", frame, c_layout[("holder", "uid")][0], 1000)
    off, size = c_layout[("holder", "comm")]
    assert size == 16
    frame[off:off + 6] = b"burner"
    h = protocol.unpack_holder(bytes(frame[40:]))
    assert h == {"memory": 5 << 30, "state": protocol.HOLDER_UNTRACKED, "uid": 1000, "comm": "burner",
                 "flags": protocol.HOLDER_DRIVER | protocol.HOLDER_MEMORY | protocol.HOLDER_UID}
    # without their flags, memory and uid are unknown
    struct.pack_into("<I", frame, c_layout[("holder", "flags")][0], protocol.HOLDER_FD)
    h = protocol.unpack_holder(bytes(frame[40:]))
    assert h["memory"] is None and h["uid"] is None


def test_history_payload_fields_at_c_offsets(c_layout):
    query = bytes(40) + protocol.pack_history(seconds=300, points=40)
    assert struct.unpack_from("<I", query, c_layout[("history", "seconds")][0])[0] == 300
    assert struct.unpack_from("<I", query, c_layout[("history", "points")][0])[0] == 40
    frame = bytearray(112)
    struct.pack_into("<4Q", frame, c_layout[("history", "used")][0], 1, 2, 3, 4)
    for i, name in enumerate(("seconds", "points", "index", "step_ms", "interval_ms", "flags")):
        struct.pack_into("<I", frame, c_layout[("history", name)][0], 10 + i)
    struct.pack_into("<Q", frame, c_layout[("history", "time_ms")][0], 1762179825000)
    h = protocol.unpack_history(bytes(frame[40:]))
    assert h == {"used": [1, 2, 3, 4], "time_ms": 1762179825000, "seconds": 10, "points": 11,
                 "index": 12, "step_ms": 13, "interval_ms": 14, "flags": 15}


def test_seed_fields_13_to_16_are_the_four_totals(c_layout):
    frame = protocol.pack(protocol.RESPONSE, 0, payload=protocol.pack_seed(
        dram_allocated=11, l1_allocated=22, l1_small_allocated=33, trace_allocated=44))
    fields = protocol.FRAME.unpack(frame)
    assert fields[13:17] == (11, 22, 33, 44)
    assert c_layout[("seed", "dram_allocated")][0] == 40


@pytest.mark.parametrize("c_name,py_value", [
    ("PROTO_ALLOC", protocol.ALLOC), ("PROTO_FREE", protocol.FREE),
    ("PROTO_QUERY", protocol.QUERY), ("PROTO_RESPONSE", protocol.RESPONSE),
    ("PROTO_DUMP_REMAINING", protocol.DUMP_REMAINING),
    ("PROTO_DEVICE_INFO_QUERY", protocol.DEVICE_INFO_QUERY),
    ("PROTO_DEVICE_INFO_RESPONSE", protocol.DEVICE_INFO_RESPONSE),
    ("PROTO_HELLO", protocol.HELLO), ("PROTO_HELLO_ACK", protocol.HELLO_ACK),
    ("PROTO_SYNC", protocol.SYNC), ("PROTO_SYNC_ACK", protocol.SYNC_ACK),
    ("PROTO_DEVICE_STATUS_QUERY", protocol.DEVICE_STATUS_QUERY),
    ("PROTO_DEVICE_STATUS", protocol.DEVICE_STATUS),
    ("PROTO_PROCESS_QUERY", protocol.PROCESS_QUERY), ("PROTO_PROCESS_ROW", protocol.PROCESS_ROW),
    ("PROTO_LEAK_QUERY", protocol.LEAK_QUERY), ("PROTO_LEAK_ROW", protocol.LEAK_ROW),
    ("PROTO_ROWS_END", protocol.ROWS_END), ("PROTO_ERROR", protocol.ERROR),
    ("TTALLOC_DRAM", protocol.DRAM), ("TTALLOC_L1", protocol.L1),
    ("TTALLOC_SYSTEM_MEMORY", protocol.SYSTEM_MEMORY), ("TTALLOC_L1_SMALL", protocol.L1_SMALL),
    ("TTALLOC_TRACE", protocol.TRACE), ("TTALLOC_CB", protocol.CB),
    ("TTALLOC_KERNEL", protocol.KERNEL),
    ("PROTO_CB_ALLOC", protocol.CB_ALLOC), ("PROTO_CB_FREE", protocol.CB_FREE),
    ("PROTO_KERNEL_LOAD", protocol.KERNEL_LOAD), ("PROTO_KERNEL_UNLOAD", protocol.KERNEL_UNLOAD),
    ("PROTO_DUMP_KERNELS", protocol.DUMP_KERNELS),
    ("PROTO_UPSTREAM_MSG_SIZE", protocol.UPSTREAM_MSG_SIZE),
    ("PROTO_MAX_FRAME_SIZE", protocol.MAX_FRAME_SIZE),
    ("PROTO_PROCESS_SHM", protocol.PROCESS_SHM), ("PROTO_PROCESS_STALE", protocol.PROCESS_STALE),
    ("PROTO_UID_UNKNOWN", protocol.UID_UNKNOWN),
    ("TTALLOC_BUFFER_TYPES", protocol.BUFFER_TYPES), ("PROTO_MSG_SIZE", protocol.MSG_SIZE),
    ("PROTO_EXT_VERSION", protocol.EXT_VERSION), ("PROTO_MAX_DEVICES", protocol.MAX_DEVICES),
    ("PROTO_ARCH_WORMHOLE_B0", protocol.ARCH_WORMHOLE_B0),
    ("PROTO_STATUS_TEMPERATURE", protocol.STATUS_TEMPERATURE),
    ("PROTO_STATUS_POWER", protocol.STATUS_POWER),
    ("PROTO_STATUS_UTILIZATION", protocol.STATUS_UTILIZATION),
    ("PROTO_PROCESS_EXITED", protocol.PROCESS_EXITED),
    ("PROTO_ERR_COUNT", len(protocol.ERROR_REASONS)),
    ("PROTO_ERR_BAD_DEVICE", protocol.ERROR_REASONS.index("bad_device")),
    ("PROTO_ERR_LIMIT", protocol.ERROR_REASONS.index("limit")),
    ("PROTO_SESSION_LEN", protocol.SESSION_LEN),
    ("PROTO_HOLDER_QUERY", protocol.HOLDER_QUERY), ("PROTO_HOLDER_ROW", protocol.HOLDER_ROW),
    ("PROTO_HISTORY_QUERY", protocol.HISTORY_QUERY), ("PROTO_HISTORY_ROW", protocol.HISTORY_ROW),
    ("PROTO_FEATURE_HOLDERS", protocol.FEATURE_HOLDERS),
    ("PROTO_FEATURE_HISTORY", protocol.FEATURE_HISTORY),
    ("PROTO_FEATURE_RING", protocol.FEATURE_RING),
    ("PROTO_RING_ATTACH", protocol.RING_ATTACH), ("PROTO_RING_ACK", protocol.RING_ACK),
    ("PROTO_ERR_BAD_RING", protocol.ERROR_REASONS.index("bad_ring")),
    ("PROTO_HOLDER_TRACKED", protocol.HOLDER_TRACKED),
    ("PROTO_HOLDER_UNTRACKED", protocol.HOLDER_UNTRACKED),
    ("PROTO_HOLDER_VANISHED", protocol.HOLDER_VANISHED),
    ("PROTO_HOLDER_DRIVER", protocol.HOLDER_DRIVER), ("PROTO_HOLDER_FD", protocol.HOLDER_FD),
    ("PROTO_HOLDER_MEMORY", protocol.HOLDER_MEMORY), ("PROTO_HOLDER_UID", protocol.HOLDER_UID),
    ("PROTO_HISTORY_MAX_POINTS", protocol.HISTORY_MAX_POINTS),
    ("PROTO_HISTORY_DEFAULT_POINTS", protocol.HISTORY_DEFAULT_POINTS),
    ("PROTO_HISTORY_VALID", protocol.HISTORY_VALID),
    ("PROTO_BUFFER_QUERY", protocol.BUFFER_QUERY), ("PROTO_BUFFER_ROW", protocol.BUFFER_ROW),
    ("PROTO_FEATURE_BUFFERS", protocol.FEATURE_BUFFERS),
    ("PROTO_BUFFER_WITH_STACKS", protocol.BUFFER_WITH_STACKS),
    ("PROTO_BUFFER_DEFAULT_ROWS", protocol.BUFFER_DEFAULT_ROWS),
    ("PROTO_BUFFER_MAX_ROWS", protocol.BUFFER_MAX_ROWS),
    ("PROTO_ALLOC_FAILED", protocol.ALLOC_FAILED), ("PROTO_MARK", protocol.MARK),
    ("PROTO_STACK_TEXT", protocol.STACK_TEXT), ("PROTO_DOC_QUERY", protocol.DOC_QUERY),
    ("PROTO_DOC_CHUNK", protocol.DOC_CHUNK), ("PROTO_ALLOC_RESYNC", protocol.ALLOC_RESYNC),
    ("PROTO_TEXT_MAX", protocol.TEXT_MAX), ("PROTO_FEATURE_DIAG", protocol.FEATURE_DIAG),
    ("PROTO_ERR_BAD_TEXT", protocol.ERROR_REASONS.index("bad_text")),
    ("PROTO_MAX_REQUEST", protocol.MAX_REQUEST),
    ("PROTO_IDENTITY_QUERY", protocol.IDENTITY_QUERY), ("PROTO_IDENTITY_ROW", protocol.IDENTITY_ROW),
    ("PROTO_FEATURE_IDENTITY", protocol.FEATURE_IDENTITY),
    ("PROTO_IDENTITY_FIELDS", len(protocol.IDENTITY_FIELDS)),
    ("PROTO_IDENTITY_POD", protocol.IDENTITY_FIELDS.index("pod")),
    ("PROTO_IDENTITY_PIECE", protocol.IDENTITY_PIECE),
])
def test_python_constants_equal_c_enums(c_layout, c_name, py_value):
    assert c_layout[("const", c_name)][0] == py_value


def test_upstream_144_byte_frame_equals_the_c_struct(c_layout):
    # tt-metal's later AllocMessage: 144 bytes, the seed's header, cb and
    # kernel totals after the seed's four, device info 16 bytes later.
    assert protocol.UPSTREAM_FRAME.size == protocol.UPSTREAM_MSG_SIZE == 144
    sizes = {name: size for (g, name), (_, size) in c_layout.items() if g == "upstream"}
    assert sum(sizes.values()) == 144 - 6  # all but pad1[3] and pad2[3]
    frame = protocol.pack_upstream(protocol.RESPONSE, 1, dram_allocated=11, cb_allocated=22,
                                   kernel_allocated=33, total_l1_size=44, num_devices=2,
                                   ringbuffer_num_programs=5)
    for name, want in (("dram_allocated", 11), ("cb_allocated", 22), ("kernel_allocated", 33),
                       ("total_l1_size", 44), ("num_devices", 2), ("ringbuffer_num_programs", 5)):
        off, size = c_layout[("upstream", name)]
        assert int.from_bytes(frame[off:off + size], "little") == want, name
    assert protocol.unpack_upstream(frame)["kernel_allocated"] == 33
