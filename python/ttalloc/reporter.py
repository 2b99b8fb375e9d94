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
import ctypes
import hashlib
import os
import socket
import sys
import threading
import time
import weakref

from . import library as _library
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


def _stack_id_of(texts):
    """A stack's id, from its frames' text as libttalloc's come from their
    addresses: the server keeps stacks per process, so two Reporters (or a
    Reporter and libttalloc) of one process must not both call theirs 1."""
    digest = hashlib.blake2b("\n".join(texts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


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

    `library`: None (default) reports through libttalloc when it is
    installed and can serve this reporter (see the module docstring), False
    never, True requires it (ValueError when it cannot). The `library`
    attribute says which: True when libttalloc carries the reports.
    """

    SEND_TIMEOUT = 2.0
    WATCH_INTERVAL = 0.2

    def __new__(cls, socket_path=None, enabled=True, reconnect_interval=1.0, answer_timeout=5.0, session=None,
                watch=True, stack_traces=None, library=None):
        if cls is Reporter and library is not False and _LibReporter.can_serve(
                socket_path, enabled, reconnect_interval, answer_timeout, session, stack_traces, library):
            cls = _LibReporter
        return super().__new__(cls)

    def __init__(self, socket_path=None, enabled=True, reconnect_interval=1.0,
                 answer_timeout=5.0, session=None, watch=True, stack_traces=None, library=None):
        if library is True:
            raise ValueError("Reporter(library=True): libttalloc cannot serve this reporter (%s)"
                             % _LibReporter.refusal)
        self.library = False  # reports go out from Python (see _LibReporter)
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
            texts, codes, f = [], [], top
            for _ in key:
                texts.append(_frame_text(f.f_code, f.f_lineno))
                codes.append(f.f_code)
                f = f.f_back
            stack_id = _stack_id_of(texts)
            self._stack_ids[key] = stack_id
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

    def _ready_to_report(self, device_id):
        """Before a report on `device_id` (lock held): a forked child's own
        state, the server's device list, the watcher thread running."""
        self._check_fork()
        self._check_server_device(device_id)
        self._start_watcher()

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
            self._ready_to_report(device_id)
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
            self._ready_to_report(device_id)
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
            self._ready_to_report(device_id)
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


# One past the largest address or size (the library takes 64-bit values).
_ADDRESS_END = 1 << 64


class _LibReporter(Reporter):
    """A Reporter whose events go through libttalloc (ctypes): the library
    keeps the live table the server is re-sent after a reconnect, and its
    ring carries the events. This class keeps a Python copy of the table
    for live_table(), usage() and peak watches, updated after each call.

    What differs from the pure Python Reporter, by necessity: the library
    reads its socket, session and tracking switch from the environment when
    first used (can_serve() admits only reporters that ask for the same),
    reconnects on its own timings, and its watcher thread always runs."""

    refusal = "not tried"  # why can_serve() last said no
    _owner = None          # weakref to the live _LibReporter: one per process

    @classmethod
    def can_serve(cls, socket_path, enabled, reconnect_interval, answer_timeout, session, stack_traces, library):
        lib = _library.load()
        if lib is None:
            cls.refusal = _library.why
        elif not enabled or not tracking_enabled():
            cls.refusal = "tracking is off (%s is not 1)" % protocol.TRACKING_ENV
        elif stack_traces or (stack_traces is None and os.environ.get(STACK_TRACE_ENV) == "1"):
            cls.refusal = "Python stacks (%s=1) are captured in Python" % STACK_TRACE_ENV
        elif reconnect_interval != 1.0 or answer_timeout != 5.0:
            cls.refusal = "the library has its own reconnect and answer timings"
        elif session is not None and session != os.environ.get(protocol.SESSION_ENV, ""):
            cls.refusal = "the library's session is $%s" % protocol.SESSION_ENV
        elif cls._owner is not None and cls._owner() is not None:
            cls.refusal = "another Reporter of this process uses the library"
        else:
            lib.ttalloc_init()
            st = _library.stats(lib)
            if not lib.ttalloc_enabled():
                cls.refusal = "the library was started with tracking off"
            elif st.socket_path.decode("utf-8", "replace") != _resolve(socket_path):
                cls.refusal = "the library reports to %s" % st.socket_path.decode("utf-8", "replace")
            else:
                return True
        return False

    def __init__(self, socket_path=None, enabled=True, reconnect_interval=1.0, answer_timeout=5.0, session=None,
                 watch=True, stack_traces=None, library=None):
        lib = _library.load()
        self._lib = lib
        self._alloc = lib.ttalloc_report_alloc
        self._free = lib.ttalloc_report_free
        self.library = True
        self._path = socket_path
        self.session = session if session is not None else os.environ.get(protocol.SESSION_ENV, "")
        self.reconnect_interval = reconnect_interval
        self.answer_timeout = answer_timeout
        self.watch = bool(watch)
        self.stack_traces = False
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._table = {}          # (device_id, address) -> (buffer_type, size)
        self._peak_watches = []
        self._usage = None        # (device_id, buffer_type) -> bytes, kept while a watch is on
        self._closed = False      # close() shut the library down: the next report re-sends the table
        self._enabled = bool(enabled)
        self._ready = self._enabled
        type(self)._owner = weakref.ref(self)
        _reporters.add(self)

    # ---- what the library knows ----

    @property
    def enabled(self):
        return self._enabled

    @enabled.setter
    def enabled(self, value):
        self._enabled = bool(value)
        self._ready = self._enabled and not self._closed

    @property
    def socket_path(self):
        return _library.stats(self._lib).socket_path.decode("utf-8", "replace")

    @property
    def connected(self):
        return bool(_library.stats(self._lib).connected)

    @property
    def connects(self):
        return _library.stats(self._lib).connections

    @property
    def server_devices(self):
        return _library.stats(self._lib).server_devices

    @property
    def refused_device(self):
        return _library.stats(self._lib).refused_device

    @property
    def last_error(self):
        return _library.last_error(self._lib)

    @property
    def live_buffers(self):
        return len(self._table)

    def live_table(self):
        return dict(self._table)

    def usage(self, device_id, buffer_type):
        key = (int(device_id), int(buffer_type))
        with self._lock:
            if self._usage is not None:
                return self._usage.get(key, 0)
            return sum(size for (dev, _), (btype, size) in self._table.items() if (dev, btype) == key)

    def watch_peaks(self):
        with self._lock:  # the bytes per (device, type) are kept only while a watch is on
            if self._usage is None:
                self._usage = {}
                for (dev, _), (btype, size) in self._table.items():
                    self._usage[dev, btype] = self._usage.get((dev, btype), 0) + size
            return Reporter.watch_peaks(self)

    def _unwatch(self, watch):
        with self._lock:
            Reporter._unwatch(self, watch)
            if not self._peak_watches:
                self._usage = None

    def _check_fork(self):
        if os.getpid() != self._pid:  # the library starts the child empty (pthread_atfork); so do we
            self._pid = os.getpid()
            self._table = {}
            self._peak_watches = []
            self._usage = None

    # ---- reports: the library's result codes to the Reporter's ----

    def _refuse(self, rc, device_id):
        """Raises ValueError for EINVAL and ENODEV; False otherwise (not delivered)."""
        if rc == _library.ENODEV:
            raise ValueError("device_id %d: the allocation server at %s has devices 0..%d"
                             % (device_id, self.socket_path, self.server_devices - 1))
        if rc == _library.EINVAL:
            raise ValueError("invalid report (device_id %d): %s" % (device_id, "device ids are 0..%d, buffer "
                             "types 0..%d, sizes at least 1" % (protocol.MAX_DEVICES - 1, protocol.BUFFER_TYPES - 1)))
        return False

    def _slow_path(self):
        """Before a report that cannot take the fast path: False when disabled; after close(),
        the table is given to the library again (as a pure Python Reporter re-sends it)."""
        if not self._enabled:
            return False
        with self._lock:
            self._check_fork()
            if self._closed:
                self._closed = False
                self._ready = True
                for (dev, addr), (btype, size) in list(self._table.items()):
                    self._alloc(dev, btype, addr, size)
        return True

    def _account(self, device_id, buffer_type, delta):
        if self._usage is not None:
            Reporter._account(self, device_id, buffer_type, delta)

    # The fast path of each report is the library's call and one update of
    # the Python table (no lock: each is one dict operation under the GIL);
    # the rest (disabled, after close(), peak watches on, an error, a value
    # ctypes does not take) goes the slow way, with the pure Reporter's checks.

    def report_alloc(self, device_id, buffer_type, address, size):
        """Records and reports a buffer of `size` bytes at `address`."""
        if self._ready and -1 < address < _ADDRESS_END and 0 < size < _ADDRESS_END:
            try:
                rc = self._alloc(device_id, buffer_type, address, size)
            except ctypes.ArgumentError:
                rc = None
            if rc == 0 and not self._peak_watches:
                self._table[device_id, address] = (buffer_type, size)
                return True
            if rc is not None:
                return self._alloc_done(rc, device_id, buffer_type, address, size)
        return self._alloc_slow(device_id, buffer_type, address, size)

    def _alloc_slow(self, device_id, buffer_type, address, size):
        device_id, buffer_type, address, size = int(device_id), int(buffer_type), int(address), int(size)
        _check_device_and_type(device_id, buffer_type)
        if size <= 0 or not 0 <= address < 1 << 64 or size >= 1 << 64:
            raise ValueError("bad buffer: address 0x%x, size %d" % (address, size))
        if not self._slow_path():
            return False
        return self._alloc_done(self._alloc(device_id, buffer_type, address, size), device_id, buffer_type, address,
                                size)

    def _alloc_done(self, rc, device_id, buffer_type, address, size):
        """The table after the library's answer `rc` to an ALLOC."""
        if rc < 0 and rc != _library.ENOSERVER and rc != _library.EDUPLICATE:
            return self._refuse(rc, device_id)
        with self._lock:
            old = self._table.get((device_id, address))
            self._table[device_id, address] = (buffer_type, size)
            if old is not None:
                self._account(device_id, old[0], -old[1])
            self._account(device_id, buffer_type, size)
        return rc != _library.ENOSERVER

    def report_free(self, device_id, address):
        """Forgets and reports the buffer at `address` on `device_id`."""
        if self._ready and -1 < address < _ADDRESS_END:
            try:
                rc = self._free(device_id, address)
            except ctypes.ArgumentError:
                rc = None
            if rc == 0 and not self._peak_watches:
                self._table.pop((device_id, address), None)
                return True
            if rc is not None:
                return self._free_done(rc, device_id, address)
        return self._free_slow(device_id, address)

    def _free_slow(self, device_id, address):
        device_id, address = int(device_id), int(address)
        if not 0 <= device_id < protocol.MAX_DEVICES:
            raise ValueError("device_id %d out of range 0..%d" % (device_id, protocol.MAX_DEVICES - 1))
        if not 0 <= address < 1 << 64:
            raise ValueError("bad address %d" % address)
        if not self._slow_path():
            return False
        return self._free_done(self._free(device_id, address), device_id, address)

    def _free_done(self, rc, device_id, address):
        """The table after the library's answer `rc` to a FREE (of a buffer it did not know: still sent)."""
        if rc < 0 and rc != _library.ENOSERVER and rc != _library.EUNKNOWN_BUFFER:
            return self._refuse(rc, device_id)
        with self._lock:
            entry = self._table.pop((device_id, address), None)
            if entry is not None:
                self._account(device_id, entry[0], -entry[1])
        return rc != _library.ENOSERVER

    def alloc_failed(self, device_id, buffer_type, size):
        device_id, buffer_type, size = int(device_id), int(buffer_type), int(size)
        _check_device_and_type(device_id, buffer_type)
        if not 0 < size <= protocol.MAX_REQUEST:
            raise ValueError("size %d is not 1..%d" % (size, protocol.MAX_REQUEST))
        if not self._slow_path():
            return False
        rc = self._lib.ttalloc_report_alloc_failed(device_id, buffer_type, size)
        return rc == 0 or self._refuse(rc, device_id)

    def mark(self, label):
        if not protocol.text_valid(label):
            raise ValueError("a mark label is 1..%d bytes of text without control characters"
                             % protocol.TEXT_MAX)
        if not self._slow_path():
            return False
        return self._lib.ttalloc_mark(label.encode("utf-8")) == 0

    def flush(self):
        if not self._slow_path():
            return False
        return self._lib.ttalloc_flush() == 0

    def close(self):
        """Flushes and closes the library's connection, saying GOODBYE, as
        the pure Python Reporter does; the table stays and is given to the
        library again at the next report. Where another ttalloc library in
        the process shares libttalloc (libttalloc_ttmetal), its connection
        is theirs too: close() only flushes."""
        with self._lock:
            self._check_fork()
            if self._closed:
                return
            if _library.others_loaded():
                self._lib.ttalloc_flush()
                return
            self._lib.ttalloc_shutdown()
            self._closed = True
            self._ready = False


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
        if isinstance(r, _LibReporter):
            r._check_fork()  # its fast path never looks
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
