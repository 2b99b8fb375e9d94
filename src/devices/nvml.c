/*
 * nvml.c - NVIDIA GPUs through NVML, loaded with dlopen at run time (after
 * nvtop's extract_gpuinfo_nvidia.c): no build-time dependency on the CUDA
 * toolkit or the driver. When libnvidia-ml.so.1 cannot be loaded, or
 * nvmlInit fails, or it reports no device, the backend finds nothing and
 * says nothing ("auto" moves on).
 *
 * The few NVML types used are declared here with their nvml.h layout.
 * Newer entry points are tried first (nvmlInit_v2, _v2 handles, _v3 process
 * lists), as nvtop does. Every call that does not return NVML_SUCCESS
 * leaves its reading invalid (N/A).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"

/* ---- the subset of nvml.h we use ---- */

typedef int nvmlReturn_t; /* enum nvmlReturn_enum */
#define NVML_SUCCESS 0
#define NVML_ERROR_INSUFFICIENT_SIZE 7
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
	unsigned long long total; /* bytes */
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_t;

typedef struct {
	unsigned int gpu;    /* percent of time a kernel ran, last sample period */
	unsigned int memory; /* percent of time memory was read or written */
} nvmlUtilization_t;

/* nvmlProcessInfo_v1_t: nvmlDeviceGetComputeRunningProcesses (no suffix) */
typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

/* nvmlProcessInfo_t of the _v2 and _v3 entry points */
typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory; /* bytes, or NVML_VALUE_NOT_AVAILABLE */
	unsigned int gpuInstanceId;
	unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t;

#define NVML_VALUE_NOT_AVAILABLE (~0ull)
#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_DEVICE_NAME_BUFFER_SIZE 96

typedef struct {
	char busIdLegacy[16];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	char busId[32];
} nvmlPciInfo_t;

/* ---- the loaded library ---- */

typedef nvmlReturn_t (*process_list_fn)(nvmlDevice_t, unsigned int *, void *);

static struct nvml_lib {
	void *handle;
	int users; /* devices holding the library */
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	nvmlReturn_t (*get_count)(unsigned int *);
	nvmlReturn_t (*get_handle)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*get_name)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*get_memory)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*get_temperature)(nvmlDevice_t, int, unsigned int *);
	nvmlReturn_t (*get_power)(nvmlDevice_t, unsigned int *);
	nvmlReturn_t (*get_utilization)(nvmlDevice_t, nvmlUtilization_t *);
	nvmlReturn_t (*get_clock)(nvmlDevice_t, int, unsigned int *);
	nvmlReturn_t (*get_minor)(nvmlDevice_t, unsigned int *);
	nvmlReturn_t (*get_pci)(nvmlDevice_t, nvmlPciInfo_t *);
	nvmlReturn_t (*get_serial)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*get_uuid)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*get_driver_version)(char *, unsigned int);
	process_list_fn compute_procs, graphics_procs;
	int procs_v1; /* the lists above use nvmlProcessInfo_v1_t */
} nvml;

struct nvml_device {
	nvmlDevice_t handle;
};

/* The first of `names` the library exports. */
static void *first_symbol(void *handle, const char *const *names)
{
	for (; *names; names++) {
		void *sym = dlsym(handle, *names);
		if (sym)
			return sym;
	}
	return NULL;
}

#define SYM(...) first_symbol(nvml.handle, (const char *const[]){__VA_ARGS__, NULL})

static void unload(void)
{
	if (nvml.handle)
		dlclose(nvml.handle);
	memset(&nvml, 0, sizeof(nvml));
}

/* Loads and initialises NVML. Returns 0, or -1 with the reason in err. */
static int load(const char *library, char *err)
{
	if (nvml.handle)
		return 0;
	nvml.handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!nvml.handle) {
		snprintf(err, DEVICE_ERR_LEN, "cannot load %s", library);
		return -1;
	}
	*(void **)&nvml.init = SYM("nvmlInit_v2", "nvmlInit");
	*(void **)&nvml.shutdown = SYM("nvmlShutdown");
	*(void **)&nvml.get_count = SYM("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
	*(void **)&nvml.get_handle = SYM("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
	*(void **)&nvml.get_name = SYM("nvmlDeviceGetName");
	*(void **)&nvml.get_memory = SYM("nvmlDeviceGetMemoryInfo");
	*(void **)&nvml.get_temperature = SYM("nvmlDeviceGetTemperature");
	*(void **)&nvml.get_power = SYM("nvmlDeviceGetPowerUsage");
	*(void **)&nvml.get_utilization = SYM("nvmlDeviceGetUtilizationRates");
	*(void **)&nvml.get_clock = SYM("nvmlDeviceGetClockInfo");
	*(void **)&nvml.get_minor = SYM("nvmlDeviceGetMinorNumber");
	*(void **)&nvml.get_pci = SYM("nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2");
	*(void **)&nvml.get_serial = SYM("nvmlDeviceGetSerial");
	*(void **)&nvml.get_uuid = SYM("nvmlDeviceGetUUID");
	*(void **)&nvml.get_driver_version = SYM("nvmlSystemGetDriverVersion");
	*(void **)&nvml.compute_procs = SYM("nvmlDeviceGetComputeRunningProcesses_v3",
					    "nvmlDeviceGetComputeRunningProcesses_v2");
	*(void **)&nvml.graphics_procs = SYM("nvmlDeviceGetGraphicsRunningProcesses_v3",
					     "nvmlDeviceGetGraphicsRunningProcesses_v2");
	if (!nvml.compute_procs && !nvml.graphics_procs) {
		*(void **)&nvml.compute_procs = SYM("nvmlDeviceGetComputeRunningProcesses");
		*(void **)&nvml.graphics_procs = SYM("nvmlDeviceGetGraphicsRunningProcesses");
		nvml.procs_v1 = 1;
	}
	if (!nvml.init || !nvml.shutdown || !nvml.get_count || !nvml.get_handle) {
		snprintf(err, DEVICE_ERR_LEN, "%s lacks nvmlInit/nvmlDeviceGetCount/nvmlDeviceGetHandleByIndex",
			 library);
		unload();
		return -1;
	}
	nvmlReturn_t rc = nvml.init();
	if (rc != NVML_SUCCESS) {
		snprintf(err, DEVICE_ERR_LEN, "nvmlInit failed (NVML error %d)", rc);
		unload();
		return -1;
	}
	return 0;
}

static void drop_user(void)
{
	if (nvml.users > 0 && --nvml.users == 0) {
		nvml.shutdown();
		unload();
	}
}

/* A string NVML writes (serial, UUID) into `out`; "" when the call is missing or fails. */
static void read_text(nvmlReturn_t (*get)(nvmlDevice_t, char *, unsigned int), nvmlDevice_t handle, char *out,
		      size_t size)
{
	char text[96] = "";
	out[0] = '\0';
	if (get && get(handle, text, sizeof(text)) == NVML_SUCCESS) {
		text[sizeof(text) - 1] = '\0';
		snprintf(out, size, "%s", text);
	}
}

static void read_static(struct device *dev, nvmlDevice_t handle, unsigned index)
{
	struct device_static_info *info = &dev->info;
	char name[NVML_DEVICE_NAME_BUFFER_SIZE];
	if (nvml.get_name && nvml.get_name(handle, name, sizeof(name)) == NVML_SUCCESS) {
		name[sizeof(name) - 1] = '\0';
		snprintf(info->name, sizeof(info->name), "%s", name);
	} else {
		snprintf(info->name, sizeof(info->name), "NVIDIA GPU %u", index);
	}
	info->arch = PROTO_ARCH_INVALID;
	nvmlMemory_t mem;
	if (nvml.get_memory && nvml.get_memory(handle, &mem) == NVML_SUCCESS && mem.total > 0) {
		info->dram_total = mem.total;
		info->valid |= 1u << DEVICE_INFO_DRAM_TOTAL;
	}
	unsigned int minor;
	if (nvml.get_minor && nvml.get_minor(handle, &minor) == NVML_SUCCESS)
		snprintf(info->node, sizeof(info->node), "/dev/nvidia%u", minor);
	nvmlPciInfo_t pci;
	if (nvml.get_pci && nvml.get_pci(handle, &pci) == NVML_SUCCESS) {
		pci.busId[sizeof(pci.busId) - 1] = '\0';
		snprintf(info->bus_id, sizeof(info->bus_id), "%s", pci.busId);
	}
	read_text(nvml.get_serial, handle, info->serial, sizeof(info->serial));
	read_text(nvml.get_uuid, handle, info->uuid, sizeof(info->uuid));
	char driver[96] = "";
	if (nvml.get_driver_version && nvml.get_driver_version(driver, sizeof(driver)) == NVML_SUCCESS) {
		driver[sizeof(driver) - 1] = '\0';
		snprintf(info->driver, sizeof(info->driver), "%s", driver);
	}
	info->chips_on_board = 1;
}

static int nvml_probe(struct device_set *set, const char *spec, char *err)
{
	if (spec && *spec) {
		snprintf(err, DEVICE_ERR_LEN, "the nvml backend takes no options ('%s')", spec);
		return -1;
	}
	if (load(set->nvml_library, err) < 0)
		return 0; /* no NVIDIA driver here: not an error */
	unsigned int count = 0;
	nvmlReturn_t rc = nvml.get_count(&count);
	int added = 0;
	for (unsigned int i = 0; rc == NVML_SUCCESS && i < count; i++) {
		nvmlDevice_t handle;
		if (nvml.get_handle(i, &handle) != NVML_SUCCESS)
			continue;
		struct nvml_device *nd = calloc(1, sizeof(*nd));
		if (!nd)
			break;
		struct device *dev = device_set_add(set, &device_backend_nvml);
		if (!dev) {
			free(nd);
			break;
		}
		nd->handle = handle;
		dev->priv = nd;
		nvml.users++;
		read_static(dev, handle, i);
		added++;
	}
	if (added == 0) {
		snprintf(err, DEVICE_ERR_LEN,
			 rc == NVML_SUCCESS ? "NVML reports no device" : "nvmlDeviceGetCount failed");
		if (nvml.users == 0) {
			nvml.shutdown();
			unload();
		}
	}
	return added;
}

static void nvml_refresh(struct device *dev, const struct device_load *load)
{
	(void)load;
	const struct nvml_device *nd = dev->priv;
	if (!nd)
		return;
	struct device_dynamic_info *now = &dev->now;
	unsigned int v;
	if (nvml.get_temperature && nvml.get_temperature(nd->handle, NVML_TEMPERATURE_GPU, &v) == NVML_SUCCESS &&
	    v < 1000)
		DEVICE_SET_READING(now, DEVICE_TEMPERATURE, temperature_mc, (int32_t)v * 1000);
	if (nvml.get_power && nvml.get_power(nd->handle, &v) == NVML_SUCCESS)
		DEVICE_SET_READING(now, DEVICE_POWER, power_mw, v); /* NVML reports milliwatts */
	nvmlUtilization_t util;
	if (nvml.get_utilization && nvml.get_utilization(nd->handle, &util) == NVML_SUCCESS && util.gpu <= 100)
		DEVICE_SET_READING(now, DEVICE_UTILIZATION, utilization, util.gpu);
	if (nvml.get_clock && nvml.get_clock(nd->handle, NVML_CLOCK_SM, &v) == NVML_SUCCESS)
		DEVICE_SET_READING(now, DEVICE_CLOCK, clock_mhz, v);
	nvmlMemory_t mem;
	if (nvml.get_memory && nvml.get_memory(nd->handle, &mem) == NVML_SUCCESS)
		DEVICE_SET_READING(now, DEVICE_MEMORY_USED, memory_used, mem.used);
}

/* Adds one NVML process list; returns 1 when the driver answered. */
static int add_process_list(process_list_fn fn, nvmlDevice_t handle, struct device_holders *out)
{
	if (!fn)
		return 0;
	enum { CAP = DEVICE_MAX_PROCESSES };
	nvmlProcessInfo_v2_t v2[CAP];
	nvmlProcessInfo_v1_t v1[CAP];
	unsigned int count = CAP;
	nvmlReturn_t rc = fn(handle, &count, nvml.procs_v1 ? (void *)v1 : (void *)v2);
	if (rc == NVML_ERROR_INSUFFICIENT_SIZE)
		out->truncated = 1;
	if (rc != NVML_SUCCESS)
		return 0;
	if (count > CAP)
		count = CAP;
	for (unsigned int i = 0; i < count; i++) {
		unsigned int pid = nvml.procs_v1 ? v1[i].pid : v2[i].pid;
		unsigned long long used = nvml.procs_v1 ? v1[i].usedGpuMemory : v2[i].usedGpuMemory;
		if (pid == 0 || pid > INT32_MAX)
			continue;
		uint32_t flags = DEVICE_PROC_DRIVER | (used != NVML_VALUE_NOT_AVAILABLE ? DEVICE_PROC_MEMORY : 0);
		device_holders_add(out, (int32_t)pid, flags, used != NVML_VALUE_NOT_AVAILABLE ? used : 0);
	}
	return 1;
}

static void nvml_holders(const struct device_set *set, const struct device *dev, struct device_holders *out)
{
	(void)set;
	const struct nvml_device *nd = dev->priv;
	if (!nd)
		return;
	int compute = add_process_list(nvml.compute_procs, nd->handle, out);
	int graphics = add_process_list(nvml.graphics_procs, nd->handle, out);
	/* authoritative only when every list the library offers was read */
	out->authoritative = (compute || !nvml.compute_procs) && (graphics || !nvml.graphics_procs) &&
		(compute || graphics) && !out->truncated;
}

static void nvml_release(struct device *dev)
{
	if (!dev->priv)
		return;
	free(dev->priv);
	dev->priv = NULL;
	drop_user();
}

const struct device_backend device_backend_nvml = {
	.name = "nvml",
	.probe = nvml_probe,
	.refresh = nvml_refresh,
	.holders = nvml_holders,
	.release = nvml_release,
};
