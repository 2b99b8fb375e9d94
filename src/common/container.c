/*
 * container.c - a process's container and pod from the node's files
 * (container.h).
 */
#define _GNU_SOURCE
#include "common/container.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A container's cgroup name: PREFIX<id>SUFFIX (suffix ".scope" or none). */
struct runtime_pattern {
	const char *prefix;
	const char *runtime;
};

static const struct runtime_pattern patterns[] = {
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
};

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 when the `len` bytes at `s` are a container id: 64 lowercase hex digits. */
static int is_container_id(const char *s, size_t len)
{
	return len == CONTAINER_ID_LEN && is_hex(s, len);
}

/* 1 when `s` (36 bytes, dashes or `sep` at 8, 13, 18, 23) is a pod UID; copied with dashes. */
static int copy_pod_uid(const char *s, size_t len, char sep, char *out)
{
	if (len != CONTAINER_POD_UID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != sep : !is_hex(s + i, 1))
			return 0;
		out[i] = dash ? '-' : s[i];
	}
	out[len] = '\0';
	return 1;
}

/* Length of `name` (n bytes) without a trailing ".scope". */
static size_t without_scope(const char *name, size_t n)
{
	return n > 6 && memcmp(name + n - 6, ".scope", 6) == 0 ? n - 6 : n;
}

/* One path component as a container's cgroup: the id and runtime, or 0. */
static int match_container(const char *name, size_t n, const char *parent, size_t parent_len,
			   struct container_info *out)
{
	size_t core = without_scope(name, n);
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		size_t plen = strlen(patterns[i].prefix);
		if (core > plen && memcmp(name, patterns[i].prefix, plen) == 0 &&
		    is_container_id(name + plen, core - plen)) {
			memcpy(out->id, name + plen, CONTAINER_ID_LEN);
			snprintf(out->runtime, sizeof(out->runtime), "%s", patterns[i].runtime);
			return 1;
		}
	}
	/* a bare id: /docker/<id> (cgroupfs driver), .../pod<uid>/<id> (containerd under Kubernetes) */
	if (!is_container_id(name, n))
		return 0;
	int docker = parent_len == 6 && memcmp(parent, "docker", 6) == 0;
	int pod = parent_len == 3 + CONTAINER_POD_UID_LEN && memcmp(parent, "pod", 3) == 0;
	if (!docker && !pod)
		return 0;
	memcpy(out->id, name, CONTAINER_ID_LEN);
	snprintf(out->runtime, sizeof(out->runtime), "%s", docker ? "docker" : "containerd");
	return 1;
}

/* One path component as a pod's cgroup: pod<uid> or kubepods[-<qos>]-pod<uid_>.slice. */
static int match_pod(const char *name, size_t n, struct container_info *out)
{
	if (n == 3 + CONTAINER_POD_UID_LEN && memcmp(name, "pod", 3) == 0)
		return copy_pod_uid(name + 3, CONTAINER_POD_UID_LEN, '-', out->pod_uid);
	const char *suffix = ".slice";
	size_t slen = strlen(suffix), tail = 3 + CONTAINER_POD_UID_LEN + slen;
	if (n < 8 + tail || memcmp(name, "kubepods", 8) != 0 || memcmp(name + n - slen, suffix, slen) != 0)
		return 0;
	const char *pod = name + n - tail;
	if (memcmp(pod, "pod", 3) != 0 || pod[-1] != '-')
		return 0;
	return copy_pod_uid(pod + 3, CONTAINER_POD_UID_LEN, '_', out->pod_uid);
}

/* The cgroup path of one line, or NULL: "ID:CONTROLLERS:PATH" with PATH starting at '/'. */
static const char *line_path(const char *line, size_t len, size_t *path_len)
{
	const char *first = memchr(line, ':', len);
	if (!first)
		return NULL;
	const char *second = memchr(first + 1, ':', len - (size_t)(first + 1 - line));
	if (!second || second + 1 >= line + len || second[1] != '/')
		return NULL;
	*path_len = len - (size_t)(second + 1 - line);
	return second + 1;
}

/* Most path components looked at: the last ones (a container is named at the end). */
#define PATH_COMPONENTS 64

/* Looks for a container (and pod) in one cgroup path, last component first. */
static int parse_path(const char *path, size_t len, struct container_info *out)
{
	const char *comp[PATH_COMPONENTS];
	size_t comp_len[PATH_COMPONENTS];
	size_t seen = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && path[i] == '/')
			i++;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i > start) {
			comp[seen % PATH_COMPONENTS] = path + start;
			comp_len[seen++ % PATH_COMPONENTS] = i - start;
		}
	}
	int n = seen < PATH_COMPONENTS ? (int)seen : PATH_COMPONENTS;
	size_t first = seen - (size_t)n; /* the oldest component kept */
#define AT(k) ((first + (size_t)(k)) % PATH_COMPONENTS)
	int found = 0;
	for (int i = n - 1; i >= 0 && !found; i--)
		found = match_container(comp[AT(i)], comp_len[AT(i)], i ? comp[AT(i - 1)] : "",
					i ? comp_len[AT(i - 1)] : 0, out);
	for (int i = 0; found && i < n && !out->pod_uid[0]; i++)
		match_pod(comp[AT(i)], comp_len[AT(i)], out);
#undef AT
	return found;
}

int container_parse_cgroup(const char *text, size_t len, struct container_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	const char *end = text + len;
	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t line_len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		size_t path_len = 0;
		const char *path = line_path(line, line_len, &path_len);
		if (path && parse_path(path, path_len, out))
			return 1;
		memset(out, 0, sizeof(*out));
		line += line_len + 1;
	}
	return 0;
}

/* Directory entry `name` of the kubelet's pods: "<namespace>_<pod>_<uid>" for `uid`. */
static int match_pod_dir(const char *name, const char *uid, struct container_info *out)
{
	size_t n = strlen(name), ulen = strlen(uid);
	if (n <= ulen + 1 || strcmp(name + n - ulen, uid) != 0 || name[n - ulen - 1] != '_')
		return 0;
	const char *sep = memchr(name, '_', n - ulen - 1);
	if (!sep || sep == name || sep + 1 >= name + n - ulen - 1)
		return 0;
	size_t ns_len = (size_t)(sep - name), pod_len = n - ulen - 1 - ns_len - 1;
	if (ns_len >= sizeof(out->namespace) || pod_len >= sizeof(out->pod) || memchr(sep + 1, '_', pod_len))
		return 0;
	memcpy(out->namespace, name, ns_len);
	out->namespace[ns_len] = '\0';
	memcpy(out->pod, sep + 1, pod_len);
	out->pod[pod_len] = '\0';
	return 1;
}

/* The container's name from /var/log/containers/<pod>_<namespace>_<container>-<id>.log. */
static int container_from_links(const char *root, struct container_info *out)
{
	char dir_path[1024];
	snprintf(dir_path, sizeof(dir_path), "%s/var/log/containers", root);
	DIR *dir = opendir(dir_path);
	if (!dir)
		return 0;
	char prefix[sizeof(out->pod) + sizeof(out->namespace) + 2];
	snprintf(prefix, sizeof(prefix), "%s_%s_", out->pod, out->namespace);
	size_t plen = strlen(prefix), tail = 1 + CONTAINER_ID_LEN + 4; /* -<id>.log */
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(dir)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n <= plen + tail || strncmp(e->d_name, prefix, plen) != 0 ||
		    strcmp(e->d_name + n - 4, ".log") != 0 || e->d_name[n - tail] != '-' ||
		    memcmp(e->d_name + n - tail + 1, out->id, CONTAINER_ID_LEN) != 0)
			continue;
		size_t clen = n - tail - plen;
		if (clen < sizeof(out->container)) {
			memcpy(out->container, e->d_name + plen, clen);
			out->container[clen] = '\0';
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

/* The pod directory's only container subdirectory, when it has exactly one. */
static void only_container(const char *pod_dir, struct container_info *out)
{
	DIR *dir = opendir(pod_dir);
	if (!dir)
		return;
	int count = 0;
	char name[sizeof(out->container)] = "";
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		if (++count == 1)
			snprintf(name, sizeof(name), "%s", e->d_name);
	}
	closedir(dir);
	if (count == 1)
		snprintf(out->container, sizeof(out->container), "%s", name);
}

void container_find_pod(const char *root, struct container_info *out)
{
	out->pod[0] = out->namespace[0] = out->container[0] = '\0';
	if (!out->pod_uid[0])
		return;
	char pods[1024];
	snprintf(pods, sizeof(pods), "%s/var/log/pods", root ? root : "");
	DIR *dir = opendir(pods);
	if (!dir)
		return;
	char pod_dir[2048] = "";
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (match_pod_dir(e->d_name, out->pod_uid, out)) {
			snprintf(pod_dir, sizeof(pod_dir), "%s/%s", pods, e->d_name);
			break;
		}
	}
	closedir(dir);
	if (!pod_dir[0])
		return;
	if (!container_from_links(root ? root : "", out))
		only_container(pod_dir, out);
}

int container_read(const char *root, pid_t pid, struct container_info *out)
{
	memset(out, 0, sizeof(*out));
	char path[1024];
	snprintf(path, sizeof(path), "%s/proc/%d/cgroup", root ? root : "", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char text[CONTAINER_CGROUP_MAX];
	size_t len = 0;
	ssize_t got;
	while (len < sizeof(text) && (got = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)got;
	close(fd);
	if (!container_parse_cgroup(text, len, out))
		return 0;
	container_find_pod(root ? root : "", out);
	return 1;
}
