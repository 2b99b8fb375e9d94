/*
 * model.h - the data model's JSON objects, one writer each: the device,
 * process, process-on-a-device and buffer objects that several documents
 * and programs emit (the HTTP API, tt_smi --json, ttalloc-run --json), so
 * that a name is spelled in one place. docs/DATA_MODEL.md is the table of
 * names, units and null rules; schemas/model.schema.json checks them.
 *
 * Rules every writer here follows (and every other JSON writer should):
 *  - bytes are integers; a live total per buffer type is the seed's
 *    <type>_allocated (dram_allocated, l1_allocated, ...), a device's
 *    capacity <memory>_capacity;
 *  - a count is <thing>_count; a plural noun is an array;
 *  - units are in the name where they are not bytes (temperature_c,
 *    power_w, utilization_pct, age_seconds, interval_ms);
 *  - times are integer milliseconds since the Unix epoch;
 *  - addresses are "0x..." strings (they do not fit a JavaScript number);
 *  - a key is always present; null when the value is unknown or none.
 */
#ifndef TTALLOC_MODEL_H
#define TTALLOC_MODEL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/container.h"
#include "ttalloc.h"

/*
 * json_dumps flags every document adds: readings such as 38.065 °C print
 * as that, not as the double's 17 digits (38.064999999999998).
 */
#define MODEL_REAL_PRECISION JSON_REAL_PRECISION(10)

/* The string value of `text`, or null for NULL or "" (invalid UTF-8 bytes become '?'). */
json_t *model_text(const char *text);

/* An unsigned number as a JSON integer (json_int_t is signed: capped at INT64_MAX). */
json_t *model_uint(uint64_t v);

/* An address as a "0x..." string. */
json_t *model_address(uint64_t address);

/*
 * The seven live totals of a buffer-type array: dram_allocated,
 * l1_allocated, l1_small_allocated, trace_allocated (the seed's),
 * cb_allocated, kernel_allocated, system_memory_allocated. `used` NULL:
 * each null (a process the kernel sees but that does not report).
 */
void model_set_usage(json_t *obj, const uint64_t used[TTALLOC_BUFFER_TYPES]);

/* A value that may be unknown: `known` 0 writes null. */
struct model_count {
	int known;
	uint64_t value;
};

#define MODEL_KNOWN(v) ((struct model_count){1, (uint64_t)(v)})
#define MODEL_UNKNOWN ((struct model_count){0, 0})

/* A device's identity (strings; NULL or "" is null). */
struct model_identity {
	const char *serial;
	const char *asic_id;
	const char *pci_bus_id;
	const char *card_type;
	const char *uuid;
	const char *driver_version;
};

/* A device as /api/devices, /api/events, /api/snapshot and tt_smi --json show it. */
struct model_device {
	int device_id;
	uint64_t used[TTALLOC_BUFFER_TYPES]; /* live bytes per buffer type */
	const char *name;                    /* the backend's name ("Wormhole_B0", "n300 L") */
	const char *arch;                    /* NULL: unknown */
	struct model_count dram_capacity;    /* bytes */
	struct model_count l1_capacity;      /* bytes */
	int temperature_known;
	int32_t temperature_mc; /* millidegrees Celsius */
	int power_known;
	uint32_t power_mw; /* milliwatts */
	int utilization_known;
	uint32_t utilization_pct; /* percent */
	uint64_t process_count;   /* processes holding buffers on it */
	uint64_t buffer_count;    /* live buffers on it */
	int simulated;
	struct model_identity identity;
};

/* The device object; the HTTP API adds "ttmetal_shm". NULL when out of memory. */
json_t *model_device_json(const struct model_device *d);

/* What /api/processes, /api/snapshot and tt_smi --json say of a process. */
struct model_process {
	pid_t pid;
	const char *name; /* comm; NULL: unknown */
	const char *user; /* NULL: unknown */
	struct model_count uid;
	const char *session; /* $TTALLOC_SESSION of its HELLO; NULL or "": none */
	const char *source;  /* "socket", "tt-metal shm" or "kernel" */
	int tracked;         /* it reports (socket or tt-metal shm) */
	int vanished;        /* the driver no longer lists it */
	int exited;          /* gone; its leaks kept in the totals (--retain-leaks) */
	int stale;           /* a tt-metal slot whose process is gone */
	struct model_count connection_count;
	struct model_count buffer_count;
	struct model_count first_seen;          /* ms since the epoch */
	struct model_count exit_time;           /* ms since the epoch */
	const uint64_t *used;                   /* live bytes per buffer type, summed over devices; NULL: unknown */
	const struct container_info *container; /* NULL: in no container */
};

/* The process object, with `devices` (an array, taken) as its "devices". NULL when out of memory. */
json_t *model_process_json(const struct model_process *p, json_t *devices);

/* One item of a process's "devices". */
struct model_process_device {
	int device_id;
	const uint64_t *used; /* NULL: unknown */
	struct model_count buffer_count;
	int vanished;
};

json_t *model_process_device_json(const struct model_process_device *d);

/* The container keys of a process: container_id, container_runtime, pod, namespace, container. */
void model_set_container(json_t *obj, const struct container_info *c);

/*
 * A buffer as every list of buffers shows it: device_id, address, size,
 * type (its name), pid and name (its process's). The caller adds what
 * else it knows (age_seconds, stack, ...).
 */
json_t *model_buffer_json(int device, uint64_t address, uint64_t size, unsigned type, pid_t pid, const char *name);

#endif /* TTALLOC_MODEL_H */
