/*
 * fake_cudart.c - a stand-in CUDA runtime and driver (libfake_cudart.so)
 * for the libttalloc_cuda.so interposer test: the entry points the
 * interposer wraps or asks, with CUDA's signatures, over host memory.
 * Exported under the version node "libcudart.so.13" (fake_cudart.map), as
 * the real libcudart versions its symbols.
 *
 * Error paths, so the test can check results pass through untouched:
 *   cudaMalloc & co. of FAKE_CUDA_FAIL_SIZE bytes return 2 (cudaErrorMemoryAllocation)
 *   cuMemAlloc_v2 of that size returns 2 (CUDA_ERROR_OUT_OF_MEMORY)
 *   cudaFree / cuMemFree_v2 of a pointer it did not hand out return 1
 *   (cudaErrorInvalidValue / CUDA_ERROR_INVALID_VALUE)
 * No device has a PCI bus id here (cudaDeviceGetPCIBusId is not exported),
 * so the interposer reports CUDA ordinals.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fake_cuda.h"

#define MAX_LIVE 1024
static void *live[MAX_LIVE];
static int current_device;

static int remember(void *p)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = p;
			return 0;
		}
	return -1;
}

static int forget(void *p)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (p && live[i] == p) {
			live[i] = NULL;
			return 0;
		}
	return -1;
}

static int fake_alloc(void **out, size_t size)
{
	if (!out)
		return 1;
	if (size == FAKE_CUDA_FAIL_SIZE)
		return 2;
	/* 256-byte aligned like cudaMalloc; never 0 even for size 0 */
	void *p = aligned_alloc(256, size ? (size + 255) / 256 * 256 : 256);
	if (!p || remember(p) < 0) {
		free(p);
		return 2;
	}
	*out = p;
	return 0;
}

static int fake_free(void *p)
{
	if (!p)
		return 0; /* cudaFree(NULL) is a no-op that succeeds */
	if (forget(p) < 0)
		return 1;
	free(p);
	return 0;
}

int cudaGetDevice(int *device)
{
	*device = current_device;
	return 0;
}

int cudaSetDevice(int device)
{
	if (device < 0 || device > 7)
		return 101; /* cudaErrorInvalidDevice */
	current_device = device;
	return 0;
}

int cudaMalloc(void **dev_ptr, size_t size)
{
	return fake_alloc(dev_ptr, size);
}

int cudaMallocAsync(void **dev_ptr, size_t size, void *stream)
{
	(void)stream;
	return fake_alloc(dev_ptr, size);
}

int cudaMallocManaged(void **dev_ptr, size_t size, unsigned int flags)
{
	(void)flags;
	return fake_alloc(dev_ptr, size);
}

int cudaFree(void *dev_ptr)
{
	return fake_free(dev_ptr);
}

int cudaFreeAsync(void *dev_ptr, void *stream)
{
	(void)stream;
	return fake_free(dev_ptr);
}

int cuCtxGetDevice(int *device)
{
	*device = current_device;
	return 0;
}

int cuMemAlloc_v2(unsigned long long *dptr, size_t bytesize)
{
	void *p = NULL;
	int rc = fake_alloc(&p, bytesize);
	if (rc == 0)
		*dptr = (unsigned long long)(uintptr_t)p;
	return rc;
}

int cuMemFree_v2(unsigned long long dptr)
{
	return fake_free((void *)(uintptr_t)dptr);
}
