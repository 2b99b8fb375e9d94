/*
 * container.h - which container, and which Kubernetes pod, a process runs
 * in, from the files of the node alone (no container runtime or API server
 * is asked):
 *
 *  - /proc/PID/cgroup (cgroup v1 and v2) names the container's cgroup,
 *    which every runtime names after the container id: docker-<id>.scope or
 *    /docker/<id> (Docker), cri-containerd-<id>.scope or .../pod<uid>/<id>
 *    (containerd under Kubernetes), crio-<id>.scope (CRI-O),
 *    libpod-<id>.scope (Podman); a Kubernetes pod's cgroup carries the pod
 *    UID (pod<uid>, or kubepods-<qos>-pod<uid with _>.slice);
 *  - /var/log/pods/<namespace>_<pod>_<uid>/<container>/ (the kubelet's log
 *    layout) gives the pod's name and namespace from its UID, and
 *    /var/log/containers/<pod>_<namespace>_<container>-<id>.log the
 *    container's name from its id (else the pod's only container).
 *
 * Both are read under a hardware root ("" for /), like the other host files
 * (--hw-root). Input is untrusted text: anything that is not exactly one of
 * the shapes above (a truncated id, a line without a path, binary bytes)
 * gives no container rather than a wrong one.
 */
#ifndef TTALLOC_CONTAINER_H
#define TTALLOC_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>

/* Length of a container id (hex digits) and of a pod UID (8-4-4-4-12). */
#define CONTAINER_ID_LEN 64
#define CONTAINER_POD_UID_LEN 36
/* Most bytes of /proc/PID/cgroup read (a longer file is cut: lines after the cut are ignored). */
#define CONTAINER_CGROUP_MAX 16384

struct container_info {
	char id[CONTAINER_ID_LEN + 1];           /* "" when the process is in no container */
	char runtime[16];                        /* docker, containerd, cri-o, podman; "" with no id */
	char pod_uid[CONTAINER_POD_UID_LEN + 1]; /* "" outside Kubernetes */
	char pod[254];                           /* from /var/log/pods; "" when not found */
	char namespace[64];
	char container[254];
};

/*
 * Finds the container id, runtime and pod UID in the text of a
 * /proc/PID/cgroup file (`len` bytes, not necessarily NUL-terminated;
 * lines "ID:CONTROLLERS:PATH"). Leaves the pod, namespace and container
 * names empty. Returns 1 when a container was found, else 0 (*out cleared).
 */
int container_parse_cgroup(const char *text, size_t len, struct container_info *out);

/*
 * Fills out->pod, namespace and container from ROOT/var/log/pods and
 * ROOT/var/log/containers for out->pod_uid and out->id. Leaves them empty
 * when the layout does not say. `root` is "" for the real root.
 */
void container_find_pod(const char *root, struct container_info *out);

/*
 * Everything above for process `pid`: reads ROOT/proc/PID/cgroup, then the
 * kubelet's log layout. Returns 1 when the process runs in a container, 0
 * when it does not or its cgroup file cannot be read (*out cleared).
 */
int container_read(const char *root, pid_t pid, struct container_info *out);

#endif /* TTALLOC_CONTAINER_H */
