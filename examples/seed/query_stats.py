#!/usr/bin/env python3
"""Query allocation statistics from the allocation server."""

import socket
import struct
import sys

SOCKET_PATH = "/tmp/tt_allocation_server.sock"

# Message types
MSG_QUERY = 3
MSG_RESPONSE = 4

def query_device_stats(device_id):
    """
    Query allocation statistics for a specific device.

    Returns dict with:
        - dram_allocated (bytes)
        - l1_allocated (bytes)
        - l1_small_allocated (bytes)
        - trace_allocated (bytes)
    """
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(SOCKET_PATH)
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"Error: Cannot connect to allocation server at {SOCKET_PATH}")
        print("Make sure the server is running:")
        print("  ./build/programming_examples/allocation_server_poc")
        sys.exit(1)

    # Build QUERY message (112 bytes total)
    # Format: type(1), pad(3), device_id(4), size(8), buffer_type(1),
    #         pad(3), pid(4), buffer_id(8), timestamp(8),
    #         4x response fields(8 each), 6x device info(4 each)
    msg = struct.pack(
        "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII",
        MSG_QUERY,  # type
        0, 0, 0,    # padding
        device_id,  # device_id
        0,          # size (unused for query)
        0, 0, 0, 0, # buffer_type + padding (unused)
        0,          # process_id (unused)
        0,          # buffer_id (unused)
        0,          # timestamp (unused)
        0, 0, 0, 0, # response fields (will be filled by server)
        0, 0, 0, 0, 0, 0, 0, 0  # device info fields (unused for QUERY)
    )

    sock.send(msg)
    response = sock.recv(112)
    sock.close()

    # Parse response
    fields = struct.unpack("=BBBB i Q BBBB i Q Q QQQQ QQIIIIII", response)

    return {
        'device_id': device_id,
        'dram_allocated': fields[13],
        'l1_allocated': fields[14],
        'l1_small_allocated': fields[15],
        'trace_allocated': fields[16],
    }

def format_bytes(bytes_val):
    """Format bytes in human-readable form."""
    if bytes_val >= 1024**3:
        return f"{bytes_val / 1024**3:.2f} GB"
    elif bytes_val >= 1024**2:
        return f"{bytes_val / 1024**2:.2f} MB"
    elif bytes_val >= 1024:
        return f"{bytes_val / 1024:.2f} KB"
    else:
        return f"{bytes_val} B"

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Query device allocation stats")
    parser.add_argument("device_id", type=int, help="Device ID to query")
    args = parser.parse_args()

    stats = query_device_stats(args.device_id)

    print(f"Device {stats['device_id']} Allocation Statistics:")
    print(f"  DRAM:      {format_bytes(stats['dram_allocated'])}")
    print(f"  L1:        {format_bytes(stats['l1_allocated'])}")
    print(f"  L1_SMALL:  {format_bytes(stats['l1_small_allocated'])}")
    print(f"  TRACE:     {format_bytes(stats['trace_allocated'])}")
    print(f"  Total:     {format_bytes(sum(stats.values()) - stats['device_id'])}")
