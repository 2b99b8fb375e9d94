/*
 * device.h - the devices the server reports on, behind one backend
 * interface (modelled on nvtop's struct gpu_vendor).
 *
 * A backend finds devices (probe), and refreshes their changing readings
 * (refresh). Every reading carries a validity bit: a clear bit means the
 * backend could not read it, and every front end prints N/A (JSON null), never
 * a made-up number. Backends are listed in one static table in device.c.
 */
#ifndef TTALLOC_DEVICE_H
#define TTALLOC_DEVICE_H

#include <stdint.h>

#include "protocol.h"
#include "ttalloc.h"

#define DEVICE_ERR_LEN 256

/* Facts that do not change while the server runs. */
struct device_static_info {
	char name[24];                  /* "Wormhole_B0" */
	enum proto_arch arch;
	uint64_t dram_total;            /* bytes */
	uint64_t l1_total;              /* bytes */
	uint32_t num_dram_channels;
	uint32_t dram_size_per_channel; /* bytes */
	uint32_t l1_size_per_core;      /* bytes */
	int simulated;                  /* 1 for the sim backend */
};

/* Readings that change; each valid only when its bit is set. */
enum device_reading {
	DEVICE_TEMPERATURE = 0,
	DEVICE_POWER,
	DEVICE_UTILIZATION,
	DEVICE_READINGS
};

struct device_dynamic_info {
	int32_t temperature_mc; /* milli-degrees Celsius */
	uint32_t power_mw;      /* milliwatts */
	uint32_t utilization;   /* percent */
	uint32_t valid;         /* bit (1 << enum device_reading) per reading */
};

/* Sets a reading and marks it valid (nvtop's SET_GPUINFO_DYNAMIC). */
#define DEVICE_SET_READING(info, reading, member, value)       \
	do {                                                    \
		(info)->member = (value);                       \
		(info)->valid |= 1u << (reading);               \
	} while (0)

/* 1 when the reading was set by the backend. */
#define DEVICE_READING_VALID(info, reading) (((info)->valid >> (reading)) & 1u)

/* The allocation picture of one device, handed to refresh(). */
struct device_load {
	uint64_t used[TTALLOC_BUFFER_TYPES]; /* bytes live per buffer type */
};

struct device_set;
struct device;

struct device_backend {
	const char *name;
	/*
	 * Appends the devices this backend finds to `set`. `spec` is the text
	 * after "name:" in --devices, or NULL. Returns the number added (0: none
	 * here), or -1 with a reason in `err`.
	 */
	int (*probe)(struct device_set *set, const char *spec, char *err);
	/* Updates dev->now. Real backends read hardware; sim derives from load. */
	void (*refresh)(struct device *dev, const struct device_load *load);
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

struct device_set {
	int count;
	struct device devices[PROTO_MAX_DEVICES];
	const char *backend_name; /* which backend supplied the devices */
};

/*
 * Opens the devices chosen by `selection`: "auto" (hardware backends first,
 * else the simulation), "sim", "sim:N", "sim:N:ARCH" (ARCH: wormhole_b0,
 * blackhole, grayskull). Returns 0, or -1 with a reason in `err`.
 */
int device_set_open(struct device_set *set, const char *selection, char *err);

/* Appends a device for `backend` and returns it, or NULL when full. */
struct device *device_set_add(struct device_set *set, const struct device_backend *backend);

/* The device with id `index`, or NULL when out of range. */
struct device *device_set_get(struct device_set *set, int index);

/* Calls the backend's refresh for one device. */
void device_refresh(struct device *dev, const struct device_load *load);

/* Releases every device. */
void device_set_close(struct device_set *set);

/* The simulated backend (sim.c). */
extern const struct device_backend device_backend_sim;

#endif /* TTALLOC_DEVICE_H */
