"""Bad input from one peer gets a clear line in the server log and never
stops the server from serving everyone else."""

import random
import time

import pytest

from conftest import MiB, raw_socket, recv_frame, sync
import ttalloc
from ttalloc import protocol


@pytest.fixture
def baseline(server, reporter_client):
    """A well-behaved client holding 5 MiB DRAM + 1 MiB L1 on device 0."""
    client = reporter_client(server)
    for line in ("alloc 0 0 0x800000000 %d" % (5 * MiB), "alloc 0 1 0x10000 %d" % MiB, "flush"):
        assert client.command(line).group(1) == "1"
    return client


def assert_still_serving(server):
    """Another client's QUERY is answered, with the baseline totals."""
    q = server.query(0)
    assert (q["dram_allocated"], q["l1_allocated"]) == (5 * MiB, MiB)
    assert server.alive()


def assert_refused(server, frames, *log_lines):
    """`frames` from a connection of their own, then a SYNC that is answered
    (the stream stays in step after bad frames): each of `log_lines` (regular
    expressions) comes in the server log, and the server still serves."""
    mark = server.mark()
    with raw_socket(server.socket) as s:
        for frame in frames:
            s.sendall(frame)
        sync(s)
    for line in log_lines:
        server.wait_for_log(line, since=mark)
    assert_still_serving(server)


def test_truncated_message_is_logged_and_server_keeps_serving(server, baseline):
    mark = server.mark()
    with raw_socket(server.socket) as s:
        s.sendall(protocol.pack(protocol.ALLOC, 0, size=MiB, buffer_id=0x1234)[:50])
    server.wait_for_log(r"❌ PID \d+: connection closed in the middle of a message: "
                        r"50 of 112 bytes of a message, then end of stream", since=mark)
    assert_still_serving(server)


def test_unknown_message_type_77_is_logged_and_server_keeps_serving(server, baseline):
    assert_refused(server, [protocol.pack(77, 0)], r"❌ PID \d+: unknown message type: type 77\b")


def test_alloc_on_device_out_of_range_is_rejected_naming_the_device(server, baseline):
    assert_refused(server, [protocol.pack(protocol.ALLOC, 9, size=MiB, buffer_type=ttalloc.DRAM,
                                          buffer_id=0x800000000)],
                   r"❌ PID \d+: device id out of range: ALLOC for device 9; devices are 0\.\.1")


def test_alloc_with_buffer_type_9_is_rejected(server, baseline):
    assert_refused(server, [protocol.pack(protocol.ALLOC, 0, size=MiB, buffer_type=9, buffer_id=0xabc000)],
                   r"❌ PID \d+: buffer type is not 0\.\.6: ALLOC with buffer type 9 at 0xabc000")


def test_alloc_larger_than_the_device_is_rejected(server, baseline):
    assert_refused(server,
                   [protocol.pack(protocol.ALLOC, 0, size=13 * 1024**3, buffer_type=ttalloc.DRAM, buffer_id=0x1000),
                    protocol.pack(protocol.ALLOC, 0, size=0, buffer_type=ttalloc.DRAM, buffer_id=0x2000)],
                   r"❌ PID \d+: size is zero or larger than the device memory: ALLOC of "
                   r"13958643712 bytes DRAM on device 0",
                   r"ALLOC of 0 bytes DRAM on device 0")


def test_one_kib_of_random_garbage_is_survived(server, baseline):
    garbage = random.Random(20261125).randbytes(1024)
    mark = server.mark()
    with raw_socket(server.socket) as s:
        s.sendall(garbage)
    # 1024 = 9 frames + 16 bytes: the tail is a truncated message
    server.wait_for_log(r"16 of 112 bytes of a message, then end of stream", since=mark)
    assert "❌" in server.log()[mark:]
    assert_still_serving(server)
    assert server.query(1) == {"device_id": 1, "dram_allocated": 0, "l1_allocated": 0,
                               "l1_small_allocated": 0, "trace_allocated": 0}


def test_a_silent_client_does_not_block_others(server, baseline):
    with raw_socket(server.socket) as silent, raw_socket(server.socket) as half:
        half.sendall(protocol.pack(protocol.QUERY, 0)[:30])  # and then nothing
        start = time.monotonic()
        for _ in range(5):
            assert_still_serving(server)
        assert time.monotonic() - start < 2.0
        silent.sendall(protocol.pack(protocol.QUERY, 1))
        assert recv_frame(silent)["type"] == protocol.RESPONSE


def test_free_of_another_process_buffer_is_rejected(server, baseline, reporter_client):
    mark = server.mark()
    intruder = reporter_client(server)
    assert intruder.command("free 0 0x800000000").group(1) == "1"
    assert intruder.command("flush").group(1) == "1"
    server.wait_for_log(r"❌ PID %d: FREE of a buffer owned by another process: FREE of buffer "
                        r"0x800000000 on device 0, which PID %d owns; rejected"
                        % (intruder.pid, baseline.pid), since=mark)
    assert_still_serving(server)


def test_claiming_another_pid_in_the_frame_is_rejected(server, baseline):
    assert_refused(server,
                   [protocol.pack(protocol.FREE, 0, process_id=baseline.pid, buffer_id=0x800000000),
                    protocol.pack(protocol.ALLOC, 0, size=MiB, process_id=baseline.pid, buffer_id=0x900000000)],
                   r"FREE claims PID %d but the connection belongs to PID \d+ \(SO_PEERCRED\); "
                   r"rejected" % baseline.pid,
                   r"ALLOC claims PID %d" % baseline.pid)


def test_seed_query_of_device_5_gets_no_answer_and_the_connection_closes(server, baseline):
    # the seed's clients then raise, which is what the seed's dashboard loop
    # (`for i in range(8): try ... except: break`) counts devices with
    mark = server.mark()
    with raw_socket(server.socket) as s:
        s.sendall(protocol.pack(protocol.QUERY, 5))
        assert s.recv(112) == b""  # end of stream, no frame
    server.wait_for_log(r"device id out of range: QUERY for device 5", since=mark)
    with pytest.raises(ValueError, match="device 5 does not exist"):
        server.query(5)
    assert_still_serving(server)


def test_answer_types_sent_to_the_server_are_refused(server, baseline):
    assert_refused(server, [protocol.pack(protocol.RESPONSE, 0)],
                   r"message type only the server sends: RESPONSE \(type 4\) is sent by the "
                   r"server, not to it")


def test_extension_errors_come_back_as_error_frames(server, baseline):
    with raw_socket(server.socket) as s:
        s.sendall(protocol.pack(protocol.DEVICE_STATUS_QUERY, 7))
        ans = recv_frame(s)
    assert ans["type"] == protocol.ERROR
    err = protocol.unpack_error(ans["payload"])
    assert protocol.ERROR_REASONS[err["reason"]] == "bad_device"
    assert "device id out of range" in err["message"]
    with pytest.raises(ValueError, match="device 7 does not exist: devices are 0..1"):
        ttalloc.device_status(7, socket_path=server.socket)
    assert_still_serving(server)
