#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz_frames.c's into
tests/fuzz/corpus/, fuzz_ring.c's into tests/fuzz/corpus_ring/, fuzz_http.c's
into tests/fuzz/corpus_http/.

A frames seed is: chunk, reader and split bytes (see fuzz_frames.c), then
112-byte frames in the seed's layout "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII", or
144-byte frames in upstream tt-metal's later layout (UP144; the server tells
them apart per connection, docs/TTMETAL.md).
A ring seed is: the attach byte, the reader byte, then operations (opcode and
arguments, see fuzz_ring.c).
Run it again after changing either; the output is deterministic.
"""
import os
import struct

FRAME = struct.Struct("=BBBB i Q BBBB i Q Q QQQQ QQIIIIII")
assert FRAME.size == 112
UP144 = struct.Struct("<B3xiQB3xiQQ 6Q 2Q 6I 4I")
assert UP144.size == 144

ALLOC, FREE, QUERY, DUMP, DEVINFO = 1, 2, 3, 5, 6
HELLO, SYNC, STATUS, PROCESS_QUERY, LEAK_QUERY = 128, 130, 132, 134, 136
DRAM, L1, SYSTEM, L1_SMALL, TRACE, CB = 0, 1, 2, 3, 4, 5
CB_ALLOC, CB_FREE, KERNEL_LOAD, KERNEL_UNLOAD, DUMP_KERNELS = 8, 9, 10, 11, 12
BUFFER_QUERY, BUFFER_WITH_STACKS = 154, 1
STACK_DEF, ALLOC_FAILED, MARK, STACK_TEXT, DOC_QUERY = 140, 144, 145, 146, 147
ALLOC_RESYNC = 1


def frame(type_, device=0, size=0, buffer_type=0, pid=0, address=0, timestamp=0, version=0):
    payload = [0] * 12
    if type_ == HELLO:
        payload[6] = version  # first u32 of the payload: hello.version
    return FRAME.pack(type_, 0, 0, 0, device, size, buffer_type, 0, 0, 0, pid, address, timestamp,
                      *payload)


def with_payload(raw, payload):
    """A frame with its 72 payload bytes replaced (text, stack id and flags)."""
    return raw[:40] + payload.ljust(72, b"\0")[:72]


def text(type_, body, device=-1, size=0, index=0):
    """MARK, STACK_TEXT or DOC_QUERY with `body` (bytes) as its text payload."""
    return with_payload(frame(type_, device, size, index), body)


def with_stack(raw, stack_id, flags=0):
    """ALLOC, FREE or ALLOC_FAILED naming a call stack (and ALLOC's flags)."""
    return with_payload(raw, struct.pack("<QI", stack_id, flags))


def up144(type_, device=0, size=0, buffer_type=0, pid=0, address=0, timestamp=0):
    return UP144.pack(type_, device, size, buffer_type, pid, address, timestamp, *([0] * 18))


def case(frames, chunk=0, first_frames=255, reader=0):
    """reader: 0 reads every answer, 1 none, N >= 2 at most (N-1)*16 bytes per call."""
    return bytes([chunk, reader, first_frames]) + b"".join(frames)


CASES = {
    "alloc_query": case([frame(ALLOC, 0, 1 << 20, DRAM, address=0x10000),
                         frame(ALLOC, 1, 4096, L1, address=0x20000),
                         frame(QUERY, 0), frame(QUERY, 1)]),
    "alloc_free": case([frame(ALLOC, 0, 8192, L1_SMALL, address=0x30000),
                        frame(FREE, 0, address=0x30000),
                        frame(FREE, 0, address=0x30000)]),
    "foreign_free": case([frame(FREE, 0, address=0x1000), frame(FREE, 1, address=0x1000)]),
    "hello_sync": case([frame(HELLO, -1, version=1), frame(SYNC, -1, size=7),
                        frame(STATUS, 0), frame(STATUS, 9)]),
    "process_query": case([frame(ALLOC, 0, 1 << 20, DRAM, address=0x40000),
                           frame(ALLOC, 0, 1 << 10, CB, address=0x50000),
                           frame(ALLOC, 1, 1 << 30, SYSTEM, address=0x60000),
                           frame(PROCESS_QUERY, -1), frame(PROCESS_QUERY, 0),
                           frame(PROCESS_QUERY, 5)]),
    # first connection leaks two buffers; the second asks for the leak rows
    "leak_query": case([frame(ALLOC, 0, 4096, DRAM, address=0x70000),
                        frame(ALLOC, 1, 2048, TRACE, address=0x80000),
                        frame(LEAK_QUERY, 0), frame(DUMP, 0)], first_frames=2),
    # tt_smi top's buffer list: one process, every process, capped, a bad device
    "buffer_query": case([frame(ALLOC, 0, 4096, DRAM, address=0x70000),
                          frame(ALLOC, 1, 2048, L1, address=0x80000),
                          frame(BUFFER_QUERY, 0, pid=0, buffer_type=BUFFER_WITH_STACKS),
                          frame(BUFFER_QUERY, -1, size=1), frame(BUFFER_QUERY, 9),
                          frame(BUFFER_QUERY, -1, pid=123456789)]),
    "device_info": case([frame(DEVINFO, -1), frame(DEVINFO, 0), frame(DEVINFO, 2),
                         frame(QUERY, -5)]),
    "split_frame": case([frame(ALLOC, 0, 4096, DRAM, address=0x90000),
                         frame(QUERY, 0), frame(FREE, 0, address=0x90000)], chunk=50),
    "bad_frames": case([frame(ALLOC, 0, 0, DRAM, address=1), frame(ALLOC, 0, 4096, 9, address=2),
                        frame(ALLOC, 0, 4096, DRAM, pid=1, address=3), frame(200),
                        frame(4), frame(ALLOC, 64, 4096, DRAM, address=4),
                        frame(ALLOC, 0, 4096, DRAM, address=5),
                        frame(ALLOC, 0, 8192, L1, address=5)]),
    "truncated": case([frame(ALLOC, 0, 4096, DRAM, address=0xa0000)])[:60],
    "overflow": case([frame(PROCESS_QUERY, -1)] * 60, reader=1),
    # two SYNCs per call, 112 bytes read per call: a backlog, partial sends
    # 30 leaked buffers, then LEAK_QUERYs of 31 frames each, read 1008 bytes
    # per call: the answer queue backs up and is compacted, then overflows
    "slow_leak_reader": case([frame(ALLOC, i % 2, 4096, DRAM, address=0x100000 + i * 4096)
                              for i in range(30)] + [frame(LEAK_QUERY, 0)] * 6,
                             chunk=112, reader=64, first_frames=30),
    "slow_reader": case([frame(SYNC, -1, size=i) for i in range(70)], chunk=224, reader=8),
    # tt-metal's 144-byte client: buffers, CBs, kernels, its QUERY answered in 144 bytes
    "upstream144": case([up144(ALLOC, 0, 4096, DRAM, address=0x1000),
                         up144(CB_ALLOC, 0, 2048, address=0x8000), up144(CB_ALLOC, 0, 2048, address=0x8000),
                         up144(KERNEL_LOAD, 1, 512, 2, address=0x11), up144(CB_FREE, 0, 2048, address=0x8000),
                         up144(KERNEL_UNLOAD, 1, 512, address=0x11), up144(DUMP_KERNELS),
                         up144(QUERY, 0), up144(DEVINFO, -1)]),
    # the same, arriving 112 bytes at a time: 112 first, then the switch to 144
    # issue 13: a fragmentation failure's post-mortem, and failures the server must refuse
    "diag_alloc_failed": case([frame(ALLOC, 0, 768 << 20, DRAM, address=0x800000000 + i * (64 << 20))
                               for i in range(16)] +
                              [frame(FREE, 0, address=0x800000000 + i * (64 << 20)) for i in range(0, 16, 2)] +
                              [frame(ALLOC_FAILED, 0, 1536 << 20, DRAM), frame(ALLOC_FAILED, 9, 4096, DRAM),
                               frame(ALLOC_FAILED, 0, 0, L1), frame(ALLOC_FAILED, 0, 1 << 62, TRACE),
                               frame(ALLOC_FAILED, 1, 4096, 7), frame(ALLOC_FAILED, 0, 4096, CB),
                               text(DOC_QUERY, b"/api/oom"), text(DOC_QUERY, b"/api/oom/1")]),
    # marks around events (one stamped before its mark, one re-sent), a diff, bad labels
    "diag_marks": case([text(MARK, b"a"), with_stack(frame(ALLOC, 0, 4096, DRAM, address=0x800000000, timestamp=1), 0),
                        with_stack(frame(ALLOC, 0, 4096, DRAM, address=0x800001000), 0, ALLOC_RESYNC),
                        frame(FREE, 0, address=0x800000000), text(MARK, b"b"), text(MARK, b""),
                        text(MARK, b"x" * 72), text(MARK, b"\x1b[2J"),
                        text(DOC_QUERY, b"/api/diff?from=a&to=b&limit=5"), text(DOC_QUERY, b"/api/diff?from=b&to=a"),
                        text(DOC_QUERY, b"/api/marks")]),
    # stacks given as text, named by ALLOC and FREE; a double free, a wrong device, an overlap
    "diag_misuse": case([text(STACK_TEXT, b"f (a.py:1)", device=2, size=5, index=0),
                         text(STACK_TEXT, b"main (a.py:9)", device=2, size=5, index=1),
                         text(STACK_TEXT, b"g (a.py:2)", device=1, size=6, index=3),
                         text(STACK_TEXT, b"", device=1, size=7),
                         with_stack(frame(ALLOC, 0, 4096, L1, address=0x10000), 5),
                         with_stack(frame(FREE, 0, address=0x10000), 5), with_stack(frame(FREE, 0, address=0x10000), 6),
                         frame(ALLOC, 1, 4096, DRAM, address=0x20000), frame(FREE, 0, address=0x20000),
                         with_stack(frame(ALLOC, 1, 8192, DRAM, address=0x20000), 5),
                         text(DOC_QUERY, b"/api/misuse"), text(DOC_QUERY, b"/api/export/stacks?type=l1&pid=0")]),
    # every document, good and bad parameters
    "diag_documents": case([frame(ALLOC, 0, 1 << 20, L1_SMALL, address=0x10000),
                            text(DOC_QUERY, b"/api/devices/0/map?type=l1_small&cells=400&blocks=1000"),
                            text(DOC_QUERY, b"/api/devices/1/map?type=system_memory"),
                            text(DOC_QUERY, b"/api/devices/0/map?pid=1"), text(DOC_QUERY, b"/api/snapshot?limit=1"),
                            text(DOC_QUERY, b"/api/export/trace?seconds=1&points=3"),
                            text(DOC_QUERY, b"/api/%zz?%=&&=x"), text(DOC_QUERY, b"/" * 72),
                            text(DOC_QUERY, b"")], reader=2),
    "upstream144_split": case([up144(ALLOC, 1, 4096, L1, address=0x2000), up144(KERNEL_LOAD, 0, 64, address=1),
                               up144(QUERY, 1)], chunk=112),
}


# ---- fuzz_ring.c: scripts of a client writing its shared-memory ring ----

# enum op and enum attach_kind of fuzz_ring.c
PUT, RAW, HEAD, LANES, POKE, WAITING, POLL, DRAIN, FRAME, LOOP, CLOSE, OPEN = range(12)
GOOD, UNSEALED, BAD_GEOMETRY, BAD_SIZE, NO_FDS, PIPE, BIG_FILE = range(7)
# OP_PUT's kind byte and key byte
K_FREE, K_RESENT, K_CORRUPT = 0x01, 0x40, 0x80
KEY_DEVICE1, KEY_BYSTANDER = 0x08, 0x10
# OP_SEND's frame types: indexes into fuzz_ring.c's frame_types
F_QUERY, F_SYNC, F_STATUS, F_PROCESS, F_LEAK, F_HELLO, F_DEVINFO, F_DUMP, F_ALLOC, F_FREE, F_ATTACH = range(11)
# OP_POLL's and OP_LOOP's flags
PASSED_IDLE, PASSED_STUCK, PASSED_DOZE = 0x01, 0x02, 0x04
WAKE, HANG_UP = 0x01, 0x02
# struct ring_region: a 192-byte header (lanes_used at 128), then 32 lanes of
# head (+0), tail (+64), producer_waiting (+68) and 16384 events from +128
LANES_USED_OFFSET = 128
LANE_SIZE = 128 + 16384 * 32


def lane_offset(lane):
    return 192 + lane * LANE_SIZE


def op(code, *args, client=0):
    return bytes([code | (client << 7)]) + bytes(args)


def put(lane, key, kind=0, delta=0, client=0):
    """An event as a producer writes it; delta moves its seq off the shard's next."""
    return op(PUT, lane, kind, key, delta & 0xff, client=client)


def u32(value):
    return struct.pack("<I", value & 0xffffffff)


def ring_case(ops, attach0=GOOD, attach1=None, reader=0):
    first = attach0 | (0x80 | attach1 << 3 if attach1 is not None else 0)
    return bytes([first, reader]) + b"".join(ops)


RING_EVENT = struct.Struct("<QQQIBBBB")  # struct ring_event
assert RING_EVENT.size == 32

RING_CASES = {
    # a well-behaved client: events in order, queries that drain first
    "in_order": ring_case([put(0, 0), put(0, 1, kind=0x12), put(0, KEY_DEVICE1 | 2, kind=0x24),
                           op(FRAME, F_QUERY, 0, 0), put(0, 0, K_FREE), put(0, 0, K_FREE),
                           put(0, KEY_BYSTANDER, K_FREE), op(FRAME, F_SYNC, 0xff, 0), op(DRAIN)]),
    # the ALLOC in lane 1, its FREE in lane 0: lane 0 is read first and waits
    "lanes_merged": ring_case([put(1, 3), put(0, 3, K_FREE), put(2, 3), op(POLL, 0), op(POLL, 0),
                               op(FRAME, F_PROCESS, 0xff, 0)]),
    # two connections of one process, one closed and opened again mid-way
    "two_clients": ring_case([put(0, 0), put(0, 1, client=1), put(5, 2, client=1), op(CLOSE),
                              put(0, 0, K_FREE), op(OPEN, GOOD), put(3, 0, K_FREE), put(3, 4),
                              op(DRAIN), op(CLOSE, client=1), op(FRAME, F_LEAK, 0, 0)],
                             attach1=GOOD),
    # seq 1 of a shard before its seq 0: waits, then RING_STUCK_MS forces it
    "gap_stuck": ring_case([put(0, 5, delta=1), op(POLL, 0), op(POLL, 0), op(POLL, PASSED_STUCK),
                            put(1, 5, delta=-2), op(DRAIN)]),
    # a stale event (an old seq) is applied anyway, and counted
    "stale_seq": ring_case([put(0, 6), put(0, 6, K_FREE), put(0, 6, delta=-2), op(DRAIN)]),
    # heads moved by absurd amounts, forwards and back
    "absurd_head": ring_case([put(0, 0), op(HEAD, 0, *u32(0x80000000)), op(DRAIN), put(1, 1),
                              op(HEAD, 1, *u32(0xffffffff), client=0), op(POLL, 0)]),
    # published slots never written: zero events (type 0)
    "stale_slots": ring_case([op(HEAD, 2, *u32(5)), op(LANES, 3), op(DRAIN)]),
    "raw_events": ring_case([op(RAW, 0, *RING_EVENT.pack(0x5000, 4096, 0, 0, 1, 0, 0, 0)),
                             op(RAW, 0, *RING_EVENT.pack(0x5000, 0, 0, 1, 2, 9, 0, 0)),
                             op(RAW, 0, *RING_EVENT.pack(0x6000, 4096, 0, 0, 200, 0, 0, 255)),
                             op(RAW, 1, *RING_EVENT.pack(0x7000, 1 << 63, 1, 0, 1, 1, 7, 3)),
                             op(DRAIN)]),
    # one corrupt field per event (KIND_CORRUPT: the key's bits 5-7 pick it)
    "corrupt": ring_case([put(0, how << 5 | 1, K_CORRUPT) for how in range(8)] + [op(DRAIN)]),
    # ALLOCs re-sent after a reconnect carry their CLOCK_REALTIME time
    "resent": ring_case([put(0, 1, K_RESENT), put(0, 2, K_RESENT | 0x30), op(FRAME, F_DUMP, 0, 0)]),
    # lanes_used beyond RING_LANES, then below the lanes written
    "lanes_used": ring_case([put(3, 1), op(LANES, 200), op(DRAIN), put(4, 2), op(LANES, 1),
                             op(POLL, 0)]),
    # any word of the region: lanes_used, a head, a tail, an event's type
    "poke": ring_case([put(0, 1), op(POKE, *u32(LANES_USED_OFFSET), *u32(40)),
                       op(POKE, *u32(lane_offset(1)), *u32(3)), op(POKE, *u32(lane_offset(0) + 64), *u32(7)),
                       op(POKE, *u32(lane_offset(0) + 128 + 28), *u32(0x00000007)), op(DRAIN)]),
    # idle rings doze, then sleep; a producer that sees server_sleeping writes
    # the eventfd; events while dozing wake the ring up
    "sleep_wake": ring_case([put(0, 1), op(POLL, 0), op(POLL, PASSED_IDLE), op(POLL, PASSED_DOZE),
                             put(0, 2), op(POLL, 0), op(LOOP, WAKE), op(POLL, 0), op(POLL, PASSED_IDLE),
                             put(0, 3), op(POLL, 0), op(POLL, PASSED_IDLE | PASSED_DOZE)]),
    # a producer asleep on a full lane is woken once the server consumes
    "producer_waiting": ring_case([put(0, 1), op(WAITING, 0), op(POLL, 0), op(WAITING, 3),
                                   op(DRAIN)]),
    # the client hangs up with events unread: the close applies them
    "hang_up": ring_case([put(0, 1), put(1, 2), op(LOOP, HANG_UP), put(0, 3)]),
    # the eventfd and the end of the socket in one loop batch: the ring's
    # handle must outlive the batch (a use-after-free this fuzzer found)
    "wake_and_hang_up": ring_case([op(LOOP, WAKE | HANG_UP)]),
    # a peer that never reads: QUERY answers overflow and close it, events pending
    "overflow": ring_case([put(0, 1)] + [op(FRAME, F_QUERY, 0, 0), put(0, 2), put(0, 2, K_FREE)] * 80,
                          reader=1),
    # socket ALLOC/FREE racing the ring's, a second RING_ATTACH, HELLO and status
    "socket_and_ring": ring_case([op(FRAME, F_HELLO, 0xff, 0), put(0, 1), op(FRAME, F_FREE, 0, 1),
                                  op(FRAME, F_ALLOC, 0, 2), put(0, 2, K_FREE), op(FRAME, F_ATTACH, 0xff, 0),
                                  op(FRAME, F_STATUS, 0, 0), op(FRAME, F_DEVINFO, 0xff, 0)]),
    # attaches the server must refuse, then a good one on the second connection
    "bad_attach": ring_case([put(0, 1), op(DRAIN), put(0, 1, client=1), op(DRAIN)],
                            attach0=UNSEALED, attach1=BAD_GEOMETRY),
    "bad_attach_size": ring_case([op(DRAIN), op(CLOSE), op(OPEN, NO_FDS), op(CLOSE), op(OPEN, PIPE),
                                  op(LOOP, WAKE), op(CLOSE), op(OPEN, BIG_FILE), op(CLOSE), op(OPEN, GOOD),
                                  put(0, 1)],
                                 attach0=BAD_SIZE),
}


# fuzz_http.c: byte 0 = bit 0 the server with basic auth, bits 1..7 the chunk size; then the request
def http_case(request, auth=False, chunk=0):
    return bytes([(chunk << 1) | (1 if auth else 0)]) + request


def get(path, headers=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"


HTTP_CASES = {
    "metrics": http_case(get(b"/metrics")),
    "devices": http_case(get(b"/api/devices") + get(b"/api/devices/1") + get(b"/api/devices/0/stats")),
    "processes": http_case(get(b"/api/processes")),
    "buffers_params": http_case(get(b"/api/buffers?device=0&pid=1&limit=2&offset=1")),
    "bad_params": http_case(get(b"/api/buffers?limit=-1&device=%00&offset=99999999999999999999")),
    "history": http_case(get(b"/api/history?device=1&seconds=60&points=3")),
    "leaks_health": http_case(get(b"/api/leaks") + get(b"/healthz")),
    "leak_by_id": http_case(get(b"/api/leaks/1?limit=5&offset=2") + get(b"/api/leaks/18446744073709551616")
                            + get(b"/api/leaks/0") + get(b"/api/leaks/1/x")),
    "dashboard_head": http_case(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "events": http_case(get(b"/api/events", b"Accept: text/event-stream\r\n")),
    "post_body": http_case(b"POST /api/devices HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
    "chunked_post": http_case(b"PUT /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"3\r\nabc\r\n0\r\n\r\n"),
    "split": http_case(get(b"/api/devices/1/stats"), chunk=3),
    "pipelined_http10": http_case(b"GET /healthz HTTP/1.0\r\n\r\n" + get(b"/metrics")),
    "traversal": http_case(get(b"/../../etc/passwd") + get(b"/%2e%2e/%ff%00")),
    "auth_ok": http_case(get(b"/api/devices", b"Authorization: Basic ZnV6ejpwdw==\r\n"), auth=True),
    "auth_wrong": http_case(get(b"/metrics", b"Authorization: Basic ZnV6ejp4\r\n"), auth=True),
    "auth_garbage": http_case(get(b"/metrics", b"Authorization: Basic !!!==\r\n"), auth=True),
    "auth_none": http_case(get(b"/metrics"), auth=True),
    "big_header": http_case(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"),
}


def write(dirname, cases):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), dirname)
    os.makedirs(here, exist_ok=True)
    for name, data in sorted(cases.items()):
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(cases)} seeds to {here}")


write("corpus", CASES)
write("corpus_ring", RING_CASES)
write("corpus_http", HTTP_CASES)
