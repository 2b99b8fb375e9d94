"""A simulated `tt_metal` module: device buffers without hardware.

Enough of tt-metal's Python surface for the seed's Multi-Process Example to
run verbatim on any Linux machine:

    export TT_ALLOC_TRACKING_ENABLED=1
    PYTHONPATH=python:python/sim python -c "
    import tt_metal as ttm
    device = ttm.CreateDevice(0)
    buffer1 = ttm.Buffer(device, size=1024*1024*100, buffer_type=ttm.BufferType.DRAM)
    "

Each device is a Wormhole_B0: 12 GiB DRAM, 1440 MiB L1. Its memory is
handed out as tt-metal's allocator does (docs/TTMETAL.md, "The simulated
allocator", says where the real one differs):

  - one allocator per process, device and memory (each tt-metal process
    runs its own), so two processes get the same addresses;
  - a buffer is interleaved over the banks: DRAM over its 12 channels,
    L1 over its 960 cores. It takes the same bank-local range in every
    bank, its share of the size: ceil(size / banks) rounded up to the
    alignment (with `page_size`, tt-metal's rule: whole pages per bank);
  - addresses are bank-local, first fit from the bottom:

        DRAM, TRACE        0x800000000 .. + 1 GiB a bank, 32-byte alignment
        L1, L1_SMALL       0x10000     .. + 1.5 MiB a bank, 16-byte alignment
        SYSTEM_MEMORY      0x8000000000 .. + 256 GiB (host memory, not banked)

    (the seed's addresses: 0x800000000 for DRAM, 0x10000 for L1);
  - a buffer that does not fit raises OutOfMemoryError (a RuntimeError, as
    tt-metal's TT_FATAL is in Python, and a MemoryError) with tt-metal's
    message: "Out of Memory: Not enough space to allocate 1610612736 B DRAM
    buffer across 12 banks, where each bank needs to store 134217728 B, but
    bank size is 1073741824 B (allocated: ..., free: ..., largest free
    block: ... B)", and reports ALLOC_FAILED to the server, which keeps a
    post-mortem (GET /api/oom, tt_smi --oom).

The allocation server knows the same geometry (src/devices/sim.c), so its
address map and fragmentation figures are this allocator's.

When TT_ALLOC_TRACKING_ENABLED=1, a Buffer reports ALLOC to the allocation
server through ttalloc's default Reporter, then flushes so monitors see it
at once. FREE is reported on Buffer.deallocate()/close()/`del` (when the
object is collected)/context-manager exit, and CloseDevice frees what is
left. A process that exits without CloseDevice leaves its buffers live: the
server reports them as leaked, which is what the leak detector is for
(nothing is reported from __del__ during interpreter shutdown). With
TT_ALLOC_STACK_TRACE=1 each report carries the Python stack of the caller.

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
           "DeallocateBuffer", "GetNumAvailableDevices", "Arch", "OutOfMemoryError"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

ARCH_NAME = "Wormhole_B0"
DRAM_BANKS = 12
DRAM_BANK_SIZE = 1 * GiB
DRAM_BASE = 0x800000000
DRAM_ALIGNMENT = 32
L1_BANKS = 960
L1_BANK_SIZE = 1536 * KiB
L1_BASE = 0x10000
L1_ALIGNMENT = 16
DRAM_SIZE = DRAM_BANKS * DRAM_BANK_SIZE
L1_SIZE = L1_BANKS * L1_BANK_SIZE
SYSTEM_MEMORY_BASE = 0x8000000000
SYSTEM_MEMORY_SIZE = 256 * GiB
SYSTEM_MEMORY_ALIGNMENT = 4 * KiB


class BufferType(enum.IntEnum):
    """tt-metal's BufferType; the values are the wire codes."""
    DRAM = 0
    L1 = 1
    SYSTEM_MEMORY = 2
    L1_SMALL = 3
    TRACE = 4


class Arch(enum.Enum):
    WORMHOLE_B0 = ARCH_NAME


class OutOfMemoryError(RuntimeError, MemoryError):
    """An allocation that does not fit: tt-metal raises RuntimeError (its
    TT_FATAL); MemoryError too, for code written against the older sim."""


def GetNumAvailableDevices():
    """Number of simulated devices ($TT_METAL_SIM_NUM_DEVICES, default 2)."""
    try:
        n = int(os.environ.get("TT_METAL_SIM_NUM_DEVICES", "2"))
    except ValueError:
        n = 2
    return max(1, min(n, 64))


def _round_up(value, unit):
    return -(-value // unit) * unit


class _BankAllocator:
    """tt-metal's BankManager, simplified: one first-fit free list (lowest
    address first, coalescing) over one bank's range [base, base + bank_size);
    a buffer takes the same range in each of `banks` banks."""

    def __init__(self, name, base, bank_size, banks, alignment):
        self.name = name
        self.base = base
        self.bank_size = bank_size
        self.banks = banks
        self.alignment = alignment
        self.free_starts = [base]        # sorted starts of free ranges
        self.free_sizes = {base: bank_size}
        self.allocated = {}              # address -> bytes taken in each bank
        self.used = 0                    # bytes taken in each bank

    def share(self, size, page_size=None):
        """Bytes a buffer takes in each bank (tt-metal's calculate_bank_size_spread)."""
        if not page_size:
            return _round_up(-(-size // self.banks), self.alignment)
        pages = -(-size // page_size)
        return -(-pages // self.banks) * _round_up(page_size, self.alignment)

    def largest_free(self):
        return max(self.free_sizes.values(), default=0)

    def allocate(self, size, what, page_size=None):
        share = self.share(size, page_size)
        for start in self.free_starts:
            avail = self.free_sizes[start]
            if avail >= share:
                del self.free_sizes[start]
                self.free_starts.remove(start)
                if avail > share:
                    rest = start + share
                    bisect.insort(self.free_starts, rest)
                    self.free_sizes[rest] = avail - share
                self.allocated[start] = share
                self.used += share
                return start
        raise OutOfMemoryError(
            "Out of Memory: Not enough space to allocate %d B %s buffer across %d banks, where each bank "
            "needs to store %d B, but bank size is %d B (allocated: %d B, free: %d B, largest free block: "
            "%d B)" % (size, what, self.banks, share, self.bank_size, self.used,
                       self.bank_size - self.used, self.largest_free()))

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
        l1 = _BankAllocator("L1", L1_BASE, L1_BANK_SIZE, L1_BANKS, L1_ALIGNMENT)
        dram = _BankAllocator("DRAM", DRAM_BASE, DRAM_BANK_SIZE, DRAM_BANKS, DRAM_ALIGNMENT)
        sysmem = _BankAllocator("SYSTEM_MEMORY", SYSTEM_MEMORY_BASE, SYSTEM_MEMORY_SIZE, 1,
                                SYSTEM_MEMORY_ALIGNMENT)
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
        """Bytes reserved in the region that serves `buffer_type` (all banks)."""
        alloc = self._allocators[BufferType(buffer_type)]
        return alloc.used * alloc.banks

    def largest_free_block(self, buffer_type):
        """Bytes of the largest request of `buffer_type` that fits now (all banks)."""
        alloc = self._allocators[BufferType(buffer_type)]
        return alloc.largest_free() * alloc.banks

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
    Raises OutOfMemoryError (a RuntimeError and a MemoryError) with
    tt-metal's message when it does not fit, after reporting ALLOC_FAILED.
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
        try:
            with _lock:
                self._address = device._allocators[buffer_type].allocate(size, buffer_type.name, int(page_size) if page_size else None)
                self._allocated = True
                device._buffers[self._address] = self
        except OutOfMemoryError:
            rep = _reporter()
            if rep is not None:
                rep.alloc_failed(device._id, int(buffer_type), size)
            raise
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
