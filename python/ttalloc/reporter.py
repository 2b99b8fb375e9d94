"""The report side: Reporter sends this process's ALLOC/FREE frames and keeps
its own table of live buffers, so it can re-send them after a reconnect.

    Reporter, PeakWatch      see their docstrings
    default_reporter()       the process-wide Reporter (enabled when
                             TT_ALLOC_TRACKING_ENABLED=1)
    tracking_enabled()       the client library's rule for that variable

Fork handlers (registered at import) keep a forked child from inheriting a
lock another thread held. Imports ttalloc.protocol and ttalloc.connection.
"""

import atexit
import os
import socket
import sys
import threading
import time
import weakref

from . import protocol
from .connection import _recv_exact, _resolve, explain_connect_error
from .protocol import MSG_SIZE
from .query import send_mark


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
STACK_TRACE_ENV = "TT_ALLOC_STACK_TRACE"
MAX_STACKS = 65536  # distinct stacks a process may define (the server's limit per process)


def _frame_text(code, line):
    """One frame as the server shows it, "function (file:line)", within TEXT_MAX bytes."""
    name = getattr(code, "co_qualname", code.co_name)
    text = "%s (%s:%d)" % (name, code.co_filename, line)
    if len(text.encode("utf-8", "replace")) > protocol.TEXT_MAX:
        text = "%s (%s:%d)" % (name, os.path.basename(code.co_filename), line)
    text = "".join(c if " " <= c != "\x7f" else "?" for c in text)
    return text.encode("utf-8", "replace")[:protocol.TEXT_MAX].decode("utf-8", "ignore")


def _check_device_and_type(device_id, buffer_type):
    """ValueError unless device_id and buffer_type are in the protocol's ranges."""
    if not 0 <= device_id < protocol.MAX_DEVICES:
        raise ValueError("device_id %d out of range 0..%d" % (device_id, protocol.MAX_DEVICES - 1))
    if not 0 <= buffer_type < protocol.BUFFER_TYPES:
        raise ValueError("buffer_type %d is not 0..%d" % (buffer_type, protocol.BUFFER_TYPES - 1))


def _new_instance():
    """A random id for one Reporter in one process (never 0: 0 means none)."""
    return int.from_bytes(os.urandom(8), "little") or 1

__all__ = ["Reporter", "PeakWatch", "default_reporter", "tracking_enabled", "mark"]


def tracking_enabled():
    """True when TT_ALLOC_TRACKING_ENABLED is "1" (the client library's rule)."""
    return os.environ.get(protocol.TRACKING_ENV) == "1"


class PeakWatch:
    """High-water marks of a Reporter's own live bytes, per (device, type),
    since Reporter.watch_peaks() returned it; exact, as every report of the
    reporter updates them. close() (or a `with` block) stops the watch."""

    def __init__(self, reporter, start):
        self._reporter = reporter
        self.start = dict(start)  # (device_id, buffer_type) -> bytes at the start
        self.peak = dict(start)   # (device_id, buffer_type) -> highest bytes since

    def increase(self, device_id, buffer_type):
        """How far the bytes of that type on that device rose above the start."""
        key = (device_id, buffer_type)
        return max(0, self.peak.get(key, 0) - self.start.get(key, 0))

    def close(self):
        self._reporter._unwatch(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Reporter:
    """Reports this process's device buffers to the allocation server.

    Every report first updates the reporter's own table of live buffers, then
    is sent. Without a connection, a connect is tried at most once per
    `reconnect_interval` seconds (the first try is immediate); a new
    connection says HELLO and re-sends the whole table, so the server's
    picture is exact whatever the start order and however often it restarts.

    report_alloc, report_free and flush return True when the server has been
    told (flush: and has processed everything), False otherwise; they never
    raise because the server is absent. Bad arguments raise ValueError, as
    does a device id the last server reached does not have (its HELLO_ACK
    says how many devices it has; such a report is counted in
    `refused_device` and neither recorded nor sent).
    Thread-safe. A forked child starts with an empty table and no connection.

    With `watch` (default), a daemon thread started by the first report
    checks the connection every WATCH_INTERVAL seconds: it notices a server
    that went away and reconnects (same backoff) when one is back, so an
    idle process is re-sent to a restarted or late server without waiting
    for its next report. close() stops it; the next report starts it again.

    HELLO carries `session` (default $TTALLOC_SESSION), and a re-sent ALLOC
    carries the buffer's original allocation time, so the server's ages stay
    true across a server restart.

    With `stack_traces` (default: TT_ALLOC_STACK_TRACE=1) each ALLOC, FREE
    and alloc_failed() carries the Python stack of its caller (function,
    file, line; the frames of this package left out), defined to the server
    once per connection as STACK_TEXT frames, so leak reports,
    post-mortems, diffs and flame graphs show Python frames.
    """

    SEND_TIMEOUT = 2.0
    WATCH_INTERVAL = 0.2

    def __init__(self, socket_path=None, enabled=True, reconnect_interval=1.0,
                 answer_timeout=5.0, session=None, watch=True, stack_traces=None):
        self._path = socket_path
        self.session = session if session is not None else os.environ.get(protocol.SESSION_ENV, "")
        self.enabled = bool(enabled)
        self.reconnect_interval = reconnect_interval
        self.answer_timeout = answer_timeout
        self._lock = threading.RLock()
        self._sock = None
        self._pid = os.getpid()
        self._instance = _new_instance()  # this Reporter's id in HELLO (protocol.h, sessions)
        self._epoch = 0                   # connections opened so far
        self._server_features = 0
        self._table = {}  # (device_id, address) -> (buffer_type, size, alloc time ns)
        self._next_connect = 0.0
        self._sequence = 0
        self.last_error = None  # text of the last ERROR frame or socket error
        self.connects = 0       # successful connections so far
        self.server_devices = 0  # devices of the last server reached (HELLO_ACK); 0: none yet
        self.refused_device = 0  # reports refused for a device that server does not have
        self._usage = {}        # (device_id, buffer_type) -> live bytes in the table
        self._peak_watches = []  # PeakWatch objects updated by every report
        self.watch = bool(watch)
        self._watch_stop = None  # threading.Event of the running watcher
        if stack_traces is None:
            stack_traces = os.environ.get(STACK_TRACE_ENV) == "1"
        self.stack_traces = bool(stack_traces)
        self._stack_ids = {}      # ((id(code), lasti), ...) innermost first -> stack id
        self._stack_codes = []    # the code objects of every stack: their ids stay valid
        self._stack_texts = {}    # stack id -> [frame text, ...]
        self._stacks_sent = set()  # stack ids defined on the current connection
        _reporters.add(self)

    @property
    def socket_path(self):
        return _resolve(self._path)

    @property
    def connected(self):
        return self._sock is not None

    @property
    def live_buffers(self):
        """Number of buffers this process has reported live and not freed."""
        with self._lock:
            self._check_fork()
            return len(self._table)

    def live_table(self):
        """A copy of the table: {(device_id, address): (buffer_type, size)}."""
        with self._lock:
            self._check_fork()
            return {k: v[:2] for k, v in self._table.items()}

    def usage(self, device_id, buffer_type):
        """Bytes of `buffer_type` this reporter has live on `device_id`."""
        with self._lock:
            self._check_fork()
            return self._usage.get((int(device_id), int(buffer_type)), 0)

    def watch_peaks(self):
        """Starts recording the high-water mark of this reporter's live bytes
        per (device, type); returns the PeakWatch (close it when done)."""
        with self._lock:
            self._check_fork()
            watch = PeakWatch(self, self._usage)
            self._peak_watches.append(watch)
            return watch

    def _unwatch(self, watch):
        with self._lock:
            if watch in self._peak_watches:
                self._peak_watches.remove(watch)

    def _account(self, device_id, buffer_type, delta):
        """Adds `delta` bytes to the live total of (device, type). Lock held."""
        key = (device_id, buffer_type)
        now = self._usage.get(key, 0) + delta
        self._usage[key] = now
        for watch in self._peak_watches:
            if now > watch.peak.get(key, 0):
                watch.peak[key] = now

    # ---- connection ----

    def _check_fork(self):
        pid = os.getpid()
        if pid != self._pid:
            # A forked child: its own identity, no connection, no buffers.
            if self._sock is not None:
                try:
                    self._sock.close()  # the child's copy; the parent keeps its own
                except OSError:
                    pass
            self._sock = None
            self._table = {}
            self._usage = {}
            self._peak_watches = []
            self._pid = pid
            self._instance = _new_instance()
            self._epoch = 0
            self._next_connect = 0.0
            self.refused_device = 0
            self._watch_stop = None  # threads do not survive fork

    # ---- the watcher thread ----

    def _start_watcher(self):
        """Starts the watcher unless it runs. Called with the lock held."""
        if not self.watch or self._watch_stop is not None:
            return
        stop = threading.Event()
        thread = threading.Thread(target=Reporter._watch, args=(weakref.ref(self), stop),
                                  name="ttalloc-reporter-watch", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return  # no thread (interpreter shutting down): reports still reconnect
        self._watch_stop = stop

    @staticmethod
    def _watch(ref, stop):
        # Holds the reporter only while checking, so it can be garbage collected.
        while not stop.wait(Reporter.WATCH_INTERVAL):
            reporter = ref()
            if reporter is None:
                return
            reporter._watch_once(stop)
            del reporter

    def _watch_once(self, stop):
        """Drops a connection the server closed; reconnects when the backoff allows."""
        with self._lock:
            if stop.is_set() or os.getpid() != self._pid:
                return
            if self._sock is not None:
                try:
                    self._sock.settimeout(0)
                    if not self._sock.recv(1, socket.MSG_PEEK):
                        self._disconnect("the server at %s closed the connection" % self.socket_path)
                except BlockingIOError:
                    pass  # nothing to read: the connection is fine
                except OSError as e:
                    self._disconnect("lost the server at %s: %s" % (self.socket_path, e))
                finally:
                    if self._sock is not None:
                        self._sock.settimeout(self.SEND_TIMEOUT)
            if self._sock is None:
                self._ensure_connected()

    def _stop_watcher(self):
        """Called with the lock held; the thread ends at its next wake-up."""
        if self._watch_stop is not None:
            self._watch_stop.set()
            self._watch_stop = None

    def _disconnect(self, why=None):
        if why:
            self.last_error = why
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._next_connect = time.monotonic() + self.reconnect_interval

    def _frame(self, msg_type, device_id, buffer_type, address, size, when_ns=None, stack_id=0, flags=0):
        return protocol.pack(msg_type, device_id, size=size, buffer_type=buffer_type,
                             process_id=self._pid, buffer_id=address,
                             timestamp=when_ns if when_ns is not None else time.time_ns(),
                             payload=protocol.pack_alloc(stack_id, flags))

    # ---- Python stacks ----

    def _capture_stack(self):
        """The id of the caller's stack (outside this package), defining it
        on first sight; 0 when stacks are off or the table is full. The key
        is each frame's code object's id and instruction offset (cheap to
        read and hash, where a code object hashes its whole contents; the
        table keeps the code objects, so their ids stay theirs); line
        numbers are looked up only for a stack not seen before."""
        if not self.stack_traces:
            return 0
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
            f = f.f_back
        top, key, depth = f, [], 0
        while f is not None and depth < protocol.STACK_MAX_DEPTH:
            key.append((id(f.f_code), f.f_lasti))
            f = f.f_back
            depth += 1
        key = tuple(key)
        stack_id = self._stack_ids.get(key)
        if stack_id is None:
            if not key or len(self._stack_ids) >= MAX_STACKS:
                return 0
            stack_id = len(self._stack_ids) + 1
            self._stack_ids[key] = stack_id
            texts, codes, f = [], [], top
            for _ in key:
                texts.append(_frame_text(f.f_code, f.f_lineno))
                codes.append(f.f_code)
                f = f.f_back
            self._stack_texts[stack_id] = texts
            self._stack_codes.append(codes)
        return stack_id

    def _stack_frames(self, stack_id):
        """STACK_TEXT frames of a stack the current connection has not seen (b"" otherwise)."""
        if not stack_id or stack_id in self._stacks_sent:
            return b""
        self._stacks_sent.add(stack_id)
        texts = self._stack_texts[stack_id]
        return b"".join(protocol.pack(protocol.STACK_TEXT, len(texts), size=stack_id, buffer_type=i,
                                      process_id=self._pid, payload=protocol.pack_text(text))
                        for i, text in enumerate(texts))

    def _send(self, data):
        try:
            self._sock.sendall(data)
            return True
        except OSError as e:
            self._disconnect("lost the server at %s: %s" % (self.socket_path, e))
            return False

    def _await(self, answer_type, match=None):
        """Reads frames until one of answer_type (and match(frame) true)."""
        self._sock.settimeout(self.answer_timeout)
        try:
            while True:
                msg = protocol.unpack_header(_recv_exact(self._sock, MSG_SIZE))
                if msg["type"] == protocol.ERROR:
                    self.last_error = protocol.unpack_error(msg["payload"])["message"]
                    continue
                if msg["type"] == answer_type and (match is None or match(msg)):
                    return msg
        except (OSError, ConnectionError) as e:
            self._disconnect("no %s from the server at %s: %s"
                             % (protocol.type_name(answer_type), self.socket_path, e))
            return None
        finally:
            if self._sock is not None:
                self._sock.settimeout(self.SEND_TIMEOUT)

    def _ensure_connected(self):
        """Connects (HELLO, then re-sends the table) when the backoff allows."""
        if self._sock is not None:
            return True
        now = time.monotonic()
        if now < self._next_connect:
            return False
        self._next_connect = now + self.reconnect_interval
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.SEND_TIMEOUT)
        try:
            sock.connect(self.socket_path)
        except OSError as e:
            sock.close()
            self.last_error = explain_connect_error(self.socket_path, e)
            return False
        self._sock = sock
        # instance and epoch: the server drops what an older connection of
        # ours left unread and what we reported before; the table follows
        hello = protocol.pack(protocol.HELLO, -1, process_id=self._pid,
                              payload=protocol.pack_hello(
                                  session=self.session, instance=self._instance, epoch=self._epoch,
                                  log_level=protocol.log_level_code(os.environ.get("TT_METAL_LOGGER_LEVEL"))))
        self._epoch += 1
        ack = self._send(hello) and self._await(protocol.HELLO_ACK)
        if not ack:
            return False
        hello = protocol.unpack_hello(ack["payload"])
        self._server_features = hello["features"]
        if 0 < hello["num_devices"] <= protocol.MAX_DEVICES:
            self.server_devices = hello["num_devices"]  # reports are checked against it
        self._stacks_sent = set()
        frames = b"".join(self._stack_frames(stack) +
                          self._frame(protocol.ALLOC, dev, btype, addr, size, when, stack, protocol.ALLOC_RESYNC)
                          for (dev, addr), (btype, size, when, stack) in self._table.items())
        if frames and not self._send(frames):
            return False
        self.connects += 1
        return True

    def _deliver(self, frame, after_resync=False, stack_id=0):
        """Sends one event (after its stack's definition, when the
        connection has not seen it), or connects, which re-sends the table:
        that covers an ALLOC and a FREE of a known buffer. `after_resync`
        frames (a FREE of a buffer not in the table, a request) are sent
        after the re-sent table, so the server still sees them."""
        if self._sock is None:
            return self._ensure_connected() and (not after_resync or
                                                 self._send(self._stack_frames(stack_id) + frame))
        if self._send(self._stack_frames(stack_id) + frame):
            return True
        # The connection broke (server restarted?): one immediate retry,
        # which re-sends the table.
        self._next_connect = 0.0
        return self._ensure_connected() and (not after_resync or
                                             self._send(self._stack_frames(stack_id) + frame))

    def _check_server_device(self, device_id):
        """Raises ValueError (and counts it) for a device the last server reached does not have. Lock held."""
        if self.server_devices and device_id >= self.server_devices:
            self.refused_device += 1
            raise ValueError("device_id %d: the allocation server at %s has devices 0..%d"
                             % (device_id, self.socket_path, self.server_devices - 1))

    # ---- public API ----

    def report_alloc(self, device_id, buffer_type, address, size):
        """Records and reports a buffer of `size` bytes at `address`."""
        device_id, buffer_type, address, size = (int(device_id), int(buffer_type),
                                                 int(address), int(size))
        _check_device_and_type(device_id, buffer_type)
        if size <= 0 or not 0 <= address < 1 << 64 or size >= 1 << 64:
            raise ValueError("bad buffer: address 0x%x, size %d" % (address, size))
        if not self.enabled:
            return False
        with self._lock:
            self._check_fork()
            self._check_server_device(device_id)
            self._start_watcher()
            now = time.time_ns()
            stack_id = self._capture_stack()
            old = self._table.get((device_id, address))
            self._table[(device_id, address)] = (buffer_type, size, now, stack_id)
            if old is not None:
                self._account(device_id, old[0], -old[1])
            self._account(device_id, buffer_type, size)
            return self._deliver(self._frame(protocol.ALLOC, device_id, buffer_type, address,
                                             size, now, stack_id), stack_id=stack_id)

    def report_free(self, device_id, address):
        """Forgets and reports the buffer at `address` on `device_id`."""
        device_id, address = int(device_id), int(address)
        if not 0 <= device_id < protocol.MAX_DEVICES:
            raise ValueError("device_id %d out of range 0..%d" % (device_id, protocol.MAX_DEVICES - 1))
        if not self.enabled:
            return False
        with self._lock:
            self._check_fork()
            self._check_server_device(device_id)
            self._start_watcher()
            entry = self._table.pop((device_id, address), None)
            known = entry is not None
            if known:
                self._account(device_id, entry[0], -entry[1])
            stack_id = self._capture_stack()  # a double free shows where it happened
            # An unknown buffer is still reported: the server's counters see it.
            return self._deliver(self._frame(protocol.FREE, device_id, 0, address, 0, stack_id=stack_id),
                                 after_resync=not known, stack_id=stack_id)

    def alloc_failed(self, device_id, buffer_type, size):
        """Reports that an allocation of `size` bytes of `buffer_type` on
        `device_id` failed in this process's allocator: the server keeps a
        post-mortem of the moment (GET /api/oom, tt_smi --oom). Returns True
        once the server has it (a SYNC round trip), False without a server."""
        device_id, buffer_type, size = int(device_id), int(buffer_type), int(size)
        _check_device_and_type(device_id, buffer_type)
        if not 0 < size <= protocol.MAX_REQUEST:
            raise ValueError("size %d is not 1..%d" % (size, protocol.MAX_REQUEST))
        if not self.enabled:
            return False
        with self._lock:
            self._check_fork()
            self._check_server_device(device_id)
            self._start_watcher()
            stack_id = self._capture_stack()
            frame = self._frame(protocol.ALLOC_FAILED, device_id, buffer_type, 0, size, stack_id=stack_id)
            return self._deliver(frame, after_resync=True, stack_id=stack_id) and self._sync()

    def mark(self, label):
        """Records a named point in the server's timeline (after everything
        this reporter sent before): GET /api/diff?from=A&to=B says what was
        allocated and freed between two marks. `label`: 1..71 bytes of text
        without control characters, else ValueError. Returns True once the
        server has it, False without a server."""
        if not protocol.text_valid(label):
            raise ValueError("a mark label is 1..%d bytes of text without control characters"
                             % protocol.TEXT_MAX)
        if not self.enabled:
            return False
        with self._lock:
            self._check_fork()
            self._start_watcher()
            frame = protocol.pack(protocol.MARK, -1, process_id=self._pid, timestamp=time.time_ns(),
                                  payload=protocol.pack_text(label))
            return self._deliver(frame, after_resync=True) and self._sync()

    def flush(self):
        """True once the server has processed every earlier report (SYNC/SYNC_ACK)."""
        if not self.enabled:
            return False
        with self._lock:
            self._check_fork()
            self._start_watcher()
            return self._ensure_connected() and self._sync()

    def _sync(self):
        """SYNC/SYNC_ACK on the current connection. Lock held, connected."""
        self._sequence += 1
        seq = self._sequence
        if not self._send(protocol.pack(protocol.SYNC, -1, size=seq, process_id=self._pid)):
            return False
        return self._await(protocol.SYNC_ACK, lambda m: m["size"] == seq) is not None

    def close(self):
        """Flushes and closes the connection. Buffers still live stay in the
        table (and are reported as leaked by the server when this process
        has no other connection open). Stops the watcher thread."""
        with self._lock:
            self._check_fork()
            if self._sock is not None:
                self.flush()
                if self._server_features & protocol.FEATURE_SESSIONS and self._sock is not None:
                    # on purpose: what is still live is this process's leak at its last close
                    self._send(protocol.pack(protocol.GOODBYE, -1, process_id=self._pid))
            self._stop_watcher()
            self._disconnect()
            self._next_connect = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Every Reporter, for the fork handlers: a child must not inherit a lock that
# another thread (the watcher) held at the fork.
_reporters = weakref.WeakSet()
_forking = []


def _before_fork():
    _forking[:] = list(_reporters)
    for r in _forking:
        r._lock.acquire()


def _after_fork_in_parent():
    for r in _forking:
        r._lock.release()
    _forking.clear()


def _after_fork_in_child():
    for r in _forking:
        r._lock = threading.RLock()
    _forking.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)

_default_reporter = None
_default_lock = threading.Lock()


def default_reporter():
    """The process-wide Reporter, enabled when TT_ALLOC_TRACKING_ENABLED=1."""
    global _default_reporter
    with _default_lock:
        if _default_reporter is None:
            _default_reporter = Reporter(enabled=tracking_enabled())
            if _default_reporter.enabled:
                # GOODBYE at a normal exit: what is still live is this process's
                # leak now, not after the server notices the exit. Handlers
                # registered later (the simulated tt_metal's device close) run first.
                atexit.register(_default_reporter.close)
        return _default_reporter


def mark(label, socket_path=None):
    """Records a named point in the server's timeline (GET /api/diff?from=A&to=B
    compares two). Through the default Reporter when tracking is enabled
    (so every buffer this process reported before comes before the mark),
    else over a connection of its own. ValueError for a bad label;
    ServerNotRunning (no Reporter) or False (Reporter) without a server."""
    rep = default_reporter()
    if socket_path is None and rep.enabled:
        return rep.mark(label)
    return send_mark(label, socket_path)
