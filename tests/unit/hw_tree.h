/*
 * hw_tree.h - building small hardware trees (sysfs/procfs/dev layouts) in a
 * temporary directory, for the device backend tests' N/A and edge cases.
 * The full card layouts live in tests/fixtures (make_fixtures.py).
 */
#ifndef TTALLOC_TEST_HW_TREE_H
#define TTALLOC_TEST_HW_TREE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/device.h"

#ifndef TTALLOC_FIXTURES
#error "TTALLOC_FIXTURES must name tests/fixtures (tests/unit/CMakeLists.txt)"
#endif

/* Creates every directory of `path` (mkdir -p). Returns 0 or -1. */
static inline int hw_mkdirs(const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writes ROOT/rel with `text`, creating directories. Returns 0 or -1. */
static inline int hw_write(const char *root, const char *rel, const char *text)
{
	char path[1024], dir[1024];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	if (hw_mkdirs(dir) < 0)
		return -1;
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Makes ROOT/rel a symbolic link to `target`. Returns 0 or -1. */
static inline int hw_link(const char *root, const char *rel, const char *target)
{
	char path[1024], dir[1024];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if (hw_mkdirs(dir) < 0)
		return -1;
	return symlink(target, path);
}

/* A fresh empty directory under /tmp; the name goes into buf. */
static inline char *hw_tempdir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/ttalloc-hwtree-XXXXXX");
	return mkdtemp(buf);
}

/* Removes a tree made by hw_tempdir. */
static inline void hw_remove(const char *root)
{
	char cmd[1200];
	if (strncmp(root, "/tmp/ttalloc-hwtree-", 20) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/*
 * Opens the devices `selection` finds under the hardware root `root`
 * (NULL: the real one), never a real NVML; fails the test (cmocka, included
 * before this header) when they cannot be opened.
 */
static inline void hw_open_set(struct device_set *set, const char *root, const char *selection)
{
	struct device_options opts;
	char err[DEVICE_ERR_LEN];
	device_options_init(&opts);
	opts.selection = selection;
	opts.hw_root = root;
	opts.nvml_library = "libttalloc-test-absent-nvml.so.1";
	if (device_set_open_opts(set, &opts, err) != 0)
		fail_msg("open %s on %s: %s", selection, root ? root : "/", err);
}

#endif /* TTALLOC_TEST_HW_TREE_H */
