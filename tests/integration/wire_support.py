"""Raw-socket helpers every integration test shares, standard library only:
http_support.py also runs as a client script that has no ttalloc package.

The server handles the frames of one connection in order, so a SYNC
answered by its SYNC_ACK is a barrier: every frame sent before it on that
connection has been handled. Use sync() where a test would otherwise sleep
to let frames "arrive", and also to show that a frame was NOT applied
(send it, sync(), then look).
"""

import struct

# The seed's 112-byte frame (ttalloc.protocol.FRAME, src/common/protocol.h).
FRAME = struct.Struct("=BBBB i Q BBBB i Q Q QQQQ QQIIIIII")
SYNC, SYNC_ACK = 130, 131


def recv_exact(sock, n=FRAME.size):
    """Exactly `n` bytes (default: one frame); ConnectionError when the
    server closes the connection first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def sync(sock, seq=1):
    """Sends SYNC carrying `seq` and reads up to the SYNC_ACK that carries it
    back: then the server has handled everything sent before on `sock`.
    Returns the frames (bytes) the server sent before that ACK."""
    sock.sendall(FRAME.pack(SYNC, 0, 0, 0, -1, seq, *([0] * 19)))
    before = []
    while True:
        frame = recv_exact(sock)
        if frame[0] == SYNC_ACK and FRAME.unpack(frame)[5] == seq:
            return before
        before.append(frame)
