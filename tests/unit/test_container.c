/*
 * test_container.c - which container and pod a process runs in
 * (common/container.h): the fixture trees of tests/fixtures/containers
 * (Docker v1 and v2, containerd under Kubernetes v1 and v2, CRI-O, Podman)
 * and hostile or truncated cgroup files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/container.h"

#define TREE(name) TTALLOC_FIXTURES "/containers/" name

#define DOCKER_V2 "3f4e8a9b2c1d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
#define DOCKER_V1 "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
#define K8S_V1_ID "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define K8S_V2_ID "c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2"
#define CRIO_ID "d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3"
#define PODMAN_ID "e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"

static int parse(const char *text, struct container_info *out)
{
	return container_parse_cgroup(text, strlen(text), out);
}

/* What each fixture process runs in ("" where the tree says nothing). */
static const struct {
	const char *tree;
	pid_t pid;
	const char *id, *runtime, *pod_uid, *pod, *namespace, *container;
} expected[] = {
	/* Docker: cgroup v2 with the systemd driver, v1 with cgroupfs */
	{"docker", 4242, DOCKER_V2, "docker", "", "", "", ""},
	{"docker", 4243, DOCKER_V1, "docker", "", "", "", ""},
	/* containerd under Kubernetes, v1 cgroupfs: two containers in the pod, the
	 * /var/log/containers link tells which */
	{"k8s-v1", 5000, K8S_V1_ID, "containerd", "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "trainer-0", "ml", "trainer"},
	/* containerd under Kubernetes, v2 systemd slices: no link, the pod's only container */
	{"k8s-v2", 5100, K8S_V2_ID, "containerd", "0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b", "llm-server-7c9f",
	 "inference", "server"},
	/* CRI-O in a guaranteed pod (kubepods-pod<uid>.slice) */
	{"k8s-v2", 5101, CRIO_ID, "cri-o", "11111111-2222-4333-8444-555555555555", "nightly-eval", "batch", "eval"},
	/* rootless Podman (libpod-<id>.scope/container) */
	{"podman", 6000, PODMAN_ID, "podman", "", "", "", ""},
};

static void test_every_runtime_of_the_fixture_trees(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		char tree[512];
		snprintf(tree, sizeof(tree), "%s/containers/%s", TTALLOC_FIXTURES, expected[i].tree);
		struct container_info c;
		if (container_read(tree, expected[i].pid, &c) != 1 || strcmp(c.id, expected[i].id) != 0 ||
		    strcmp(c.runtime, expected[i].runtime) != 0 || strcmp(c.pod_uid, expected[i].pod_uid) != 0 ||
		    strcmp(c.pod, expected[i].pod) != 0 || strcmp(c.namespace, expected[i].namespace) != 0 ||
		    strcmp(c.container, expected[i].container) != 0)
			fail_msg(
				"%s pid %d: got id %s runtime '%s' pod uid '%s' pod '%s' namespace '%s' container '%s'",
				expected[i].tree, (int)expected[i].pid, c.id, c.runtime, c.pod_uid, c.pod, c.namespace,
				c.container);
	}
}

static void test_no_container_is_no_container(void **state)
{
	(void)state;
	struct container_info c;
	/* a process of a login session */
	assert_int_equal(container_read(TREE("podman"), 6001, &c), 0);
	assert_string_equal(c.id, "");
	assert_string_equal(c.runtime, "");
	/* no such process, no such root: no container, no crash */
	assert_int_equal(container_read(TREE("podman"), 99999, &c), 0);
	assert_int_equal(container_read("/nonexistent-root", 1, &c), 0);
}

static void test_hostile_and_truncated_cgroup_files_give_no_container(void **state)
{
	(void)state;
	struct container_info c;
	static const char *const hostile[] = {
		"",
		"\n\n\n",
		"0::",
		"0::/",
		"garbage without colons",
		"0:/docker/" DOCKER_V1 "\n",                 /* one colon: no path */
		"0::docker/" DOCKER_V1 "\n",                 /* path not absolute */
		"0::/docker/3f4e8a9b2c1d0e7f6a5b4c3d2e1f\n", /* truncated id */
		"0::/docker/" DOCKER_V1 "00\n",              /* too long */
		"0::/docker/3F4E8A9B2C1D0E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F\n", /* upper case */
		"0::/system.slice/docker-" DOCKER_V1 ".scop\n",                                  /* wrong suffix */
		"0::/system.slice/docker-.scope\n",
		"0::/user.slice/" DOCKER_V1 "\n",                     /* bare id under an unknown parent */
		"0::/kubepods/besteffort/podnotauid/" DOCKER_V1 "\n", /* parent is no pod UID */
		"0::/system.slice/crio-conmon-" DOCKER_V1 ".scope\n", /* CRI-O's monitor, not the container */
		"0::/\xff\xfe/docker-\x01\x02.scope\n",
	};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		assert_int_equal(parse(hostile[i], &c), 0);
		assert_string_equal(c.id, "");
		assert_string_equal(c.pod_uid, "");
	}
	assert_int_equal(container_parse_cgroup(NULL, 10, &c), 0);
}

static void test_a_file_cut_mid_line_or_without_newline_still_parses_what_is_whole(void **state)
{
	(void)state;
	struct container_info c;
	const char *text = "12:memory:/docker/" DOCKER_V1 "\n11:cpu:/docker/" DOCKER_V1;
	/* no final newline */
	assert_int_equal(parse(text, &c), 1);
	assert_string_equal(c.id, DOCKER_V1);
	/* cut inside the first line's id: the second line is gone too */
	assert_int_equal(container_parse_cgroup(text, 30, &c), 0);
	/* not NUL-terminated: only `len` bytes are read */
	char buf[200];
	memset(buf, 'x', sizeof(buf));
	const char *line = "0::/docker/" DOCKER_V2;
	memcpy(buf, line, strlen(line));
	assert_int_equal(container_parse_cgroup(buf, strlen(line), &c), 1);
	assert_string_equal(c.id, DOCKER_V2);
	assert_int_equal(container_parse_cgroup(buf, strlen(line) + 1, &c), 0);
}

static void test_very_deep_and_very_long_paths_are_bounded(void **state)
{
	(void)state;
	struct container_info c;
	char text[CONTAINER_CGROUP_MAX];
	size_t n = (size_t)snprintf(text, sizeof(text), "0::");
	while (n + 3 < sizeof(text) - 80)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "/a");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "/docker/%s\n", DOCKER_V1);
	/* far more components than the parser keeps: the last ones, where the container is */
	assert_int_equal(container_parse_cgroup(text, n, &c), 1);
	assert_string_equal(c.id, DOCKER_V1);
	n = (size_t)snprintf(text, sizeof(text), "0::/");
	memset(text + n, 'p', 5000);
	n += 5000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "/docker-%s.scope\n", DOCKER_V2);
	assert_int_equal(container_parse_cgroup(text, n, &c), 1);
	assert_string_equal(c.id, DOCKER_V2);
}

static void test_pod_names_need_the_exact_uid_and_shape(void **state)
{
	(void)state;
	struct container_info c;
	memset(&c, 0, sizeof(c));
	snprintf(c.pod_uid, sizeof(c.pod_uid), "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
	snprintf(c.id, sizeof(c.id), "%s", K8S_V1_ID);
	container_find_pod(TREE("k8s-v1"), &c);
	assert_string_equal(c.pod, "trainer-0");
	/* a UID no directory ends with */
	snprintf(c.pod_uid, sizeof(c.pod_uid), "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e40");
	container_find_pod(TREE("k8s-v1"), &c);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.namespace, "");
	/* no pod UID: nothing is looked up */
	c.pod_uid[0] = '\0';
	container_find_pod(TREE("k8s-v1"), &c);
	assert_string_equal(c.container, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_runtime_of_the_fixture_trees),
		cmocka_unit_test(test_no_container_is_no_container),
		cmocka_unit_test(test_hostile_and_truncated_cgroup_files_give_no_container),
		cmocka_unit_test(test_a_file_cut_mid_line_or_without_newline_still_parses_what_is_whole),
		cmocka_unit_test(test_very_deep_and_very_long_paths_are_bounded),
		cmocka_unit_test(test_pod_names_need_the_exact_uid_and_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
