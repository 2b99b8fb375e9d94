/*
 * ttmetal_shm.h - the memory statistics that mainline tt-metal keeps in
 * shared memory, one region per chip: /dev/shm/tt_device_<chip_unique_id>_memory
 * (struct DeviceMemoryRegion of tt_metal/impl/memory_tracking/
 * memory_stats_shm.hpp in tenstorrent/tt-metal). Every tt-metal process that
 * opens the chip maps the region and updates it with atomics on each
 * allocation; nothing has to be rebuilt or enabled for it.
 *
 * The layout is written down here once, as C11 _Atomic fields (an _Atomic
 * of the same width has the same size, alignment and representation as
 * C++'s std::atomic on x86-64 and aarch64), and every offset computed from
 * the C++ header is checked by a _Static_assert below. docs/TTMETAL.md says
 * which tt-metal commits it was checked against.
 *
 * Versions: 2, 3 and 4 share every offset up to the end of the process
 * table; v3 made more header fields atomic (same layout); v4 appended
 * init_state, which is READY ('REDY') once the region is initialised.
 * Any other version is refused, as is a v4 region that is not READY (a
 * zero-filled region would read as chip 0 with nothing in it).
 *
 * Reading, the whole contract:
 *  - the file is mapped read-only (PROT_READ, MAP_SHARED) and never
 *    written: no reaping of dead slots, no counters reset;
 *  - every field is read with an atomic load of its width (the process
 *    name as eight 64-bit words), so no single value is ever torn;
 *  - the whole region is read twice and the two copies compared; when a
 *    writer changed something in between, it is read again (up to
 *    TTMETAL_SHM_READ_ATTEMPTS times), so the figures of one snapshot
 *    belong together; `settled` says whether two reads agreed;
 *  - version and init_state are read before and after: a region
 *    re-initialised while being read is reported as unstable, not parsed.
 */
#ifndef TTALLOC_TTMETAL_SHM_H
#define TTALLOC_TTMETAL_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TTMETAL_SHM_MAX_CHIPS 16           /* MAX_CHIPS_PER_DEVICE */
#define TTMETAL_SHM_MAX_PROCESSES 64       /* MAX_PROCESSES */
#define TTMETAL_SHM_NAME_LEN 64            /* ProcessStats::process_name */
#define TTMETAL_SHM_CHIP_UNUSED UINT32_MAX /* CHIP_STATS_UNUSED */
#define TTMETAL_SHM_INIT_READY 0x52454459u /* SHM_INIT_READY, 'REDY' */
#define TTMETAL_SHM_VERSION_MIN 2
#define TTMETAL_SHM_VERSION_MAX 4
#define TTMETAL_SHM_READ_ATTEMPTS 8

/* File name: "tt_device_" <chip_unique_id in decimal> "_memory", under /dev/shm. */
#define TTMETAL_SHM_DIR "/dev/shm"
#define TTMETAL_SHM_PREFIX "tt_device_"
#define TTMETAL_SHM_SUFFIX "_memory"

/* DeviceMemoryRegion::ChipStats: one chip reached through this region's (gateway) chip. */
struct ttmetal_shm_chip_stats {
	_Atomic uint32_t chip_id;   /* Metal chip id; TTMETAL_SHM_CHIP_UNUSED: empty slot */
	_Atomic uint32_t is_remote; /* 1: a remote chip reached through the gateway */
	_Atomic uint64_t dram_allocated;
	_Atomic uint64_t l1_allocated;
	_Atomic uint64_t l1_small_allocated;
	_Atomic uint64_t trace_allocated;
	_Atomic uint64_t cb_allocated;
};

/* DeviceMemoryRegion::ProcessStats: one process's bytes on this region's chips. */
struct ttmetal_shm_process_stats {
	_Atomic int32_t pid; /* 0: unused slot; -1 (v4 SHM_SLOT_RELEASING): being released */
	_Atomic uint64_t dram_allocated;
	_Atomic uint64_t l1_allocated;
	_Atomic uint64_t l1_small_allocated;
	_Atomic uint64_t trace_allocated;
	_Atomic uint64_t cb_allocated;
	_Atomic uint64_t last_update_timestamp;                  /* ns since the epoch */
	_Atomic uint64_t process_name[TTMETAL_SHM_NAME_LEN / 8]; /* char[64]: /proc/PID/comm, read as words */
};

/* DeviceMemoryRegion, versions 2..4. */
struct ttmetal_shm_region {
	_Atomic uint32_t version;
	_Atomic uint32_t num_active_processes;
	_Atomic uint64_t last_update_timestamp; /* ns since the epoch */
	_Atomic uint32_t reference_count;
	_Atomic uint64_t board_serial; /* reserved, 0 */
	_Atomic uint64_t asic_id;      /* UMD chip_unique_id, as in the file name (v2+) */
	_Atomic uint32_t device_id;    /* logical Metal device id (int32 before v4: same bytes) */
	_Atomic uint64_t total_dram_allocated;
	_Atomic uint64_t total_l1_allocated;
	_Atomic uint64_t total_l1_small_allocated;
	_Atomic uint64_t total_trace_allocated;
	_Atomic uint64_t total_cb_allocated;
	struct ttmetal_shm_chip_stats chip_stats[TTMETAL_SHM_MAX_CHIPS];
	struct ttmetal_shm_process_stats processes[TTMETAL_SHM_MAX_PROCESSES];
	_Atomic uint32_t init_state; /* v4 only (tail padding before): TTMETAL_SHM_INIT_READY when usable */
} __attribute__((aligned(64)));

/* Offsets computed from memory_stats_shm.hpp (x86-64 / aarch64 LP64). */
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8, "64-bit atomics as C++");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && _Alignof(_Atomic uint32_t) == 4, "32-bit atomics as C++");
_Static_assert(offsetof(struct ttmetal_shm_region, version) == 0, "version");
_Static_assert(offsetof(struct ttmetal_shm_region, num_active_processes) == 4, "num_active_processes");
_Static_assert(offsetof(struct ttmetal_shm_region, last_update_timestamp) == 8, "last_update_timestamp");
_Static_assert(offsetof(struct ttmetal_shm_region, reference_count) == 16, "reference_count");
_Static_assert(offsetof(struct ttmetal_shm_region, board_serial) == 24, "board_serial");
_Static_assert(offsetof(struct ttmetal_shm_region, asic_id) == 32, "asic_id");
_Static_assert(offsetof(struct ttmetal_shm_region, device_id) == 40, "device_id");
_Static_assert(offsetof(struct ttmetal_shm_region, total_dram_allocated) == 48, "total_dram_allocated");
_Static_assert(offsetof(struct ttmetal_shm_region, total_l1_allocated) == 56, "total_l1_allocated");
_Static_assert(offsetof(struct ttmetal_shm_region, total_l1_small_allocated) == 64, "total_l1_small");
_Static_assert(offsetof(struct ttmetal_shm_region, total_trace_allocated) == 72, "total_trace_allocated");
_Static_assert(offsetof(struct ttmetal_shm_region, total_cb_allocated) == 80, "total_cb_allocated");
_Static_assert(offsetof(struct ttmetal_shm_region, chip_stats) == 88, "chip_stats");
_Static_assert(sizeof(struct ttmetal_shm_chip_stats) == 48, "ChipStats is 48 bytes");
_Static_assert(offsetof(struct ttmetal_shm_chip_stats, dram_allocated) == 8, "chip dram");
_Static_assert(offsetof(struct ttmetal_shm_chip_stats, cb_allocated) == 40, "chip cb");
_Static_assert(offsetof(struct ttmetal_shm_region, processes) == 856, "processes");
_Static_assert(sizeof(struct ttmetal_shm_process_stats) == 120, "ProcessStats is 120 bytes");
_Static_assert(offsetof(struct ttmetal_shm_process_stats, dram_allocated) == 8, "process dram");
_Static_assert(offsetof(struct ttmetal_shm_process_stats, cb_allocated) == 40, "process cb");
_Static_assert(offsetof(struct ttmetal_shm_process_stats, last_update_timestamp) == 48, "process timestamp");
_Static_assert(offsetof(struct ttmetal_shm_process_stats, process_name) == 56, "process_name");
_Static_assert(offsetof(struct ttmetal_shm_region, init_state) == 8536, "init_state (v4)");
_Static_assert(sizeof(struct ttmetal_shm_region) == 8576, "sizeof(DeviceMemoryRegion), aligned(64)");

/* Bytes a region of `version` must have: through the process table (v2, v3), or init_state (v4). */
#define TTMETAL_SHM_SIZE_V3 ((size_t)offsetof(struct ttmetal_shm_region, init_state))
#define TTMETAL_SHM_SIZE_V4 (TTMETAL_SHM_SIZE_V3 + sizeof(uint32_t))

/* What a read found; only TTMETAL_SHM_OK comes with numbers. */
enum ttmetal_shm_status {
	TTMETAL_SHM_OK = 0,
	TTMETAL_SHM_TRUNCATED,   /* the file is shorter than its version's layout */
	TTMETAL_SHM_BAD_VERSION, /* version outside 2..4 (0: never initialised) */
	TTMETAL_SHM_NOT_READY,   /* v4 whose init_state is not READY: half-initialised */
	TTMETAL_SHM_UNSTABLE,    /* version or init_state changed while it was read */
	TTMETAL_SHM_UNREADABLE,  /* cannot be opened or mapped (permissions, not a file) */
	TTMETAL_SHM_STATUSES
};

/* Short name of a status ("ok", "truncated", "bad_version", ...), for logs, JSON and labels. */
const char *ttmetal_shm_status_name(enum ttmetal_shm_status status);

/* Bytes per type in the region's order: DRAM, L1, L1_SMALL, TRACE, CB. */
enum ttmetal_shm_kind {
	TTMETAL_SHM_DRAM = 0,
	TTMETAL_SHM_L1,
	TTMETAL_SHM_L1_SMALL,
	TTMETAL_SHM_TRACE,
	TTMETAL_SHM_CB,
	TTMETAL_SHM_KINDS
};

struct ttmetal_shm_chip {
	uint32_t chip_id; /* Metal chip id */
	uint32_t slot;    /* index in chip_stats */
	int remote;       /* reached through the region's chip */
	uint64_t used[TTMETAL_SHM_KINDS];
};

struct ttmetal_shm_process {
	int32_t pid;
	uint32_t slot; /* index in processes */
	uint64_t used[TTMETAL_SHM_KINDS];
	uint64_t updated_ns;             /* the slot's last update, ns since the epoch */
	char name[TTMETAL_SHM_NAME_LEN]; /* printable ASCII, NUL-terminated ("" when empty) */
};

/* One consistent reading of a region. */
struct ttmetal_shm_snapshot {
	uint32_t version;
	uint32_t device_id;  /* logical Metal device id of the region's chip */
	uint64_t asic_id;    /* chip_unique_id */
	uint64_t updated_ns; /* last update of any slot, ns since the epoch */
	uint32_t reference_count;
	uint64_t totals[TTMETAL_SHM_KINDS]; /* device-wide totals over every process and chip */
	uint32_t chip_count;
	struct ttmetal_shm_chip chips[TTMETAL_SHM_MAX_CHIPS]; /* used slots, in slot order */
	uint32_t process_count;
	struct ttmetal_shm_process processes[TTMETAL_SHM_MAX_PROCESSES]; /* slots with pid > 0 */
	int settled;  /* two successive reads agreed (else: the last of several attempts) */
	int attempts; /* reads it took */
};

/*
 * Reads the region mapped at `base`, of which `len` bytes exist (the file's
 * size, at most sizeof(struct ttmetal_shm_region)). Checks the length, the
 * version and (v4) readiness before anything else; fills *snap only for
 * TTMETAL_SHM_OK. Writes nothing at `base`.
 */
enum ttmetal_shm_status ttmetal_shm_read(const void *base, size_t len, struct ttmetal_shm_snapshot *snap);

/*
 * Opens `path`, maps it read-only and reads it (ttmetal_shm_read). On a
 * status other than OK, `why` (why_size bytes) says what was found, e.g.
 * "version 7; this ttalloc reads versions 2..4".
 */
enum ttmetal_shm_status ttmetal_shm_read_file(const char *path, struct ttmetal_shm_snapshot *snap, char *why,
					      size_t why_size);

/*
 * 1 when `name` is a region's file name, "tt_device_<digits>_memory", with
 * the chip_unique_id in *chip_unique_id; else 0.
 */
int ttmetal_shm_parse_name(const char *name, uint64_t *chip_unique_id);

/*
 * The region files in directory `dir` (names ttmetal_shm_parse_name
 * accepts), sorted, so every reader lists them in one order: a
 * NULL-terminated array (empty when there are none), or NULL with errno set
 * when `dir` cannot be read. Free it with ttmetal_shm_free_names.
 */
char **ttmetal_shm_region_names(const char *dir);

/* Frees what ttmetal_shm_region_names returned (NULL is fine). */
void ttmetal_shm_free_names(char **names);

#endif /* TTALLOC_TTMETAL_SHM_H */
