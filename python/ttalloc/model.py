"""The data model's objects as dataclasses (docs/DATA_MODEL.md, schemas/).

    Device, Process, ProcessDevice, Buffer, LeakReport, LeakDevice,
    DeviceInfo, ClearedLeaks

Their fields have the names the HTTP API, tt_smi --json and ttalloc-run
--json use: dram_allocated, l1_allocated, ... (bytes), dram_capacity,
temperature_c, buffer_count, process_count, times in milliseconds since
the epoch, None where JSON has null. Two differences, both for Python's
sake: a Buffer's `address` is an int (JSON writes "0x..."), and `to_dict()`
gives the JSON form back (addresses as strings), which validates against
the schema of the same name.

from_json(obj) builds one from a document's object. Imports nothing of
the package.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import List, Optional

__all__ = ["Device", "Process", "ProcessDevice", "Buffer", "LeakReport", "LeakDevice", "DeviceInfo",
           "ClearedLeaks"]

# Live bytes per buffer type: the seed's four, then ttalloc's three.
USAGE_KEYS = ("dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated", "cb_allocated",
              "kernel_allocated", "system_memory_allocated")


class _Model:
    """from_json / to_dict for the dataclasses below. Fields listed in
    _OPTIONAL are keys only some documents have: to_dict() leaves them out
    when they are None."""

    _OPTIONAL = ()
    _NESTED = {}  # field -> dataclass of its list items

    @classmethod
    def from_json(cls, obj):
        """One object from a document's JSON object; keys it does not know are ignored."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in obj:
                continue
            value = obj[f.name]
            item = cls._NESTED.get(f.name)
            if item is not None and value is not None:
                value = [item.from_json(v) for v in value]
            elif f.name == "address" and isinstance(value, str):
                value = int(value, 16)
            kwargs[f.name] = value
        return cls(**kwargs)

    def to_dict(self):
        """The JSON form: the document's keys, addresses as "0x..." strings."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self._OPTIONAL:
                continue
            if f.name in self._NESTED and value is not None:
                value = [v.to_dict() for v in value]
            elif f.name == "address" and isinstance(value, int):
                value = "0x%x" % value
            out[f.name] = value
        return out


@dataclass(kw_only=True)
class _Usage:
    """Live bytes per buffer type (USAGE_KEYS), keyword-only: the seed's
    four, then ttalloc's three. None where a row cannot know (a process
    the kernel alone sees)."""

    dram_allocated: Optional[int] = 0
    l1_allocated: Optional[int] = 0
    l1_small_allocated: Optional[int] = 0
    trace_allocated: Optional[int] = 0
    cb_allocated: Optional[int] = 0
    kernel_allocated: Optional[int] = 0
    system_memory_allocated: Optional[int] = 0


@dataclass
class Device(_Usage, _Model):
    """A device as /api/devices shows it. Bytes are ints; readings the
    device does not give are None."""

    device_id: int
    name: Optional[str] = None
    arch: Optional[str] = None
    dram_capacity: Optional[int] = None
    l1_capacity: Optional[int] = None
    temperature_c: Optional[float] = None
    power_w: Optional[float] = None
    utilization_pct: Optional[int] = None
    process_count: int = 0
    buffer_count: int = 0
    simulated: bool = False
    serial: Optional[str] = None
    asic_id: Optional[str] = None
    pci_bus_id: Optional[str] = None
    card_type: Optional[str] = None
    uuid: Optional[str] = None
    driver_version: Optional[str] = None
    ttmetal_shm: Optional[dict] = None  # tt-metal's shared-memory regions of the device (a dict), or None

    _OPTIONAL = ("ttmetal_shm",)

    @property
    def stats(self):
        """The seed's query_device_stats() dict of this device."""
        return {k: getattr(self, k) for k in ("device_id",) + USAGE_KEYS[:4]}


@dataclass
class ProcessDevice(_Usage, _Model):
    """A process's use of one device (an item of Process.devices)."""

    device_id: int
    buffer_count: Optional[int] = None
    vanished: bool = False
    stale: Optional[bool] = None        # tt-metal shm rows
    region: Optional[str] = None        # tt-metal shm rows
    used_bytes: Optional[int] = None    # kernel rows: the driver's figure
    seen_by: Optional[List[str]] = None  # kernel rows

    _OPTIONAL = ("stale", "region", "used_bytes", "seen_by")


@dataclass
class Process(_Usage, _Model):
    """A process as /api/processes shows it: who it is, where its
    figures come from (`source`: "socket", "tt-metal shm" or "kernel"),
    its totals over its devices and one ProcessDevice per device."""

    pid: int
    name: Optional[str] = None
    user: Optional[str] = None
    uid: Optional[int] = None
    session: Optional[str] = None
    source: str = "socket"
    tracked: bool = True
    vanished: bool = False
    exited: bool = False
    stale: bool = False
    connection_count: Optional[int] = None
    buffer_count: Optional[int] = None
    first_seen: Optional[int] = None
    exit_time: Optional[int] = None
    devices: List[ProcessDevice] = field(default_factory=list)
    container_id: Optional[str] = None
    container_runtime: Optional[str] = None
    pod: Optional[str] = None
    namespace: Optional[str] = None
    container: Optional[str] = None
    updated: Optional[int] = None     # tt-metal shm
    used_bytes: Optional[int] = None  # kernel: the driver's figure

    _OPTIONAL = ("updated", "used_bytes")
    _NESTED = {"devices": ProcessDevice}

    def device(self, device_id):
        """Its ProcessDevice for `device_id`, or None."""
        for d in self.devices:
            if d.device_id == device_id:
                return d
        return None


@dataclass
class Buffer(_Model):
    """A buffer in any list of buffers; `pid` and `name` are its process's.
    `address` is an int here ("0x..." in JSON and to_dict())."""

    device_id: int
    address: int
    size: int
    type: str  # the buffer type's name: "DRAM", "L1", "L1_SMALL", "TRACE", ...
    pid: int = 0
    name: Optional[str] = None
    age_seconds: Optional[float] = None
    stack: Optional[List[str]] = None  # innermost frame first; None when none was captured
    allocated_at: Optional[int] = None
    stack_id: Optional[int] = None
    still_running: Optional[bool] = None

    _OPTIONAL = ("age_seconds", "allocated_at", "stack_id", "still_running")


@dataclass
class LeakDevice(_Model):
    """What a leak report left on one device."""

    device_id: int
    bytes: int = 0
    buffer_count: int = 0


@dataclass
class LeakReport(_Model):
    """What a process left allocated when it exited (GET /api/leaks)."""

    id: Optional[int]  # the server's number (GET /api/leaks/<id>); None where the socket does not tell it
    pid: int
    name: Optional[str] = None
    user: Optional[str] = None
    uid: Optional[int] = None
    session: Optional[str] = None
    exit_time: int = 0
    buffer_count: int = 0
    bytes: int = 0
    source: str = "socket"
    devices: List[LeakDevice] = field(default_factory=list)
    buffers: List[Buffer] = field(default_factory=list)
    buffers_kept: int = 0
    buffers_omitted: int = 0

    _NESTED = {"devices": LeakDevice, "buffers": Buffer}


@dataclass
class DeviceInfo(_Model):
    """A device's fixed facts (the seed's DEVICE_INFO answer, with the model's names)."""

    device_id: int
    arch: Optional[str]
    dram_capacity: int
    l1_capacity: int
    dram_channel_count: int
    dram_channel_capacity: int
    l1_core_capacity: int
    device_count: int


@dataclass
class ClearedLeaks(_Model):
    """What clear_leaks() took out of the totals."""

    buffer_count: int
    process_count: int
