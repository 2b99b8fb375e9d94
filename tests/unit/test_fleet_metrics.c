/*
 * test_fleet_metrics.c - /metrics for a fleet, on a server core in-process:
 * the per-process series bounded by --metrics-processes (top:N per device,
 * ties by pid, pid="other" keeping sums exact, the omitted count, what
 * ttalloc_process_info shows), identity and host families, and a Wormhole's
 * asic id taken from the tt-metal region that describes it.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/http/api.h"
#include "server/http/metrics_process.h"
#include "server/server.h"
#include "server/state/picture.h"

static struct server s;

static void open_server(const char *devices, enum metrics_processes_mode mode, uint32_t top, const char *hw_root)
{
	char err[ERR_LEN];
	struct server_options o;
	server_options_defaults(&o);
	o.devices = devices;
	o.hw_root = hw_root;
	o.ttmetal_shm = 0;
	o.hostname = "unit-host";
	o.metrics_processes = mode;
	o.metrics_top = top;
	log_set_level(LOG_ERROR);
	if (server_core_open(&s, &o, err) < 0)
		fail_msg("%s", err);
}

static void close_server(void)
{
	server_core_close(&s);
}

/* A process `pid` holding `bytes` of DRAM on `device`. */
static void hold(pid_t pid, int device, uint64_t bytes)
{
	uint32_t proc = registry_find_pid(&s.state.registry, pid);
	if (proc == REGISTRY_NONE)
		proc = registry_attach(&s.state.registry, pid, 0);
	assert_int_equal(registry_alloc(&s.state.registry, proc, device, TTALLOC_DRAM, 0x1000 + (uint64_t)device, bytes,
					0),
			 REGISTRY_OK);
}

static char *render(void)
{
	size_t len = 0;
	char *text = metrics_render(&s, &len);
	assert_non_null(text);
	return text;
}

/*
 * The value of the one series that starts with `prefix` (labels included)
 * and, for a process's series, is its DRAM one; -1 when there is none.
 */
static double sample(const char *text, const char *prefix)
{
	const char *p = text;
	double v = -1;
	int found = 0;
	int process = strncmp(prefix, "ttalloc_process_memory_used_bytes{", 34) == 0;
	while ((p = strstr(p, prefix)) != NULL) {
		const char *end = strchr(p, '\n');
		int dram = !process || (end && memmem(p, (size_t)(end - p), "type=\"dram\"", 11));
		if ((p == text || p[-1] == '\n') && dram) {
			assert_int_equal(found++, 0);
			const char *value = memrchr(p, ' ',
						    (size_t)(end - p)); /* the value is after the line's last space */
			v = strtod(value + 1, NULL);
		}
		p++;
	}
	return v;
}

static void test_top_n_per_device_with_other_keeping_sums_exact(void **state)
{
	(void)state;
	open_server("sim:2", METRICS_PROCESSES_TOP, 2, NULL);
	hold(11, 0, 500);
	hold(12, 0, 700);
	hold(13, 0, 300); /* ties with 14: the lower pid is kept */
	hold(14, 0, 300);
	hold(15, 0, 100);
	hold(15, 1, 900);
	char *t = render();
	assert_true(sample(t, "ttalloc_process_memory_used_bytes{device=\"0\",pid=\"12\",") == 700);
	assert_true(sample(t, "ttalloc_process_memory_used_bytes{device=\"0\",pid=\"11\",") == 500);
	assert_true(sample(t, "ttalloc_process_memory_used_bytes{device=\"0\",pid=\"13\",") == -1);
	assert_true(
		sample(t, "ttalloc_process_memory_used_bytes{device=\"0\",pid=\"other\",process=\"other\",type=\"dram\"}") ==
		300 + 300 + 100);
	assert_true(sample(t, "ttalloc_metrics_processes_omitted{device=\"0\"}") == 3);
	/* device 1: one process, nothing omitted; "other" is there, and 0 */
	assert_true(sample(t, "ttalloc_process_memory_used_bytes{device=\"1\",pid=\"15\",") == 900);
	assert_true(
		sample(t, "ttalloc_process_memory_used_bytes{device=\"1\",pid=\"other\",process=\"other\",type=\"dram\"}") ==
		0);
	assert_true(sample(t, "ttalloc_metrics_processes_omitted{device=\"1\"}") == 0);
	/* the process info series follow the selection */
	assert_non_null(strstr(t, "ttalloc_process_info{device=\"0\",pid=\"12\","));
	assert_null(strstr(t, "ttalloc_process_info{device=\"0\",pid=\"14\","));
	free(t);
	/* the selection itself */
	struct metrics_selection *sel = metrics_select(&s);
	assert_true(metrics_selected(sel, 0, 12) && metrics_selected(sel, 0, 11) && metrics_selected(sel, 1, 15));
	assert_false(metrics_selected(sel, 0, 13) || metrics_selected(sel, 0, 15) || metrics_selected(sel, 5, 12));
	metrics_selection_free(sel);
	close_server();
}

static void test_all_and_none(void **state)
{
	(void)state;
	open_server("sim:1", METRICS_PROCESSES_ALL, 0, NULL);
	for (pid_t pid = 100; pid < 160; pid++)
		hold(pid, 0, 4096);
	char *t = render();
	assert_true(sample(t, "ttalloc_process_memory_used_bytes{device=\"0\",pid=\"159\",") == 4096);
	assert_null(strstr(t, "\nttalloc_process_memory_used_bytes{device=\"0\",pid=\"other\""));
	assert_true(sample(t, "ttalloc_metrics_processes_omitted{device=\"0\"}") == 0);
	free(t);
	close_server();
	open_server("sim:1", METRICS_PROCESSES_NONE, 0, NULL);
	hold(100, 0, 4096);
	t = render();
	assert_null(strstr(t, "ttalloc_process_memory_used_bytes{"));
	assert_null(strstr(t, "ttalloc_process_info{"));
	assert_true(sample(t, "ttalloc_device_memory_used_bytes{device=\"0\",type=\"dram\"}") == 4096);
	free(t);
	close_server();
}

static void test_host_build_and_device_identity_families(void **state)
{
	(void)state;
	open_server("sim:2", METRICS_PROCESSES_TOP, 50, NULL);
	char *t = render();
	assert_true(sample(t, "ttalloc_host_info{hostname=\"unit-host\"}") == 1);
	assert_non_null(strstr(t, "\nttalloc_build_info{version=\"" TTALLOC_VERSION "\",revision=\""));
	assert_true(sample(t, "ttalloc_server_start_time_seconds") > 1.6e9);
	const char *info = strstr(t, "\nttalloc_device_info{device=\"1\"");
	assert_non_null(info);
	assert_non_null(strstr(info, "simulated=\"true\",serial=\""));
	assert_non_null(strstr(info, ",card_type=\"sim\",uuid=\"TT-SIM-"));
	free(t);
	close_server();
}

static void test_a_wormhole_takes_its_asic_id_from_its_tt_metal_region(void **state)
{
	(void)state;
	open_server("tenstorrent", METRICS_PROCESSES_TOP, 50, TTALLOC_FIXTURES "/n150");
	struct picture_identity id;
	picture_device_identity(&s.state, 0, &id);
	assert_string_equal(id.serial, "010001851170804D");
	assert_string_equal(id.card_type, "n150");
	assert_string_equal(id.pci_bus_id, "0000:01:00.0");
	assert_string_equal(id.asic_id, ""); /* tt-kmd's Wormhole has no tt_asic_id */
	/* a region of tt-metal describes device 0: its chip_unique_id (the file name's number) */
	struct ttmetal_view *v = &s.state.shm;
	v->regions = calloc(1, sizeof(*v->regions));
	assert_non_null(v->regions);
	v->region_count = v->region_cap = 1;
	v->regions[0].status = TTMETAL_SHM_OK;
	v->regions[0].device = 0;
	v->regions[0].chip_unique_id = 0x6b2c3a4d5e6f7081ull;
	picture_device_identity(&s.state, 0, &id);
	assert_string_equal(id.asic_id, "6B2C3A4D5E6F7081");
	/* a refused region says nothing */
	v->regions[0].status = TTMETAL_SHM_BAD_VERSION;
	picture_device_identity(&s.state, 0, &id);
	assert_string_equal(id.asic_id, "");
	close_server();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_n_per_device_with_other_keeping_sums_exact),
		cmocka_unit_test(test_all_and_none),
		cmocka_unit_test(test_host_build_and_device_identity_families),
		cmocka_unit_test(test_a_wormhole_takes_its_asic_id_from_its_tt_metal_region),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
