"""Helpers for the HTTP tests: a raw protocol client, HTTP getters, tool checks.

The client speaks the seed's 112-byte frames directly (struct
"=BBBB i Q BBBB i Q Q QQQQ QQIIIIII"), so these tests depend on nothing but
the server binary. Run as a script it is a client process driven by stdin:

    python3 http_support.py SOCKET
    alloc DEV TYPE ADDR SIZE | free DEV ADDR | sync | exit   -> "ok"
"""

import json
import os
import re
import shutil
import socket
import sys
import urllib.error
import urllib.request

from wire_support import FRAME, sync

ALLOC, FREE = 1, 2
DRAM, L1, L1_SMALL, TRACE = 0, 1, 3, 4
MiB = 1024 * 1024

DASHBOARD_RE = re.compile(r"^🌐 Dashboard: (https?://\S+)$", re.M)


def frame(msg_type, device_id=0, size=0, buffer_type=0, pid=0, buffer_id=0):
    return FRAME.pack(msg_type, 0, 0, 0, device_id, size, buffer_type, 0, 0, 0, pid, buffer_id, 0,
                      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


class RawClient:
    """One connection to the server reporting for this process."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.token = 0

    def alloc(self, device, buffer_type, address, size):
        self.sock.sendall(frame(ALLOC, device, size, buffer_type, os.getpid(), address))

    def free(self, device, address):
        self.sock.sendall(frame(FREE, device, 0, 0, os.getpid(), address))

    def sync(self):
        """Returns once the server has applied everything sent before."""
        self.token += 1
        sync(self.sock, self.token)

    def close(self):
        self.sock.close()


def dashboard_url(server, timeout=10.0):
    """The URL from the server's start-up banner ("🌐 Dashboard: http://...")."""
    m = server.wait_for_log(DASHBOARD_RE.pattern, timeout=timeout)
    return m.group(1)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def get(url, timeout=5.0):
    """GET without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def get_json(url, timeout=5.0):
    r = get(url, timeout)
    assert r.status == 200, "%s -> %d %s" % (url, r.status, r.body[:200])
    assert r.content_type.startswith("application/json"), r.content_type
    return r.json()


def tool(name, path=None):
    """Path of an external tool. Missing: skip, except under CI, where it fails."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    import pytest
    msg = "%s is not installed (scripts/install-deps.sh installs it)" % name
    if os.environ.get("CI"):
        pytest.fail(msg + "; CI must have it")
    pytest.skip(msg)


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """conftest's wait_until, with the last value the predicate returned in
    the failure message (imported here: as a script this module has no pytest)."""
    from conftest import wait_until
    last = []

    def check():
        last[:] = [predicate()]
        return last[0]
    return wait_until(check, timeout, interval, what, details=lambda: "last: %r" % (last[0],))


def open_many(host, port, source, count, payload, timeout=20):
    """`count` non-blocking TCP connections to host:port from the loopback address
    `source`, each sending `payload` (as much as goes) once connected; returns
    the sockets (the caller closes them). Connections the server refuses at
    accept are reset by it: their send fails, which is fine."""
    import select
    import time
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
    poller = select.poll()
    pending = {s.fileno(): s for s in socks}
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(1000):
            try:
                pending[fd].send(payload)
            except OSError:
                pass
            poller.unregister(fd)
            del pending[fd]
    return socks


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    comm = os.environ.get("TTALLOC_TEST_COMM")
    if comm:  # the server reads /proc/PID/comm when the process first connects
        with open("/proc/self/comm", "w") as f:
            f.write(comm)
    client = RawClient(sys.argv[1])
    print("pid=%d" % os.getpid(), flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "alloc":
            client.alloc(int(w[1]), int(w[2]), int(w[3], 0), int(w[4]))
        elif w[0] == "free":
            client.free(int(w[1]), int(w[2], 0))
        elif w[0] == "sync":
            client.sync()
        elif w[0] == "exit":
            break
        print("ok", flush=True)
    client.close()


if __name__ == "__main__":
    main()
