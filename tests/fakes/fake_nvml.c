/*
 * fake_nvml.c - a stand-in libnvidia-ml.so.1 for the nvml backend's tests.
 *
 * Exports the NVML entry points ttalloc's nvml backend looks up, with the
 * signatures and struct layouts of nvml.h, returning set values:
 *
 *   device 0 "Fake GPU 0": 80 GiB, 5 GiB used, 45 C, 123456 mW, 37 %, SM 1410 MHz,
 *            minor 0, bus 00000000:17:00.0; compute processes 4242 (512 MiB)
 *            and 4343 (NVML_VALUE_NOT_AVAILABLE), graphics process 4242 (1 MiB)
 *   device 1 "Fake GPU 1": 16 GiB, 0 used; temperature, power, utilization and
 *            clock answer NVML_ERROR_NOT_SUPPORTED, process lists
 *            NVML_ERROR_NO_PERMISSION, minor 1 (exercises every N/A path)
 *
 * Environment: FAKE_NVML_DEVICES=N (0..2, default 2) and FAKE_NVML_INIT_ERROR=N
 * (nvmlInit_v2 returns N). Only the _v2/_v3 process lists are exported, as
 * on current drivers, so the backend's newest-first lookup is exercised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_INSUFFICIENT_SIZE 7

typedef struct nvmlDevice_st {
	int index;
} * nvmlDevice_t;

typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
	unsigned int gpu, memory;
} nvmlUtilization_t;

typedef struct {
	unsigned int pid;
	unsigned long long usedGpuMemory;
	unsigned int gpuInstanceId;
	unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
	char busIdLegacy[16];
	unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} nvmlPciInfo_t;

#define GiB (1024ull * 1024ull * 1024ull)
#define MiB (1024ull * 1024ull)
#define NVML_VALUE_NOT_AVAILABLE (~0ull)

static struct nvmlDevice_st devices[2] = {{0}, {1}};
static int initialised;

static unsigned device_count(void)
{
	const char *n = getenv("FAKE_NVML_DEVICES");
	int count = n ? atoi(n) : 2;
	return count < 0 ? 0 : count > 2 ? 2 : (unsigned)count;
}

nvmlReturn_t nvmlInit_v2(void)
{
	const char *err = getenv("FAKE_NVML_INIT_ERROR");
	if (err && atoi(err) != 0)
		return atoi(err);
	initialised = 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	initialised = 0;
	return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
	return result == NVML_SUCCESS ? "Success" : "Fake NVML error";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	*count = device_count();
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	if (!initialised)
		return NVML_ERROR_UNINITIALIZED;
	if (index >= device_count())
		return NVML_ERROR_INVALID_ARGUMENT;
	*device = &devices[index];
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	const char *text = device->index == 0 ? "Fake GPU 0" : "Fake GPU 1";
	if (length < strlen(text) + 1)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	strcpy(name, text);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	memory->total = device->index == 0 ? 80 * GiB : 16 * GiB;
	memory->used = device->index == 0 ? 5 * GiB : 0;
	memory->free = memory->total - memory->used;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temp)
{
	if (sensor != 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (device->index != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*temp = 45;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
	if (device->index != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*power = 123456; /* milliwatts */
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *util)
{
	if (device->index != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	util->gpu = 37;
	util->memory = 12;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
	if (device->index != 0 || type != 1)
		return NVML_ERROR_NOT_SUPPORTED;
	*clock = 1410;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor)
{
	*minor = (unsigned)device->index;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
	memset(pci, 0, sizeof(*pci));
	strcpy(pci->busId, device->index == 0 ? "00000000:17:00.0" : "00000000:65:00.0");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
	snprintf(serial, length, "%s", device->index == 0 ? "1650924060001" : "1650924060002");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	snprintf(version, length, "550.54.15");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	snprintf(uuid, length, "GPU-%s",
		 device->index == 0 ? "6f1e9b2c-0d3a-4b5c-8e7f-a1b2c3d4e5f6" : "7a2f0c3d-1e4b-5c6d-9f80-b2c3d4e5f6a7");
	return NVML_SUCCESS;
}

static nvmlReturn_t list(unsigned int *count, nvmlProcessInfo_t *infos, const nvmlProcessInfo_t *rows, unsigned int n)
{
	if (*count < n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	memcpy(infos, rows, n * sizeof(*rows));
	*count = n;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos)
{
	static const nvmlProcessInfo_t rows[] = {
		{4242, 512 * MiB, 0xFFFFFFFFu, 0xFFFFFFFFu},
		{4343, NVML_VALUE_NOT_AVAILABLE, 0xFFFFFFFFu, 0xFFFFFFFFu},
	};
	if (device->index != 0)
		return NVML_ERROR_NO_PERMISSION;
	return list(count, infos, rows, 2);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
						      nvmlProcessInfo_t *infos)
{
	static const nvmlProcessInfo_t rows[] = {{4242, 1 * MiB, 0xFFFFFFFFu, 0xFFFFFFFFu}};
	if (device->index != 0)
		return NVML_ERROR_NO_PERMISSION;
	return list(count, infos, rows, 1);
}
