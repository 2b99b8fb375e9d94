/*
 * test_ttmetal_shm.c - the reader of tt-metal's shared-memory regions
 * (src/devices/ttmetal_shm.h): versions 2..4, readiness, short files,
 * unknown versions, chip and process slots, names, a writer thread changing
 * the region while it is read, and the file names.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/ttmetal_shm.h"

#define MiB (1024ull * 1024ull)
#define STORE(field, value) atomic_store_explicit(&(field), (value), memory_order_relaxed)

static struct ttmetal_shm_region *new_region(void)
{
	struct ttmetal_shm_region *r = aligned_alloc(64, sizeof(*r));
	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	return r;
}

/* What tt-metal's initialize_region leaves: the version, the ids, empty chip slots but the gateway's. */
static void init_region(struct ttmetal_shm_region *r, uint32_t version, uint32_t device, uint64_t asic)
{
	memset(r, 0, sizeof(*r));
	STORE(r->version, version);
	STORE(r->asic_id, asic);
	STORE(r->device_id, device);
	for (int i = 0; i < TTMETAL_SHM_MAX_CHIPS; i++)
		STORE(r->chip_stats[i].chip_id, i == 0 ? device : TTMETAL_SHM_CHIP_UNUSED);
	if (version >= 4)
		STORE(r->init_state, TTMETAL_SHM_INIT_READY);
}

static void set_name(struct ttmetal_shm_process_stats *p, const char *name)
{
	char text[TTMETAL_SHM_NAME_LEN] = {0};
	uint64_t words[TTMETAL_SHM_NAME_LEN / 8];
	snprintf(text, sizeof(text), "%s", name);
	memcpy(words, text, sizeof(words));
	for (size_t i = 0; i < TTMETAL_SHM_NAME_LEN / 8; i++)
		STORE(p->process_name[i], words[i]);
}

/* record_allocation's effect, without the atomicity of the real writer (single-threaded tests). */
static void add_process(struct ttmetal_shm_region *r, int slot, int32_t pid, const char *name, uint64_t dram,
			uint64_t l1, uint64_t l1_small, uint64_t trace, uint64_t cb)
{
	struct ttmetal_shm_process_stats *p = &r->processes[slot];
	STORE(p->pid, pid);
	STORE(p->dram_allocated, dram);
	STORE(p->l1_allocated, l1);
	STORE(p->l1_small_allocated, l1_small);
	STORE(p->trace_allocated, trace);
	STORE(p->cb_allocated, cb);
	STORE(p->last_update_timestamp, 1700000000000000000ull + (uint64_t)slot);
	set_name(p, name);
	atomic_fetch_add(&r->total_dram_allocated, dram);
	atomic_fetch_add(&r->total_l1_allocated, l1);
	atomic_fetch_add(&r->total_l1_small_allocated, l1_small);
	atomic_fetch_add(&r->total_trace_allocated, trace);
	atomic_fetch_add(&r->total_cb_allocated, cb);
	atomic_fetch_add(&r->chip_stats[0].dram_allocated, dram);
	atomic_fetch_add(&r->chip_stats[0].l1_allocated, l1);
	atomic_fetch_add(&r->num_active_processes, 1);
	atomic_fetch_add(&r->reference_count, 1);
}

static void test_layout_matches_the_cpp_header(void **state)
{
	(void)state;
	/* the static asserts are the real check; these say the sizes the versions need */
	assert_int_equal(sizeof(struct ttmetal_shm_region), 8576);
	assert_int_equal(TTMETAL_SHM_SIZE_V3, 8536);
	assert_int_equal(TTMETAL_SHM_SIZE_V4, 8540);
	assert_int_equal(offsetof(struct ttmetal_shm_region, processes[1]), 856 + 120);
	assert_int_equal(offsetof(struct ttmetal_shm_region, chip_stats[15].cb_allocated), 88 + 15 * 48 + 40);
}

static void test_versions_2_3_4_read_the_same_fields(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	for (uint32_t version = 2; version <= 4; version++) {
		init_region(r, version, 1, 0x1234567890ull);
		add_process(r, 0, 4242, "python3", 300 * MiB, 2 * MiB, 64 * 1024, 8 * MiB, 1 * MiB);
		add_process(r, 5, 4343, "pytest", 100 * MiB, 0, 0, 0, 0);
		struct ttmetal_shm_snapshot snap;
		assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
		assert_int_equal(snap.version, version);
		assert_int_equal(snap.device_id, 1);
		assert_int_equal(snap.asic_id, 0x1234567890ull);
		assert_true(snap.settled);
		assert_int_equal(snap.totals[TTMETAL_SHM_DRAM], 400 * MiB);
		assert_int_equal(snap.totals[TTMETAL_SHM_CB], 1 * MiB);
		assert_int_equal(snap.process_count, 2);
		assert_int_equal(snap.processes[0].pid, 4242);
		assert_int_equal(snap.processes[0].slot, 0);
		assert_string_equal(snap.processes[0].name, "python3");
		assert_int_equal(snap.processes[0].used[TTMETAL_SHM_TRACE], 8 * MiB);
		assert_int_equal(snap.processes[0].used[TTMETAL_SHM_L1_SMALL], 64 * 1024);
		assert_int_equal(snap.processes[1].pid, 4343);
		assert_int_equal(snap.processes[1].slot, 5);
		assert_int_equal(snap.chip_count, 1);
		assert_int_equal(snap.chips[0].chip_id, 1);
		assert_false(snap.chips[0].remote);
		assert_int_equal(snap.chips[0].used[TTMETAL_SHM_DRAM], 400 * MiB);
	}
	free(r);
}

static void test_remote_chip_slots_are_listed(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 4, 0, 7);
	STORE(r->chip_stats[1].chip_id, 1);
	STORE(r->chip_stats[1].is_remote, 1);
	STORE(r->chip_stats[1].l1_allocated, 5 * MiB);
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_int_equal(snap.chip_count, 2);
	assert_int_equal(snap.chips[1].chip_id, 1);
	assert_true(snap.chips[1].remote);
	assert_int_equal(snap.chips[1].slot, 1);
	assert_int_equal(snap.chips[1].used[TTMETAL_SHM_L1], 5 * MiB);
	free(r);
}

static void test_first_v2_writers_zeroed_empty_chip_slots(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 2, 3, 7);
	for (int i = 1; i < TTMETAL_SHM_MAX_CHIPS; i++)
		STORE(r->chip_stats[i].chip_id, 0); /* "0 = unused" in the first v2 layout */
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_int_equal(snap.chip_count, 1);
	assert_int_equal(snap.chips[0].chip_id, 3);
	/* in v3 chip 0 is a real chip id */
	init_region(r, 3, 3, 7);
	STORE(r->chip_stats[1].chip_id, 0);
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_int_equal(snap.chip_count, 2);
	free(r);
}

static void test_unknown_versions_give_no_numbers(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	uint32_t versions[] = {0, 1, 5, 7, 0xffffffffu};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		init_region(r, 3, 0, 7);
		add_process(r, 0, 4242, "python3", MiB, 0, 0, 0, 0);
		STORE(r->version, versions[i]);
		struct ttmetal_shm_snapshot snap = {.process_count = 99};
		assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_BAD_VERSION);
		assert_int_equal(snap.process_count, 99); /* untouched */
	}
	free(r);
}

static void test_v4_not_ready_is_half_initialised(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	uint32_t states[] = {0, 1, 0x52454458u};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		init_region(r, 4, 0, 7);
		STORE(r->init_state, states[i]);
		struct ttmetal_shm_snapshot snap;
		assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_NOT_READY);
	}
	/* v3 has no init_state: whatever its padding holds is ignored */
	init_region(r, 3, 0, 7);
	STORE(r->init_state, 1);
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	free(r);
}

static void test_short_regions_are_truncated(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	struct ttmetal_shm_snapshot snap;
	init_region(r, 3, 0, 7);
	assert_int_equal(ttmetal_shm_read(r, 0, &snap), TTMETAL_SHM_TRUNCATED);
	assert_int_equal(ttmetal_shm_read(r, 3, &snap), TTMETAL_SHM_TRUNCATED);
	assert_int_equal(ttmetal_shm_read(r, 4000, &snap), TTMETAL_SHM_TRUNCATED);
	assert_int_equal(ttmetal_shm_read(r, TTMETAL_SHM_SIZE_V3 - 1, &snap), TTMETAL_SHM_TRUNCATED);
	assert_int_equal(ttmetal_shm_read(r, TTMETAL_SHM_SIZE_V3, &snap), TTMETAL_SHM_OK);
	init_region(r, 4, 0, 7);
	assert_int_equal(ttmetal_shm_read(r, TTMETAL_SHM_SIZE_V3, &snap), TTMETAL_SHM_TRUNCATED);
	assert_int_equal(ttmetal_shm_read(r, TTMETAL_SHM_SIZE_V4, &snap), TTMETAL_SHM_OK);
	free(r);
}

static void test_empty_and_releasing_slots_are_skipped(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 4, 0, 7);
	add_process(r, 3, 4242, "a", MiB, 0, 0, 0, 0);
	add_process(r, 7, -1, "being released", MiB, 0, 0, 0, 0); /* SHM_SLOT_RELEASING */
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_int_equal(snap.process_count, 1);
	assert_int_equal(snap.processes[0].pid, 4242);
	free(r);
}

static void test_names_are_printable_and_terminated(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 3, 0, 7);
	add_process(r, 0, 10, "evil\033[2J\nname", MiB, 0, 0, 0, 0);
	/* 64 bytes with no NUL */
	add_process(r, 1, 11, "", MiB, 0, 0, 0, 0);
	uint64_t xs;
	memset(&xs, 'x', sizeof(xs));
	for (int i = 0; i < TTMETAL_SHM_NAME_LEN / 8; i++)
		STORE(r->processes[1].process_name[i], xs);
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_string_equal(snap.processes[0].name, "evil?[2J?name");
	assert_int_equal(strlen(snap.processes[1].name), TTMETAL_SHM_NAME_LEN - 1);
	free(r);
}

/* ---- a writer changing the region while it is read ---- */

/*
 * The writer keeps one process's DRAM at one of two values whose halves
 * differ (a torn 64-bit read would show a mixture), moves 1 MiB between L1
 * and L1_SMALL, and re-claims a second slot under new pids, as tt-metal's
 * record_allocation and attach do.
 */
#define DRAM_A 0x0000000100000000ull
#define DRAM_B 0x00000000ffffffffull

struct writer {
	struct ttmetal_shm_region *r;
	atomic_int stop;
	uint64_t rounds;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct ttmetal_shm_region *r = w->r;
	while (!atomic_load(&w->stop)) {
		uint64_t n = ++w->rounds;
		atomic_store(&r->processes[0].dram_allocated, n & 1 ? DRAM_A : DRAM_B);
		atomic_store(&r->total_dram_allocated, n & 1 ? DRAM_A : DRAM_B);
		if (n & 2) {
			atomic_fetch_sub(&r->processes[0].l1_allocated, MiB);
			atomic_fetch_add(&r->processes[0].l1_small_allocated, MiB);
		} else {
			atomic_fetch_sub(&r->processes[0].l1_small_allocated, MiB);
			atomic_fetch_add(&r->processes[0].l1_allocated, MiB);
		}
		/* slot 1: released and claimed by another pid */
		atomic_store(&r->processes[1].pid, 0);
		set_name(&r->processes[1], n & 4 ? "worker-even" : "worker-odd");
		atomic_store(&r->processes[1].pid, (int32_t)(5000 + (n & 7)));
		atomic_store(&r->last_update_timestamp, n);
	}
	return NULL;
}

static void test_reads_while_a_writer_updates_stay_whole(void **state)
{
	(void)state;
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 4, 0, 7);
	add_process(r, 0, 4242, "python3", DRAM_A, 4 * MiB, 4 * MiB, 0, 0);
	STORE(r->total_dram_allocated, DRAM_A);
	struct writer w = {.r = r};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	int settled = 0;
	for (int i = 0; i < 20000; i++) {
		struct ttmetal_shm_snapshot snap;
		assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
		assert_true(snap.process_count >= 1 && snap.process_count <= 2);
		const struct ttmetal_shm_process *p = &snap.processes[0];
		assert_int_equal(p->pid, 4242);
		/* every value whole: one of the two, never a mixture of their halves */
		assert_true(p->used[TTMETAL_SHM_DRAM] == DRAM_A || p->used[TTMETAL_SHM_DRAM] == DRAM_B);
		assert_true(snap.totals[TTMETAL_SHM_DRAM] == DRAM_A || snap.totals[TTMETAL_SHM_DRAM] == DRAM_B);
		uint64_t l1 = p->used[TTMETAL_SHM_L1], l1s = p->used[TTMETAL_SHM_L1_SMALL];
		assert_true(l1 % MiB == 0 && l1s % MiB == 0 && l1 <= 5 * MiB && l1s <= 5 * MiB);
		if (snap.process_count == 2) {
			const struct ttmetal_shm_process *q = &snap.processes[1];
			assert_true(q->pid >= 5000 && q->pid < 5008);
			assert_true(strcmp(q->name, "worker-even") == 0 || strcmp(q->name, "worker-odd") == 0);
		}
		settled += snap.settled;
	}
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	assert_true(w.rounds > 0);
	/* quiet again: one read settles, with the writer's last values */
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read(r, sizeof(*r), &snap), TTMETAL_SHM_OK);
	assert_true(snap.settled);
	assert_int_equal(snap.attempts, 2);
	assert_int_equal(snap.processes[0].used[TTMETAL_SHM_DRAM], w.rounds & 1 ? DRAM_A : DRAM_B);
	assert_int_equal(snap.processes[0].used[TTMETAL_SHM_L1] + snap.processes[0].used[TTMETAL_SHM_L1_SMALL],
			 8 * MiB);
	print_message("      %d of 20000 reads settled while %llu writes went on\n", settled,
		      (unsigned long long)w.rounds);
	free(r);
}

/* ---- files ---- */

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_files_are_mapped_read_only_and_explained(void **state)
{
	(void)state;
	char dir[] = "/tmp/ttmetal_shm_XXXXXX", path[128], why[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tt_device_42_memory", dir);
	struct ttmetal_shm_region *r = new_region();
	init_region(r, 4, 1, 42);
	add_process(r, 0, 4242, "python3", 3 * MiB, 0, 0, 0, 0);
	write_file(path, r, sizeof(*r));
	chmod(path, 0400); /* read-only is enough: nothing is written */
	struct ttmetal_shm_snapshot snap;
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_OK);
	assert_int_equal(snap.totals[TTMETAL_SHM_DRAM], 3 * MiB);
	assert_string_equal(why, "");

	write_file(path, r, 4000);
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_TRUNCATED);
	assert_string_equal(why, "4000 bytes; a version 4 region needs 8540");
	write_file(path, r, 2);
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_TRUNCATED);

	STORE(r->version, 9);
	write_file(path, r, sizeof(*r));
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_BAD_VERSION);
	assert_string_equal(why, "version 9; this ttalloc reads versions 2..4");

	STORE(r->version, 4);
	STORE(r->init_state, 1);
	write_file(path, r, sizeof(*r));
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_NOT_READY);
	assert_non_null(strstr(why, "not initialised yet"));

	snprintf(path, sizeof(path), "%s/tt_device_43_memory", dir);
	assert_int_equal(ttmetal_shm_read_file(path, &snap, why, sizeof(why)), TTMETAL_SHM_UNREADABLE);
	assert_int_equal(ttmetal_shm_read_file(dir, &snap, why, sizeof(why)), TTMETAL_SHM_UNREADABLE);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
	free(r);
}

static void test_file_names(void **state)
{
	(void)state;
	uint64_t id = 0;
	assert_true(ttmetal_shm_parse_name("tt_device_0_memory", &id));
	assert_int_equal(id, 0);
	assert_true(ttmetal_shm_parse_name("tt_device_18446744073709551615_memory", &id));
	assert_int_equal(id, UINT64_MAX);
	assert_false(ttmetal_shm_parse_name("tt_device_18446744073709551616_memory", &id)); /* overflow */
	assert_false(ttmetal_shm_parse_name("tt_device__memory", &id));
	assert_false(ttmetal_shm_parse_name("tt_device_12_memory.tmp", &id));
	assert_false(ttmetal_shm_parse_name("tt_device_0x12_memory", &id));
	assert_false(ttmetal_shm_parse_name("sem.tt_device_1_memory", &id));
	assert_string_equal(ttmetal_shm_status_name(TTMETAL_SHM_NOT_READY), "not_ready");
	assert_string_equal(ttmetal_shm_status_name(TTMETAL_SHM_STATUSES), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_matches_the_cpp_header),
		cmocka_unit_test(test_versions_2_3_4_read_the_same_fields),
		cmocka_unit_test(test_remote_chip_slots_are_listed),
		cmocka_unit_test(test_first_v2_writers_zeroed_empty_chip_slots),
		cmocka_unit_test(test_unknown_versions_give_no_numbers),
		cmocka_unit_test(test_v4_not_ready_is_half_initialised),
		cmocka_unit_test(test_short_regions_are_truncated),
		cmocka_unit_test(test_empty_and_releasing_slots_are_skipped),
		cmocka_unit_test(test_names_are_printable_and_terminated),
		cmocka_unit_test(test_reads_while_a_writer_updates_stay_whole),
		cmocka_unit_test(test_files_are_mapped_read_only_and_explained),
		cmocka_unit_test(test_file_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
