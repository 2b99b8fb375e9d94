#!/usr/bin/env python3
"""Check the allocation server's health (the seed's "Check Server Health").

    python3 examples/health_check.py
    ✅ Allocation server running at /tmp/tt_allocation_server.sock: 2 devices (Wormhole_B0, Wormhole_B0), 3 processes, 12 live buffers

    python3 examples/health_check.py --http http://127.0.0.1:8080   # also GET /healthz

When the server is not reachable it prints the seed's warning and exits 1,
so the script fits cron, a CI step or a monitoring probe:

    Warning: Allocation server not running
    Start with: ttalloc-server
"""

import argparse
import json
import os
import sys
import urllib.request

try:
    import ttalloc
except ImportError:  # run from a checkout without `pip install ./python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import ttalloc


def is_server_running(socket_path=None):
    """Check if allocation server is accessible."""
    return ttalloc.is_server_running(socket_path)


def check_http(base_url, timeout):
    """The server's /healthz document; raises OSError or ValueError when unhealthy."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/healthz", timeout=timeout) as resp:
        doc = json.load(resp)
    if doc.get("status") != "ok":
        raise ValueError("/healthz says %r" % (doc.get("status"),))
    return doc


def main():
    parser = argparse.ArgumentParser(description="Check the allocation server's health")
    parser.add_argument("--socket", help="server socket (default $TT_ALLOC_SERVER_SOCKET or "
                                         "/tmp/tt_allocation_server.sock)")
    parser.add_argument("--http", metavar="URL",
                        help="also check the dashboard's /healthz at URL (e.g. http://127.0.0.1:8080)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for answers")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    args = parser.parse_args()
    path = args.socket or ttalloc.socket_path

    if not is_server_running(args.socket):
        print("Warning: Allocation server not running")
        print("Start with: ttalloc-server")
        return 1
    try:
        devs = ttalloc.devices(socket_path=args.socket)
    except (ConnectionError, OSError) as e:
        print(f"Warning: the allocation server at {path} accepts connections but does not answer: {e}")
        return 1
    procs = {p.pid for p in ttalloc.processes(socket_path=args.socket) if p.tracked}
    buffers = sum(d.buffer_count for d in devs)
    if not args.quiet:
        names = ", ".join(d.name or "?" for d in devs)
        print(f"✅ Allocation server running at {path}: {len(devs)} device{'s' if len(devs) != 1 else ''}"
              f" ({names}), {len(procs)} process{'es' if len(procs) != 1 else ''}, "
              f"{buffers} live buffer{'s' if buffers != 1 else ''}")
    if args.http:
        try:
            doc = check_http(args.http, args.timeout)
        except (OSError, ValueError) as e:
            print(f"Warning: dashboard health check at {args.http} failed: {e}")
            return 1
        if not args.quiet:
            print(f"✅ HTTP {args.http.rstrip('/')}/healthz: ok, up {doc.get('uptime_seconds', 0):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
