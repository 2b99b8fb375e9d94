"""A simulated `tt_metal` module: device buffers without hardware.

Enough of tt-metal's Python surface for the seed's Multi-Process Example to
run verbatim on any Linux machine:

    export TT_ALLOC_TRACKING_ENABLED=1
    PYTHONPATH=python:python/sim python -c "
    import tt_metal as ttm
    device = ttm.CreateDevice(0)
    buffer1 = ttm.Buffer(device, size=1024*1024*100, buffer_type=ttm.BufferType.DRAM)
    "

Each device is a Wormhole_B0: 12 GiB DRAM, 1440 MiB L1. A Buffer takes
memory from a first-fit allocator (so freed space is reused and a full device
raises MemoryError, as a real allocator would) and, when
TT_ALLOC_TRACKING_ENABLED=1, reports ALLOC to the allocation server through
ttalloc's default Reporter, then flushes so monitors see it at once. FREE is
reported on Buffer.deallocate()/close()/`del` (when the object is collected)/
context-manager exit, and CloseDevice frees what is left. A process that
exits without CloseDevice leaves its buffers live: the server reports them as
leaked, which is what the leak detector is for (nothing is reported from
__del__ during interpreter shutdown).

Addresses. The server keys buffers by (device, address) and the seed's
monitors print the address, so two processes must never report the same
address on the same device. Each process gets its own 1 TiB window of the
64-bit address space, selected by its PID, with the seed's offsets inside:

    window            = pid << 40            (pid < 2**22, so below 2**62)
    L1, L1_SMALL      = window + 0x10000      .. + 1440 MiB,  32 B aligned
    DRAM, TRACE       = window + 0x800000000  .. + 12 GiB,    4 KiB aligned
    SYSTEM_MEMORY     = window + 0x8000000000 .. + 256 GiB,   4 KiB aligned

so the low 40 bits look like the seed's (0x10000 for L1, 0x800000000 for
DRAM) and the top bits name the process. L1_SMALL shares L1's capacity and
TRACE shares DRAM's, as in tt-metal (the regions are carved from them).
Reports carry the requested size; the allocator reserves it rounded up to
the alignment.

Environment: TT_METAL_SIM_NUM_DEVICES (default 2) sets how many devices
exist; TT_ALLOC_SERVER_SOCKET the server socket.
"""

import bisect
import enum
import os
import sys
import threading
import weakref

import ttalloc

__all__ = ["BufferType", "Device", "Buffer", "CreateDevice", "CloseDevice",
           "DeallocateBuffer", "GetNumAvailableDevices", "Arch"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

ARCH_NAME = "Wormhole_B0"
DRAM_SIZE = 12 * GiB
L1_SIZE = 1440 * MiB
SYSTEM_MEMORY_SIZE = 256 * GiB
DRAM_ALIGNMENT = 4 * KiB
L1_ALIGNMENT = 32

WINDOW_SHIFT = 40
L1_OFFSET = 0x10000
DRAM_OFFSET = 0x800000000
SYSTEM_MEMORY_OFFSET = 0x8000000000


class BufferType(enum.IntEnum):
    """tt-metal's BufferType; the values are the wire codes."""
    DRAM = 0
    L1 = 1
    SYSTEM_MEMORY = 2
    L1_SMALL = 3
    TRACE = 4


class Arch(enum.Enum):
    WORMHOLE_B0 = ARCH_NAME


def GetNumAvailableDevices():
    """Number of simulated devices ($TT_METAL_SIM_NUM_DEVICES, default 2)."""
    try:
        n = int(os.environ.get("TT_METAL_SIM_NUM_DEVICES", "2"))
    except ValueError:
        n = 2
    return max(1, min(n, 64))


class _RangeAllocator:
    """First-fit allocator over [base, base + capacity), with coalescing."""

    def __init__(self, name, base, capacity, alignment):
        self.name = name
        self.base = base
        self.capacity = capacity
        self.alignment = alignment
        self.free_starts = [base]        # sorted starts of free ranges
        self.free_sizes = {base: capacity}
        self.allocated = {}              # address -> reserved size
        self.used = 0

    def allocate(self, size, what, device_id):
        reserved = -(-size // self.alignment) * self.alignment
        for start in self.free_starts:
            avail = self.free_sizes[start]
            if avail >= reserved:
                del self.free_sizes[start]
                self.free_starts.remove(start)
                if avail > reserved:
                    rest = start + reserved
                    bisect.insort(self.free_starts, rest)
                    self.free_sizes[rest] = avail - reserved
                self.allocated[start] = reserved
                self.used += reserved
                return start
        raise MemoryError(
            "Out of Memory: Not enough space to allocate %d B %s buffer on device %d "
            "(%d B of %d B %s in use)"
            % (size, what, device_id, self.used, self.capacity, self.name))

    def free(self, address):
        size = self.allocated.pop(address)
        self.used -= size
        i = bisect.bisect_left(self.free_starts, address)
        # merge with the following free range
        if i < len(self.free_starts) and self.free_starts[i] == address + size:
            nxt = self.free_starts.pop(i)
            size += self.free_sizes.pop(nxt)
        # merge with the preceding free range
        if i > 0:
            prev = self.free_starts[i - 1]
            if prev + self.free_sizes[prev] == address:
                self.free_sizes[prev] += size
                return
        self.free_starts.insert(i, address)
        self.free_sizes[address] = size


_lock = threading.RLock()
_open_devices = {}  # device_id -> Device


def _reporter():
    r = ttalloc.default_reporter()
    return r if r.enabled else None


class Device:
    """One simulated Wormhole_B0 chip, open in this process."""

    def __init__(self, device_id):
        self._id = device_id
        self._open = True
        self._pid = os.getpid()
        window = self._pid << WINDOW_SHIFT
        l1 = _RangeAllocator("L1", window + L1_OFFSET, L1_SIZE, L1_ALIGNMENT)
        dram = _RangeAllocator("DRAM", window + DRAM_OFFSET, DRAM_SIZE, DRAM_ALIGNMENT)
        sysmem = _RangeAllocator("SYSTEM_MEMORY", window + SYSTEM_MEMORY_OFFSET,
                                 SYSTEM_MEMORY_SIZE, DRAM_ALIGNMENT)
        self._allocators = {BufferType.DRAM: dram, BufferType.TRACE: dram,
                            BufferType.L1: l1, BufferType.L1_SMALL: l1,
                            BufferType.SYSTEM_MEMORY: sysmem}
        self._buffers = weakref.WeakValueDictionary()  # address -> Buffer

    def id(self):
        return self._id

    def arch(self):
        return Arch.WORMHOLE_B0

    def dram_size(self):
        return DRAM_SIZE

    def l1_size(self):
        return L1_SIZE

    def is_open(self):
        return self._open

    def allocated_bytes(self, buffer_type):
        """Bytes reserved in the region that serves `buffer_type`."""
        return self._allocators[BufferType(buffer_type)].used

    def __repr__(self):
        return "<tt_metal.Device %d %s%s>" % (self._id, ARCH_NAME,
                                              "" if self._open else " (closed)")


def CreateDevice(device_id, *args, **kwargs):
    """Opens simulated device `device_id` (extra tt-metal arguments are accepted
    and ignored). Opening an open device returns the same Device."""
    device_id = int(device_id)
    count = GetNumAvailableDevices()
    if not 0 <= device_id < count:
        raise RuntimeError("device %d does not exist: %d simulated device(s), 0..%d"
                           % (device_id, count, count - 1))
    with _lock:
        dev = _open_devices.get(device_id)
        if dev is None or dev._pid != os.getpid():
            dev = Device(device_id)
            _open_devices[device_id] = dev
        return dev


def CloseDevice(device):
    """Frees every buffer still allocated on `device` and closes it."""
    with _lock:
        if not device._open:
            return True
        for buf in list(device._buffers.values()):
            buf.deallocate()
        device._open = False
        if _open_devices.get(device._id) is device:
            del _open_devices[device._id]
    return True


def DeallocateBuffer(buffer):
    buffer.deallocate()


class Buffer:
    """A buffer in a simulated device's memory.

    Buffer(device, size, buffer_type=BufferType.DRAM, page_size=None).
    Raises MemoryError when the device memory of that type is full.
    """

    def __init__(self, device, size, buffer_type=BufferType.DRAM, page_size=None):
        self._allocated = False
        if not isinstance(device, Device):
            raise TypeError("device must be a tt_metal.Device from CreateDevice()")
        if not device._open:
            raise RuntimeError("device %d is closed" % device._id)
        size = int(size)
        if size <= 0:
            raise ValueError("buffer size must be positive, got %d" % size)
        buffer_type = BufferType(buffer_type)
        self._device = device
        self._size = size
        self._type = buffer_type
        self._page_size = int(page_size) if page_size else size
        with _lock:
            self._address = device._allocators[buffer_type].allocate(size, buffer_type.name, device._id)
            self._allocated = True
            device._buffers[self._address] = self
        rep = _reporter()
        if rep is not None:
            rep.report_alloc(device._id, int(buffer_type), self._address, size)
            rep.flush()

    def address(self):
        return self._address

    def size(self):
        return self._size

    def page_size(self):
        return self._page_size

    def buffer_type(self):
        return self._type

    def device(self):
        return self._device

    def is_allocated(self):
        return self._allocated

    def deallocate(self):
        """Returns the memory and reports FREE. Calling it again does nothing."""
        with _lock:
            if not self._allocated:
                return
            self._allocated = False
            self._device._allocators[self._type].free(self._address)
            self._device._buffers.pop(self._address, None)
        rep = _reporter()
        if rep is not None:
            rep.report_free(self._device._id, self._address)
            rep.flush()

    close = deallocate

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deallocate()

    def __del__(self):
        # At interpreter shutdown the process is exiting: buffers it never
        # freed are the server's leak report, not a FREE.
        if getattr(self, "_allocated", False) and not sys.is_finalizing():
            try:
                self.deallocate()
            except Exception:
                pass

    def __repr__(self):
        return "<tt_metal.Buffer %s %d B at 0x%x on device %d%s>" % (
            self._type.name, self._size, self._address, self._device._id,
            "" if self._allocated else " (deallocated)")
