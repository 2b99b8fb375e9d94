#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_frames.c into tests/fuzz/corpus/.

Each file is: chunk, reader and split bytes (see fuzz_frames.c), then 112-byte
frames in the seed's layout "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII", or 144-byte
frames in upstream tt-metal's later layout (UP144; the server tells them apart
per connection, docs/TTMETAL.md).
Run it again after changing the frames; the output is deterministic.
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


def frame(type_, device=0, size=0, buffer_type=0, pid=0, address=0, timestamp=0, version=0):
    payload = [0] * 12
    if type_ == HELLO:
        payload[6] = version  # first u32 of the payload: hello.version
    return FRAME.pack(type_, 0, 0, 0, device, size, buffer_type, 0, 0, 0, pid, address, timestamp,
                      *payload)


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
    "upstream144_split": case([up144(ALLOC, 1, 4096, L1, address=0x2000), up144(KERNEL_LOAD, 0, 64, address=1),
                               up144(QUERY, 1)], chunk=112),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, data in sorted(CASES.items()):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
print(f"wrote {len(CASES)} seeds to {here}")
