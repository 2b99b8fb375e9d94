/*
 * fake_cuda.h - the fake CUDA runtime's entry points (fake_cudart.c), as
 * cuda_runtime_api.h and cuda.h declare them, for the test program.
 */
#ifndef TTALLOC_FAKE_CUDA_H
#define TTALLOC_FAKE_CUDA_H

#include <stddef.h>

/* An allocation of this size fails with "out of memory". */
#define FAKE_CUDA_FAIL_SIZE ((size_t)0x7FFFFFFFF0ull)

int cudaGetDevice(int *device);
int cudaSetDevice(int device);
int cudaMalloc(void **dev_ptr, size_t size);
int cudaMallocAsync(void **dev_ptr, size_t size, void *stream);
int cudaMallocManaged(void **dev_ptr, size_t size, unsigned int flags);
int cudaFree(void *dev_ptr);
int cudaFreeAsync(void *dev_ptr, void *stream);
int cuCtxGetDevice(int *device);
int cuMemAlloc_v2(unsigned long long *dptr, size_t bytesize);
int cuMemFree_v2(unsigned long long dptr);

#endif /* TTALLOC_FAKE_CUDA_H */
