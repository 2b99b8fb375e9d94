"""The connection to the allocation server: where its socket is, and a
blocking request/answer connection for queries.

    socket_path     the default socket: $TT_ALLOC_SERVER_SOCKET, else
                    /tmp/tt_allocation_server.sock. `ttalloc.socket_path` is
                    this attribute (reading or setting either is the same),
                    and every call without a `socket_path` argument reads it
                    when it runs, so a later change is seen.
    ServerNotRunning, ServerError   what a query raises
    ServerAccessDenied              ServerNotRunning (and PermissionError) when
                                    the socket's permissions refuse this user
    explain_connect_error(path, e)  the words every client uses for a failed
                                    connect (src/common/reach.c says the same)
    _Connection, _recv_exact        used by ttalloc.query, ttalloc.reporter
                                    and ttalloc.monitor

Imports only ttalloc.protocol.
"""

import errno
import grp
import os
import pwd
import socket

from . import protocol
from .protocol import MSG_SIZE

# The public names (re-exported by the package); QUERY_TIMEOUT and
# explain_connect_error() are this module's, for the other modules and tools.
__all__ = ["socket_path", "ServerNotRunning", "ServerAccessDenied", "ServerError"]

socket_path = os.environ.get(protocol.SOCKET_ENV) or protocol.DEFAULT_SOCKET

# Seconds a query waits for the server before giving up.
QUERY_TIMEOUT = 5.0


class ServerNotRunning(ConnectionError):
    """The allocation server cannot be reached at the socket path."""


class ServerAccessDenied(ServerNotRunning, PermissionError):
    """The server's socket exists, but its permissions refuse this user."""


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _directory_of(path):
    """The directory part of a socket path, as src/common/unix_socket.c says it."""
    cut = path.rfind("/")
    return "." if cut < 0 else "/" if cut == 0 else path[:cut]


def _listed_in_group(gid):
    """True when the group database makes our user a member of gid (perhaps since after this login)."""
    try:
        me = pwd.getpwuid(os.geteuid())
    except KeyError:
        return False
    if me.pw_gid == gid:
        return True
    try:
        return me.pw_name in grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def _socket_fix(st, owner, group, directory):
    """What to do about a socket whose owner, group and mode refused us."""
    if st.st_mode & 0o060 != 0o060:
        return ("only %s may connect: start the server with --group/--socket-mode (e.g. --socket-mode 0660 "
                "--group GROUP, and join GROUP)" % owner)
    if st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        return "the socket lets group %s in, and you are in it: check the permissions of %s" % (group, directory)
    if _listed_in_group(st.st_gid):
        return "you were added to group %s after logging in: log in again (or run 'newgrp %s')" % (group, group)
    return ("join group %s (sudo usermod -aG %s $USER, then log in again) or start the server with "
            "--group/--socket-mode" % (group, group))


def _explain_denied(path):
    me = _user_name(os.geteuid())
    directory = _directory_of(path)
    try:
        st = os.stat(path)
    except OSError:
        # the socket cannot even be looked at: its directory keeps us out
        try:
            st = os.stat(directory)
        except OSError as e:
            return ("permission denied: user %s may not reach the allocation server at %s (%s): start the "
                    "server with --socket in a directory your user may enter" % (me, path, e.strerror))
        return ("permission denied: user %s may not reach the allocation server at %s (its directory %s is "
                "owned by %s, group %s, mode %04o): start the server with --socket in a directory your user "
                "may enter" % (me, path, directory, _user_name(st.st_uid), _group_name(st.st_gid),
                               st.st_mode & 0o7777))
    owner, group = _user_name(st.st_uid), _group_name(st.st_gid)
    return ("permission denied: user %s may not connect to the allocation server at %s (socket owned by %s, "
            "group %s, mode %04o): %s" % (me, path, owner, group, st.st_mode & 0o7777,
                                          _socket_fix(st, owner, group, directory)))


def explain_connect_error(path, error):
    """Why connecting to the server's socket at `path` failed with OSError
    `error`, in the words every client uses (src/common/reach.c): refused by
    the socket's permissions, with its owner, group and mode and the fix;
    otherwise "cannot reach the allocation server at PATH (REASON): start
    ttalloc-server"."""
    if error.errno == errno.EACCES:
        return _explain_denied(path)
    return "cannot reach the allocation server at %s (%s): start ttalloc-server" % (path, error.strerror or error)


def connect_error(path, error):
    """The exception a query raises for a failed connect: ServerAccessDenied
    or ServerNotRunning, with explain_connect_error's words."""
    cls = ServerAccessDenied if error.errno == errno.EACCES else ServerNotRunning
    return cls(explain_connect_error(path, error))


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
            raise connect_error(self.path, e) from None

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
