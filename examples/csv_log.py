#!/usr/bin/env python3
"""Log periodic snapshots of device memory to CSV (the seed's "Log Periodic
Snapshots").

    python3 examples/csv_log.py                      # memory_log.csv, every 5 s, until Ctrl-C
    python3 examples/csv_log.py -o log.csv --interval 0.5 --count 10

Columns, as in the seed: timestamp (ISO local time), device, dram, l1 (bytes
allocated). One row per device every --interval seconds, flushed each time;
--count stops after that many rounds (0: until Ctrl-C or SIGTERM). The file
is appended to, with the header only when it is new or empty, so a restarted
logger continues the same log. A server that goes away is reported on stderr
and tried again every interval. (tt_smi --csv-log FILE does the same in C.)
"""

import argparse
import csv
import os
import signal
import sys
import time
from datetime import datetime

try:
    import ttalloc
except ImportError:  # run from a checkout without `pip install ./python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import ttalloc


def main():
    parser = argparse.ArgumentParser(description="Log device memory snapshots to CSV")
    parser.add_argument("-o", "--output", default="memory_log.csv", help="CSV file (appended)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
    parser.add_argument("--count", type=int, default=0, help="rounds to log (0: until stopped)")
    parser.add_argument("--devices", type=int, default=None,
                        help="log devices 0..N-1 (default: every device the server has)")
    parser.add_argument("--socket", help="server socket")
    args = parser.parse_args()
    if args.interval <= 0 or args.count < 0:
        parser.error("--interval must be positive and --count at least 0")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    new = not os.path.exists(args.output) or os.path.getsize(args.output) == 0
    rounds = 0
    down = False
    try:
        with open(args.output, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["timestamp", "device", "dram", "l1"])
                f.flush()
            while True:
                try:
                    count = args.devices if args.devices is not None else ttalloc.num_devices(args.socket)
                    rows = []
                    for device_id in range(count):
                        stats = ttalloc.query_device_stats(device_id, socket_path=args.socket)
                        rows.append([datetime.now().isoformat(), device_id,
                                     stats["dram_allocated"], stats["l1_allocated"]])
                    writer.writerows(rows)
                    f.flush()
                    if down:
                        print("csv_log: connected to the server again", file=sys.stderr)
                    down = False
                except ValueError as e:  # --devices beyond what the server has
                    print(f"csv_log: {e}", file=sys.stderr)
                    return 2
                except (ConnectionError, OSError) as e:
                    if not down:
                        print(f"csv_log: {e} (trying again every {args.interval:g} s)", file=sys.stderr)
                    down = True
                rounds += 1
                if args.count and rounds >= args.count:
                    break
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
