#!/usr/bin/env python3
"""Query allocation statistics from the allocation server.

The seed's query_stats.py, on the ttalloc package:

    python3 examples/query_stats.py 0
    Device 0 Allocation Statistics:
      DRAM:      3.25 GB
      L1:        450.00 MB
      L1_SMALL:  0 B
      TRACE:     0 B
      Total:     3.70 GB

--all prints every device (with name and capacity); --socket PATH (or
$TT_ALLOC_SERVER_SOCKET) picks the server. Exit status 1 when the server
cannot be reached, 2 for a device it does not have.
"""

import argparse
import os
import sys

try:
    import ttalloc
except ImportError:  # run from a checkout without `pip install ./python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import ttalloc

from ttalloc import format_bytes, query_device_stats


def print_stats(stats):
    print(f"Device {stats['device_id']} Allocation Statistics:")
    print(f"  DRAM:      {format_bytes(stats['dram_allocated'])}")
    print(f"  L1:        {format_bytes(stats['l1_allocated'])}")
    print(f"  L1_SMALL:  {format_bytes(stats['l1_small_allocated'])}")
    print(f"  TRACE:     {format_bytes(stats['trace_allocated'])}")
    total = (stats["dram_allocated"] + stats["l1_allocated"] + stats["l1_small_allocated"]
             + stats["trace_allocated"])
    print(f"  Total:     {format_bytes(total)}")


def main():
    parser = argparse.ArgumentParser(description="Query device allocation stats")
    parser.add_argument("device_id", type=int, nargs="?", help="Device ID to query")
    parser.add_argument("--all", action="store_true", help="every device, with name and capacity")
    parser.add_argument("--socket", help="server socket (default $TT_ALLOC_SERVER_SOCKET or "
                                         "/tmp/tt_allocation_server.sock)")
    args = parser.parse_args()
    if args.device_id is None and not args.all:
        parser.error("give a device ID, or --all")
    try:
        if args.all:
            for d in ttalloc.devices(socket_path=args.socket):
                print(f"Device {d.device_id}: {d.name} ({d.arch}, "
                      f"{format_bytes(d.dram_capacity)} DRAM, "
                      f"{format_bytes(d.l1_capacity)} L1)")
                print_stats(d.stats)
        else:
            print_stats(query_device_stats(args.device_id, socket_path=args.socket))
    except ttalloc.ServerNotRunning:
        path = args.socket or ttalloc.socket_path
        print(f"Error: Cannot connect to allocation server at {path}")
        print("Make sure the server is running: start ttalloc-server")
        return 1
    except ValueError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
