"""The connection to the allocation server: where its socket is, and a
blocking request/answer connection for queries.

    socket_path     the default socket: $TT_ALLOC_SERVER_SOCKET, else
                    /tmp/tt_allocation_server.sock. `ttalloc.socket_path` is
                    this attribute (reading or setting either is the same),
                    and every call without a `socket_path` argument reads it
                    when it runs, so a later change is seen.
    ServerNotRunning, ServerError   what a query raises
    _Connection, _recv_exact        used by ttalloc.query, ttalloc.reporter
                                    and ttalloc.monitor

Imports only ttalloc.protocol.
"""

import os
import socket

from . import protocol
from .protocol import MSG_SIZE

__all__ = ["socket_path", "QUERY_TIMEOUT", "ServerNotRunning", "ServerError"]

socket_path = os.environ.get(protocol.SOCKET_ENV) or protocol.DEFAULT_SOCKET

# Seconds a query waits for the server before giving up.
QUERY_TIMEOUT = 5.0


class ServerNotRunning(ConnectionError):
    """The allocation server cannot be reached at the socket path."""


class ServerError(RuntimeError):
    """The server answered a request with an ERROR frame."""

    def __init__(self, message, code=0, reason=""):
        super().__init__(message)
        self.code = code
        self.reason = reason


def _resolve(path):
    """`path`, else the module attribute socket_path as it is now."""
    return path if path else socket_path


def _recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the allocation server closed the connection")
        data += chunk
    return bytes(data)


class _Connection:
    """A blocking request/answer connection for queries."""

    def __init__(self, path, timeout=QUERY_TIMEOUT):
        self.path = _resolve(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.sock.close()
            raise ServerNotRunning(
                "cannot reach the allocation server at %s (%s): start ttalloc-server "
                "(./build/programming_examples/allocation_server_poc)"
                % (self.path, e.strerror or e)) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, frame):
        self.sock.sendall(frame)

    def read(self):
        """Next frame as a header dict; ERROR frames raise ServerError."""
        try:
            msg = protocol.unpack_header(_recv_exact(self.sock, MSG_SIZE))
        except socket.timeout:
            raise ConnectionError("the allocation server at %s did not answer within %.0f s"
                                  % (self.path, self.sock.gettimeout())) from None
        if msg["type"] == protocol.ERROR:
            err = protocol.unpack_error(msg["payload"])
            reasons = protocol.ERROR_REASONS
            reason = reasons[err["reason"]] if err["reason"] < len(reasons) else str(err["reason"])
            raise ServerError("server refused the request: %s" % err["message"],
                              err["code"], reason)
        return msg

    def exchange(self, frame, answer_type):
        self.send(frame)
        msg = self.read()
        if msg["type"] != answer_type:
            raise ConnectionError("unexpected answer %s from the allocation server (wanted %s)"
                                  % (protocol.type_name(msg["type"]),
                                     protocol.type_name(answer_type)))
        return msg

    def rows(self, frame, row_type):
        self.send(frame)
        out = []
        while True:
            msg = self.read()
            if msg["type"] == protocol.ROWS_END:
                return out
            if msg["type"] != row_type:
                raise ConnectionError("unexpected answer %s while reading %s rows"
                                      % (protocol.type_name(msg["type"]),
                                         protocol.type_name(row_type)))
            out.append(msg)
