/*
 * device.h - the devices the server reports on, behind one backend
 * interface (modelled on nvtop's struct gpu_vendor).
 *
 * A backend finds devices (probe), and refreshes their changing readings
 * (refresh). Every reading carries a validity bit: a clear bit means the
 * backend could not read it, and every front end prints N/A (JSON null, no
 * Prometheus sample), never a made-up number. Backends are listed in one
 * static table in device.c, in the order "auto" tries them: tenstorrent,
 * nvml, sim.
 *
 * Every path a hardware backend reads (/sys, /proc, /dev) is taken under the
 * set's hw_root (--hw-root, $TTALLOC_HW_ROOT; "/" by default), so the tests
 * run the real code on fixture trees. docs/HARDWARE.md lists the files read.
 */
#ifndef TTALLOC_DEVICE_H
#define TTALLOC_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"
#include "common/protocol.h"
#include "ttalloc.h"

#define DEVICE_ERR_LEN ERR_LEN
#define DEVICE_PATH_MAX 512

/* Environment variable naming the hardware root when --hw-root is not given. */
#define DEVICE_HW_ROOT_ENV "TTALLOC_HW_ROOT"

/* The NVML library the nvml backend loads (no build-time dependency). */
#define DEVICE_NVML_LIBRARY "libnvidia-ml.so.1"

/* Facts that do not change while the server runs; bits in `valid`. */
enum device_info_field {
	DEVICE_INFO_DRAM_TOTAL = 0, /* dram_total is known */
	DEVICE_INFO_L1_TOTAL,       /* l1_total is known */
	DEVICE_INFO_DRAM_MAP,       /* maps[DEVICE_REGION_DRAM] is known */
	DEVICE_INFO_L1_MAP,         /* maps[DEVICE_REGION_L1] is known */
	DEVICE_INFO_FIELDS
};

/* The memories a buffer type lives in (device_region_of). */
enum device_region {
	DEVICE_REGION_NONE = -1,
	DEVICE_REGION_DRAM = 0, /* DRAM and TRACE buffers */
	DEVICE_REGION_L1 = 1,   /* L1 and L1_SMALL buffers */
	DEVICE_REGIONS
};

/*
 * Where tt-metal's allocator places buffers of a region: an interleaved
 * buffer takes the same bank-local range [address, address + its share)
 * in each of `banks` banks, its share being its size spread over the
 * banks, rounded up to `alignment`. Addresses are bank-local (what the
 * allocator returns and clients report), from `base` up to
 * base + bank_size.
 */
struct device_memory_map {
	uint64_t base;      /* first allocatable bank-local address */
	uint64_t bank_size; /* bytes per bank from base */
	uint32_t banks;     /* banks a buffer is interleaved over */
	uint32_t alignment; /* bytes; a buffer's share per bank is a multiple */
};

struct device_static_info {
	char name[64];                                 /* "Wormhole_B0", or NVML's product name */
	enum proto_arch arch;                          /* PROTO_ARCH_INVALID for non-Tenstorrent devices */
	uint64_t dram_total;                           /* bytes; valid with DEVICE_INFO_DRAM_TOTAL, else 0 */
	uint64_t l1_total;                             /* bytes; valid with DEVICE_INFO_L1_TOTAL, else 0 */
	uint32_t num_dram_channels;                    /* 0 when unknown */
	uint64_t dram_size_per_channel;                /* bytes; 0 when unknown */
	uint32_t l1_size_per_core;                     /* bytes; 0 when unknown */
	uint32_t valid;                                /* bit (1 << enum device_info_field) per known field */
	struct device_memory_map maps[DEVICE_REGIONS]; /* valid with DEVICE_INFO_DRAM_MAP / _L1_MAP */
	int simulated;                                 /* 1 for the sim backend */
	/* Hardware identity; "" where the backend has nothing to read. */
	char board[24];          /* card type as tt-kmd names it ("n300", "p150a") */
	char serial[24];         /* tt_serial (board id, hex) */
	char firmware[24];       /* tt_fw_bundle_ver ("18.3.0.0") */
	char driver[24];         /* driver version: tt-kmd's /sys/module/tenstorrent/version ("1.29"),
	                      * NVML's nvmlSystemGetDriverVersion ("550.54.15"); "" unknown */
	char bus_id[24];         /* PCI address "0000:01:00.0"; "" for a chip without its own PCIe link */
	char asic_id[24];        /* the chip's unique id, 16 hex digits: tt-kmd's tt_asic_id (UMD's
	                      * chip_unique_id, the number in tt-metal's /dev/shm region names) */
	char uuid[48];           /* NVML's "GPU-..." UUID; "" where the device has none */
	char node[32];           /* device file its users open ("/dev/tenstorrent/0", "/dev/nvidia0"); "" none */
	int driver_index;        /* N of /dev/tenstorrent/N and /proc/driver/tenstorrent/N; -1 none */
	uint32_t chips_on_board; /* ASICs on the card (n300, p300: 2); 0 when unknown */
	int chip;                /* n300: 0 for the PCIe-attached chip ("L"), 1 for the remote one ("R");
	                      * -1 when the card does not say */
};

/* 1 when the static field was set by the backend. */
#define DEVICE_INFO_VALID(info, field) (((info)->valid >> (field)) & 1u)

/* The region buffers of `type` live in (DRAM, TRACE: DRAM; L1, L1_SMALL: L1), or DEVICE_REGION_NONE. */
enum device_region device_region_of(unsigned type);

/* Name of a region ("DRAM", "L1"). */
const char *device_region_name(enum device_region region);

/* Sets the memory map of `region` and marks it valid. */
void device_info_set_map(struct device_static_info *info, enum device_region region,
			 const struct device_memory_map *map);

/* The memory map of `region`, or NULL when the backend does not know it. */
const struct device_memory_map *device_info_map(const struct device_static_info *info, enum device_region region);

/* Readings that change; each valid only when its bit is set. */
enum device_reading {
	DEVICE_TEMPERATURE = 0,
	DEVICE_POWER,
	DEVICE_UTILIZATION,
	DEVICE_VOLTAGE,
	DEVICE_CURRENT,
	DEVICE_FAN,
	DEVICE_CLOCK,
	DEVICE_MEMORY_USED,
	DEVICE_READINGS
};

struct device_dynamic_info {
	int32_t temperature_mc; /* milli-degrees Celsius (hwmon temp1_input; NVML degrees x 1000) */
	uint32_t power_mw;      /* milliwatts (hwmon power1_input is microwatts; NVML milliwatts) */
	uint32_t utilization;   /* percent (NVML utilization.gpu) */
	uint32_t voltage_mv;    /* core voltage, millivolts (hwmon in0_input) */
	uint32_t current_ma;    /* core current, milliamperes (hwmon curr1_input) */
	uint32_t fan_rpm;       /* fan speed, revolutions per minute (hwmon fan1_input) */
	uint32_t clock_mhz;     /* AI clock (tt_aiclk) or SM clock (NVML), megahertz */
	uint64_t memory_used;   /* bytes the driver says are in use (NVML), not ttalloc's totals */
	uint32_t valid;         /* bit (1 << enum device_reading) per reading */
};

/* Sets a reading and marks it valid (nvtop's SET_GPUINFO_DYNAMIC). */
#define DEVICE_SET_READING(info, reading, member, value) \
	do {                                             \
		(info)->member = (value);                \
		(info)->valid |= 1u << (reading);        \
	} while (0)

/* 1 when the reading was set by the backend. */
#define DEVICE_READING_VALID(info, reading) (((info)->valid >> (reading)) & 1u)

/* Name of a reading for labels and JSON keys ("temperature", "power", ...). */
const char *device_reading_name(enum device_reading reading);

/* The allocation picture of one device, handed to refresh(). */
struct device_load {
	uint64_t used[TTALLOC_BUFFER_TYPES]; /* bytes live per buffer type */
};

/* ---- processes that hold a device, as the kernel and driver see them ---- */

/* Where a holder was seen; bits of device_process.flags. */
enum device_process_flag {
	DEVICE_PROC_DRIVER = 1u << 0, /* listed by the driver: /proc/driver/tenstorrent/N/pids, NVML */
	DEVICE_PROC_FD = 1u << 1,     /* has the device file open: a /proc/PID/fd link to it */
	DEVICE_PROC_MEMORY = 1u << 2, /* `memory` is valid (NVML's usedGpuMemory) */
};

struct device_process {
	int32_t pid;
	uint32_t flags;  /* enum device_process_flag */
	uint64_t memory; /* bytes the driver charges to it; valid only with DEVICE_PROC_MEMORY */
};

#define DEVICE_MAX_PROCESSES 256

/* The kernel's holders of one device. */
struct device_holders {
	int count;
	int truncated;     /* 1 when more than DEVICE_MAX_PROCESSES were seen */
	int authoritative; /* 1 when a driver list (pids file, NVML) was read: a pid missing
	                    * from it does not hold the device. /proc/PID/fd alone is not:
	                    * other users' fds are unreadable without privileges. */
	struct device_process procs[DEVICE_MAX_PROCESSES];
};

struct device_set;
struct device;

struct device_backend {
	const char *name;
	/*
	 * Appends the devices this backend finds to `set`. `spec` is the text
	 * after "name:" in --devices, or NULL. Returns the number added (0: none
	 * here, optionally with the reason in `err`), or -1 with a reason in `err`.
	 */
	int (*probe)(struct device_set *set, const char *spec, char *err);
	/* Updates dev->now. Real backends read hardware; sim derives from load. */
	void (*refresh)(struct device *dev, const struct device_load *load);
	/*
	 * Adds the holders the driver itself lists (device_holders_add). May be
	 * NULL (the /proc/PID/fd scan still runs for devices with a node).
	 */
	void (*holders)(const struct device_set *set, const struct device *dev, struct device_holders *out);
	/* Frees dev->priv. May be NULL. */
	void (*release)(struct device *dev);
};

struct device {
	const struct device_backend *backend;
	int index; /* the device_id clients use */
	struct device_static_info info;
	struct device_dynamic_info now;
	void *priv;
};

/* How the set was chosen, for the start-up banner and tt_smi. */
enum device_selection {
	DEVICE_SELECTED_AUTO_HARDWARE = 0, /* auto: a hardware backend found devices */
	DEVICE_SELECTED_AUTO_SIM,          /* auto: no hardware found, simulated devices */
	DEVICE_SELECTED_EXPLICIT,          /* --devices named the backend */
};

struct device_set {
	int count;
	struct device devices[PROTO_MAX_DEVICES];
	const char *backend_name;        /* which backend supplied the devices */
	enum device_selection selection; /* how it was chosen */
	char hw_root[DEVICE_PATH_MAX];   /* "" for the real root, else the prefix without trailing '/' */
	char nvml_library[DEVICE_PATH_MAX];
	char host[64]; /* host name simulated identities are derived from */
};

/* What device_set_open_opts needs; start from device_options_init. */
struct device_options {
	const char *selection;    /* auto (NULL), sim, sim:N, sim:N:ARCH, tenstorrent, nvml */
	const char *hw_root;      /* prefix for /sys, /proc, /dev (NULL or "": the real root) */
	const char *nvml_library; /* name or path to dlopen (NULL: DEVICE_NVML_LIBRARY) */
	const char *host;         /* host name for simulated identities (NULL: gethostname) */
};

/* Defaults: auto, the real root, libnvidia-ml.so.1. Reads no environment. */
void device_options_init(struct device_options *opts);

/*
 * Opens the devices chosen by opts->selection: "auto" (the first hardware
 * backend that finds devices, tenstorrent then nvml, else the simulation),
 * "sim", "sim:N", "sim:N:ARCH" (ARCH: wormhole_b0, blackhole, grayskull),
 * "tenstorrent", "nvml". Returns 0, or -1 with a reason in `err`.
 */
int device_set_open_opts(struct device_set *set, const struct device_options *opts, char *err);

/* device_set_open_opts with only a selection (real root, default NVML name). */
int device_set_open(struct device_set *set, const char *selection, char *err);

/*
 * One line saying where the devices came from, e.g. "tenstorrent: 2 devices
 * from tt-kmd" or "simulated devices, no hardware found"; under a non-default
 * hardware root it ends with " under ROOT". For the start-up banner and
 * tt_smi. Returns buf.
 */
char *device_set_describe(const struct device_set *set, char *buf, size_t size);

/*
 * The device's short label: name, then board and chip where known:
 * "Wormhole_B0 n300 L", "Blackhole p150a", "NVIDIA H100 80GB HBM3". Returns buf.
 */
char *device_label(const struct device *dev, char *buf, size_t size);

/*
 * The card type a fleet labels the device with: tt-kmd's tt_card_type
 * ("n300"), "sim" for a simulated device, "nvidia" for an NVML GPU, ""
 * when unknown.
 */
const char *device_card_type(const struct device *dev);

/* Appends a device for `backend` and returns it, or NULL when full. */
struct device *device_set_add(struct device_set *set, const struct device_backend *backend);

/* The device with id `index`, or NULL when out of range. */
static inline struct device *device_set_get(struct device_set *set, int index)
{
	return index < 0 || index >= set->count ? NULL : &set->devices[index];
}

/* Calls the backend's refresh for one device (clears every validity bit first). */
void device_refresh(struct device *dev, const struct device_load *load);

/* Releases every device. */
void device_set_close(struct device_set *set);

/*
 * `path` relative to the set's hardware root: ("/sys/class/x") gives
 * "/sys/class/x" or "ROOT/sys/class/x". Returns buf, or NULL when too long.
 */
char *device_hw_path(const struct device_set *set, char *buf, size_t size, const char *path);

/*
 * Finds the processes that hold each device of the set, as the kernel sees
 * them: the backend's driver list (tt-kmd's /proc/driver/tenstorrent/N/pids,
 * deduplicated; NVML's running processes with their memory) and every
 * /proc/PID/fd link to the device's node (/dev/tenstorrent/N, /dev/nvidiaM),
 * all under the hardware root. `out` has set->count entries, filled in
 * device order. A device without a node or driver list gets count 0 and
 * authoritative 0. Scans /proc once per call: call it per refresh of a view,
 * not per device. Returns 0, or -1 when `out` is NULL.
 */
int device_set_holders(const struct device_set *set, struct device_holders *out);

/*
 * Adds pid to `h` with `flags` (merging with an entry already there), and
 * `memory` when flags has DEVICE_PROC_MEMORY. For backends' holders().
 */
void device_holders_add(struct device_holders *h, int32_t pid, uint32_t flags, uint64_t memory);

/* The entry for pid in `h`, or NULL. */
const struct device_process *device_holders_find(const struct device_holders *h, int32_t pid);

/* ---- comparing the kernel's view with what processes reported ---- */

enum device_holder_state {
	DEVICE_HOLDER_TRACKED = 0, /* reported buffers and the kernel lists it (or cannot tell) */
	DEVICE_HOLDER_UNTRACKED,   /* holds the device but never reported: memory N/A */
	DEVICE_HOLDER_VANISHED,    /* reported buffers but the driver no longer lists it */
};

struct device_holder_row {
	int32_t pid;
	enum device_holder_state state;
	uint32_t flags;  /* the kernel's enum device_process_flag bits (0 for a vanished pid) */
	uint64_t memory; /* as in struct device_process */
};

/*
 * Classifies the processes of one device: every pid in `tracked` (the
 * processes with live buffers on the device, from the registry) and every
 * holder in `kernel`. A holder not in `tracked` is UNTRACKED; a tracked pid
 * missing from an authoritative kernel list is VANISHED (never with a
 * non-authoritative list, which may just lack permission); the rest are
 * TRACKED. `own_pid`, when > 0, is left out (the monitor itself may hold the
 * device while reading it). Writes up to `max` rows, tracked pids first in
 * their order, then untracked holders in kernel order. Returns the number
 * of rows written.
 */
int device_holders_compare(const struct device_holders *kernel, const int32_t *tracked, int tracked_count,
			   int32_t own_pid, struct device_holder_row *rows, int max);

/* "tracked", "untracked", "vanished". */
const char *device_holder_state_name(enum device_holder_state state);

/* The backends (sim.c, tenstorrent.c, nvml.c). */
extern const struct device_backend device_backend_sim;
extern const struct device_backend device_backend_tenstorrent;
extern const struct device_backend device_backend_nvml;

#endif /* TTALLOC_DEVICE_H */
