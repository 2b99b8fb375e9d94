/*
 * symbolize.c - addresses to source locations with libdw (symbolize.h).
 *
 * One Dwfl session per process: each executable file mapping is reported
 * at its load base, then addresses resolve to the enclosing function and,
 * with debug info, to file:line.
 */
#include "server/state/symbolize.h"

#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct symbolizer {
	Dwfl *dwfl;
};

static char *debuginfo_path = NULL;

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct symbolizer *symbolizer_create(const struct module_span *modules, uint32_t count)
{
	struct symbolizer *sym = calloc(1, sizeof(*sym));
	if (!sym)
		return NULL;
	sym->dwfl = dwfl_begin(&offline_callbacks);
	if (!sym->dwfl) {
		free(sym);
		return NULL;
	}
	dwfl_report_begin(sym->dwfl);
	for (uint32_t i = 0; i < count; i++) {
		/* a file has several executable spans at most rarely; report once */
		int seen = 0;
		for (uint32_t j = 0; j < i && !seen; j++)
			seen = strcmp(modules[j].path, modules[i].path) == 0;
		if (!seen)
			dwfl_report_elf(sym->dwfl, modules[i].path, modules[i].path, -1, modules[i].base, false);
	}
	dwfl_report_end(sym->dwfl, NULL, NULL);
	return sym;
}

void symbolizer_destroy(struct symbolizer *sym)
{
	if (!sym)
		return;
	dwfl_end(sym->dwfl);
	free(sym);
}

static const struct module_span *span_of(const struct module_span *modules, uint32_t count, uint64_t ip)
{
	for (uint32_t i = 0; i < count; i++)
		if (ip >= modules[i].start && ip < modules[i].end)
			return &modules[i];
	return NULL;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

void symbolizer_describe(struct symbolizer *sym, const struct module_span *modules, uint32_t count, uint64_t ip,
			 int return_address, char *out, size_t size)
{
	/* a return address points after the call: look up the call itself */
	uint64_t at = return_address && ip ? ip - 1 : ip;
	const struct module_span *span = span_of(modules, count, at);
	Dwfl_Module *mod = sym ? dwfl_addrmodule(sym->dwfl, at) : NULL;
	const char *function = mod ? dwfl_module_addrname(mod, at) : NULL;
	Dwfl_Line *line = mod ? dwfl_module_getsrc(mod, at) : NULL;
	int lineno = 0;
	const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	if (function && file)
		snprintf(out, size, "%s (%s:%d)", function, basename_of(file), lineno);
	else if (function && span)
		snprintf(out, size, "%s (%s)", function, basename_of(span->path));
	else if (span)
		snprintf(out, size, "0x%" PRIx64 " (%s+0x%" PRIx64 ")", ip, basename_of(span->path), at - span->base);
	else
		snprintf(out, size, "0x%" PRIx64, ip);
}
