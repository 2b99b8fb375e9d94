/*
 * symbolize.h - instruction addresses to "function (file:line)" with
 * elfutils' libdw, from a process's executable mappings (works after the
 * process has exited, as long as its files are on disk).
 */
#ifndef TTALLOC_SYMBOLIZE_H
#define TTALLOC_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "server/state/stacks.h"

/* Loads the ELF files of `modules`. NULL when libdw cannot start. */
struct symbolizer *symbolizer_create(const struct module_span *modules, uint32_t count);

/* Frees it (NULL is fine). */
void symbolizer_destroy(struct symbolizer *sym);

/*
 * Describes `ip` into `out`: "function (file:line)", "function (module)" or
 * "0xADDR (module+0xOFF)" when nothing better is known. `return_address`:
 * ip is a return address, so the call is just before it.
 */
void symbolizer_describe(struct symbolizer *sym, const struct module_span *modules, uint32_t count, uint64_t ip,
			 int return_address, char *out, size_t size);

#endif /* TTALLOC_SYMBOLIZE_H */
