/*
 * cuda.c - libttalloc_cuda.so, an LD_PRELOAD interposer that reports CUDA
 * device allocations to ttalloc-server as DRAM buffers:
 *
 *   LD_PRELOAD=libttalloc_cuda.so TT_ALLOC_TRACKING_ENABLED=1 ./app
 *
 * Wrapped: cudaMalloc, cudaFree, cudaMallocAsync, cudaFreeAsync,
 * cudaMallocManaged (runtime API) and cuMemAlloc_v2, cuMemFree_v2 (driver
 * API). Each wrapper calls the real function (dlsym(RTLD_NEXT)) and returns
 * its result untouched; only a successful allocation is reported, with the
 * device current at that moment (cudaGetDevice, cuCtxGetDevice), and only a
 * successful free of a pointer reported here is reported freed. The client
 * library (linked in) does the rest: tracking off unless
 * TT_ALLOC_TRACKING_ENABLED=1, never blocking, resync after a server restart.
 *
 * Device ids: ttalloc's nvml backend numbers GPUs as NVML does, while CUDA
 * numbers them by CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER. When the
 * device's PCI bus id and NVML are available the NVML index is reported, so
 * both agree; otherwise the CUDA ordinal is.
 *
 * Limits (docs/HARDWARE.md): the runtime must be the shared libcudart
 * (nvcc -cudart shared; the static one cannot be interposed), and driver
 * calls that cudart makes internally are not seen (they are not looked up
 * by name), which is why runtime allocations are not counted twice.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

/* ---- the few CUDA types used (cuda_runtime_api.h, cuda.h) ---- */

typedef int cudaError_t; /* cudaSuccess = 0 */
typedef int CUresult;    /* CUDA_SUCCESS = 0 */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr; /* CUdeviceptr_v2 on 64-bit hosts */
typedef struct CUstream_st *cudaStream_t;

#define CUDA_OK 0
#define CUDA_ERROR_UNKNOWN 999 /* cudaErrorUnknown and CUDA_ERROR_UNKNOWN alike */

#define EXPORT __attribute__((visibility("default")))

EXPORT cudaError_t cudaMalloc(void **dev_ptr, size_t size);
EXPORT cudaError_t cudaFree(void *dev_ptr);
EXPORT cudaError_t cudaMallocAsync(void **dev_ptr, size_t size, cudaStream_t stream);
EXPORT cudaError_t cudaFreeAsync(void *dev_ptr, cudaStream_t stream);
EXPORT cudaError_t cudaMallocManaged(void **dev_ptr, size_t size, unsigned int flags);
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr);

/* The next definition of `name` after this library (the real CUDA). */
static void *real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

#define REAL(var, name)                                \
	do {                                           \
		if (!(var))                            \
			*(void **)&(var) = real(name); \
	} while (0)

/* Set while a wrapper runs, so a nested wrapped call is not counted twice. */
static __thread int in_wrapper;

/* ---- pointers reported live: address -> device ---- */

struct live_ptr {
	uint64_t address;
	int device;
	struct live_ptr *next;
};

#define BUCKETS 4096
static struct live_ptr *buckets[BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t bucket_of(uint64_t address)
{
	return (size_t)((address >> 8) * 0x9E3779B97F4A7C15ull >> 52) & (BUCKETS - 1);
}

static void table_put(uint64_t address, int device)
{
	struct live_ptr *p = malloc(sizeof(*p));
	if (!p)
		return; /* not remembered: its free will not be reported, nothing breaks */
	p->address = address;
	p->device = device;
	pthread_mutex_lock(&table_lock);
	size_t b = bucket_of(address);
	p->next = buckets[b];
	buckets[b] = p;
	pthread_mutex_unlock(&table_lock);
}

/*
 * A forked child starts with an empty client table (the library's own
 * atfork rule), so it must not report frees of its parent's pointers.
 */
static void table_clear_in_child(void)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		while (buckets[b]) {
			struct live_ptr *p = buckets[b];
			buckets[b] = p->next;
			free(p);
		}
	}
	pthread_mutex_unlock(&table_lock); /* taken by table_lock_for_fork */
}

static void table_lock_for_fork(void)
{
	pthread_mutex_lock(&table_lock);
}

static void table_unlock_after_fork(void)
{
	pthread_mutex_unlock(&table_lock);
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
	pthread_atfork(table_lock_for_fork, table_unlock_after_fork, table_clear_in_child);
}

/* Removes address; returns its device, or -1 when it was not reported here. */
static int table_take(uint64_t address)
{
	int device = -1;
	pthread_mutex_lock(&table_lock);
	for (struct live_ptr **pp = &buckets[bucket_of(address)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->address != address)
			continue;
		struct live_ptr *p = *pp;
		*pp = p->next;
		device = p->device;
		free(p);
		break;
	}
	pthread_mutex_unlock(&table_lock);
	return device;
}

/* ---- which ttalloc device a CUDA device is ---- */

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

#define MAX_CUDA_DEVICES 64
static int device_map[MAX_CUDA_DEVICES]; /* ttalloc id + 1; 0 = not looked up */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

/* The NVML index of the GPU at `bus_id`, or -1 (no NVML, unknown bus id). */
static int nvml_index_of(const char *bus_id)
{
	static void *nvml;
	static int tried;
	static nvmlReturn_t (*by_bus)(const char *, nvmlDevice_t *);
	static nvmlReturn_t (*get_index)(nvmlDevice_t, unsigned int *);
	if (!tried) {
		tried = 1;
		nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
		nvmlReturn_t (*init)(void) = NULL;
		if (nvml) {
			*(void **)&init = dlsym(nvml, "nvmlInit_v2");
			*(void **)&by_bus = dlsym(nvml, "nvmlDeviceGetHandleByPciBusId_v2");
			*(void **)&get_index = dlsym(nvml, "nvmlDeviceGetIndex");
		}
		if (!init || !by_bus || !get_index || init() != 0) {
			by_bus = NULL;
			get_index = NULL;
		}
	}
	nvmlDevice_t dev;
	unsigned int index;
	if (!by_bus || by_bus(bus_id, &dev) != 0 || get_index(dev, &index) != 0 || index > INT32_MAX)
		return -1;
	return (int)index;
}

/*
 * The ttalloc device id of CUDA device `ordinal`, whose PCI bus id is asked
 * with `bus_id_of` (cudaDeviceGetPCIBusId or cuDeviceGetPCIBusId, both
 * (char *, int, int)); cached per ordinal.
 */
static int ttalloc_device(int ordinal, int (*bus_id_of)(char *, int, int))
{
	if (ordinal < 0 || ordinal >= MAX_CUDA_DEVICES)
		return ordinal;
	pthread_mutex_lock(&map_lock);
	int cached = device_map[ordinal];
	if (!cached) {
		char bus_id[64];
		int index = -1;
		if (bus_id_of && bus_id_of(bus_id, (int)sizeof(bus_id), ordinal) == CUDA_OK) {
			bus_id[sizeof(bus_id) - 1] = '\0';
			index = nvml_index_of(bus_id);
		}
		cached = device_map[ordinal] = (index >= 0 ? index : ordinal) + 1;
	}
	pthread_mutex_unlock(&map_lock);
	return cached - 1;
}

static int runtime_device(void)
{
	static cudaError_t (*get_device)(int *);
	static int (*bus_id_of)(char *, int, int);
	REAL(get_device, "cudaGetDevice");
	REAL(bus_id_of, "cudaDeviceGetPCIBusId");
	int ordinal = 0;
	if (!get_device || get_device(&ordinal) != CUDA_OK)
		ordinal = 0;
	return ttalloc_device(ordinal, bus_id_of);
}

static int driver_device(void)
{
	static CUresult (*ctx_device)(CUdevice *);
	static int (*bus_id_of)(char *, int, int);
	REAL(ctx_device, "cuCtxGetDevice");
	REAL(bus_id_of, "cuDeviceGetPCIBusId");
	CUdevice ordinal = 0;
	if (!ctx_device || ctx_device(&ordinal) != CUDA_OK)
		ordinal = 0;
	return ttalloc_device(ordinal, bus_id_of);
}

/* ---- reporting ---- */

static void report_alloc(uint64_t address, size_t size, int (*device_of)(void))
{
	if (!address || !size || !ttalloc_enabled())
		return;
	int device = device_of();
	table_put(address, device);
	ttalloc_report_alloc(device, TTALLOC_DRAM, address, size);
}

static void report_free(uint64_t address)
{
	if (!address || !ttalloc_enabled())
		return;
	int device = table_take(address);
	if (device >= 0)
		ttalloc_report_free(device, address);
}

/* ---- the wrappers ---- */

cudaError_t cudaMalloc(void **dev_ptr, size_t size)
{
	static cudaError_t (*fn)(void **, size_t);
	REAL(fn, "cudaMalloc");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	cudaError_t rc = fn(dev_ptr, size);
	if (outer && rc == CUDA_OK && dev_ptr)
		report_alloc((uint64_t)(uintptr_t)*dev_ptr, size, runtime_device);
	in_wrapper--;
	return rc;
}

cudaError_t cudaMallocAsync(void **dev_ptr, size_t size, cudaStream_t stream)
{
	static cudaError_t (*fn)(void **, size_t, cudaStream_t);
	REAL(fn, "cudaMallocAsync");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	cudaError_t rc = fn(dev_ptr, size, stream);
	if (outer && rc == CUDA_OK && dev_ptr)
		report_alloc((uint64_t)(uintptr_t)*dev_ptr, size, runtime_device);
	in_wrapper--;
	return rc;
}

cudaError_t cudaMallocManaged(void **dev_ptr, size_t size, unsigned int flags)
{
	static cudaError_t (*fn)(void **, size_t, unsigned int);
	REAL(fn, "cudaMallocManaged");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	cudaError_t rc = fn(dev_ptr, size, flags);
	if (outer && rc == CUDA_OK && dev_ptr)
		report_alloc((uint64_t)(uintptr_t)*dev_ptr, size, runtime_device);
	in_wrapper--;
	return rc;
}

cudaError_t cudaFree(void *dev_ptr)
{
	static cudaError_t (*fn)(void *);
	REAL(fn, "cudaFree");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	cudaError_t rc = fn(dev_ptr);
	if (outer && rc == CUDA_OK)
		report_free((uint64_t)(uintptr_t)dev_ptr);
	in_wrapper--;
	return rc;
}

cudaError_t cudaFreeAsync(void *dev_ptr, cudaStream_t stream)
{
	static cudaError_t (*fn)(void *, cudaStream_t);
	REAL(fn, "cudaFreeAsync");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	cudaError_t rc = fn(dev_ptr, stream);
	if (outer && rc == CUDA_OK)
		report_free((uint64_t)(uintptr_t)dev_ptr);
	in_wrapper--;
	return rc;
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	static CUresult (*fn)(CUdeviceptr *, size_t);
	REAL(fn, "cuMemAlloc_v2");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	CUresult rc = fn(dptr, bytesize);
	if (outer && rc == CUDA_OK && dptr)
		report_alloc((uint64_t)*dptr, bytesize, driver_device);
	in_wrapper--;
	return rc;
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	static CUresult (*fn)(CUdeviceptr);
	REAL(fn, "cuMemFree_v2");
	if (!fn)
		return CUDA_ERROR_UNKNOWN;
	int outer = !in_wrapper++;
	CUresult rc = fn(dptr);
	if (outer && rc == CUDA_OK)
		report_free((uint64_t)dptr);
	in_wrapper--;
	return rc;
}
