/*
 * fake_tt_metal.h - the fake tt-metal's own C interface (not tt-metal's):
 * what the tests, the fake application and the benchmark use to drive
 * libtt_metal.so of tests/fakes/tt-metal through its C++ classes
 * (tests/fakes/tt-metal/README.md). Every function is safe to call from
 * any thread; device ids are those given to the open functions.
 */
#ifndef FAKE_TT_METAL_H
#define FAKE_TT_METAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Defined (1) by every build of the fake and never by tt-metal. */
extern const int ttalloc_fake_tt_metal;

/* Opens chip `id` (0..63). Returns 0, or -1 when it is already open. */
int fake_ttmetal_open_device(int id);

/*
 * Opens a mesh of the open chips chips[0..n-1], named `mesh_id` (not a chip
 * id: its buffers hold on every chip). Returns 0 or -1.
 */
int fake_ttmetal_open_mesh(int mesh_id, const int *chips, int n);

/*
 * Buffer::create on device (or mesh) `device` with tt-metal's BufferType
 * code `type`. Returns the buffer, or NULL with tt-metal's message in err
 * (its "Out of Memory: ..." text when the device is full).
 */
void *fake_ttmetal_buffer_create(int device, int type, uint64_t size, char *err, size_t err_len);

/* DeallocateBuffer, then drops the buffer. */
void fake_ttmetal_buffer_destroy(void *buffer);

/* Buffer::address() (0 when a graph-capture hook took the allocation). */
uint64_t fake_ttmetal_buffer_address(void *buffer);

/*
 * GraphTracker::track_allocate_cb: a circular buffer of `size` bytes per
 * core on `cores` cores at L1 address `addr`, as a program's first run on
 * the device reports it.
 */
void fake_ttmetal_cb_allocate(int device, uint64_t addr, uint64_t size, uint32_t cores, int globally_allocated);

/* GraphTracker::track_deallocate_cb: a program with CBs on `device` was destroyed. */
void fake_ttmetal_cb_deallocate(int device);

/* GraphTracker::track_program for a new Program on `device`. */
void fake_ttmetal_program(int device);

/* An op as ttnn runs one: track_function_start(name, two arguments), track_function_end(). */
void fake_ttmetal_run_op(const char *name);

/*
 * ttnn.graph.begin_graph_capture: pushes a capture processor on this
 * thread; with no_dispatch, also installs the hook that keeps buffers from
 * being allocated (RunMode::NO_DISPATCH).
 */
void fake_ttmetal_capture_begin(int no_dispatch);

/* ttnn.graph.end_graph_capture: pops it (and the hook). Returns the events it saw. */
long fake_ttmetal_capture_end(void);

/* GraphTracker::is_enabled() on this thread. */
int fake_ttmetal_is_enabled(void);

/* Processors on this thread's stack; background processors. */
int fake_ttmetal_thread_processors(void);
int fake_ttmetal_background_processors(void);

/* GraphTracker::clear() on this thread. */
void fake_ttmetal_clear(void);

/*
 * For the benchmark: a Buffer of `size` bytes at `address`, never allocated
 * or tracked; fake_ttmetal_bench_track() then reports it allocated and
 * deallocated through GraphTracker, as Buffer::create and
 * DeallocateBuffer would, without the fake's allocator.
 */
void *fake_ttmetal_bench_buffer(int device, int type, uint64_t size);
void fake_ttmetal_bench_track(void *buffer, uint64_t address);

#ifdef __cplusplus
}
#endif

#endif /* FAKE_TT_METAL_H */
