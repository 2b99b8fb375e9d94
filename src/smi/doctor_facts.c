/*
 * doctor_facts.c - what tt_smi --doctor looks at (doctor.h): the socket
 * and who may use it, the server (HELLO, then a snapshot), this host's
 * hardware and tt-metal's shared-memory regions; then doctor.c's verdict.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc_info.h"
#include "common/protocol.h"
#include "common/reach.h"
#include "devices/ttmetal_shm.h"
#include "smi/doctor.h"
#include "smi/smi.h"

/* How long the server may take to answer before it counts as unreachable. */
#define DOCTOR_ANSWER_TIMEOUT_MS 3000

/* The socket file's owner, group and mode, and who we are. */
static void look_at_socket(struct doctor_facts *f)
{
	struct stat st;
	proc_user_name(geteuid(), f->user, sizeof(f->user));
	if (stat(f->socket_path, &st) < 0)
		return;
	f->socket_seen = 1;
	proc_user_name(st.st_uid, f->socket_owner, sizeof(f->socket_owner));
	proc_group_name(st.st_gid, f->socket_group, sizeof(f->socket_group));
	f->socket_mode = (uint32_t)(st.st_mode & 07777);
}

/* Connects, says HELLO and reads a snapshot into `snap`; fills what the server told. */
static void ask_server(struct doctor_facts *f, struct query_client *qc, struct snapshot *snap)
{
	if (query_connect(qc, f->socket_path, f->reach_error) < 0) {
		f->denied = reach_denied(errno);
		return;
	}
	struct timeval tv = {.tv_sec = DOCTOR_ANSWER_TIMEOUT_MS / 1000,
			     .tv_usec = (DOCTOR_ANSWER_TIMEOUT_MS % 1000) * 1000};
	setsockopt(qc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(qc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (snapshot_take(qc, snap, f->reach_error) < 0)
		return;
	f->reached = 1;
	f->snap = snap;
	f->server_release = qc->server_release;
	f->server_pid = qc->server_pid;
	f->http_state = qc->http_state;
	f->http_port = qc->http_port;
}

/* What the device backends find on this host (the hardware view's root and selection). */
static void look_at_host(struct doctor_facts *f, const struct smi_options *opts)
{
	struct smi_hardware hw = {0};
	char why[DEVICE_ERR_LEN];
	f->host_hardware = smi_hardware_open(&hw, opts->devices, smi_hardware_root(opts), why);
	if (f->host_hardware > 0) {
		snprintf(f->host_backend, sizeof(f->host_backend), "%s",
			 hw.set.backend_name ? hw.set.backend_name : "?");
		f->host_devices = hw.set.count;
	}
	smi_hardware_close(&hw);
}

/* Notes a slot whose process is gone (the first few by name). */
static void note_stale(struct doctor_facts *f, const char *region, const struct ttmetal_shm_snapshot *snap,
		       const struct ttmetal_shm_process *p)
{
	if (f->shm_stale < DOCTOR_STALE_SHOWN) {
		struct doctor_stale_slot *s = &f->stale[f->shm_stale];
		s->pid = p->pid;
		s->device = snap->device_id;
		for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
			s->bytes += p->used[k];
		snprintf(s->name, sizeof(s->name), "%s", p->name);
		snprintf(s->region, sizeof(s->region), "%s", region);
	}
	f->shm_stale++;
}

/* Reads one region: its slots, the stale ones, or why it was refused. */
static void look_at_region(struct doctor_facts *f, const char *name)
{
	static struct ttmetal_shm_snapshot snap; /* 9 KiB: off the stack */
	char path[sizeof(f->shm_dir) + 80], why[160];
	snprintf(path, sizeof(path), "%s/%s", f->shm_dir, name);
	enum ttmetal_shm_status status = ttmetal_shm_read_file(path, &snap, why, sizeof(why));
	if (status != TTMETAL_SHM_OK) {
		if (!f->shm_refused++)
			snprintf(f->shm_refusal, sizeof(f->shm_refusal), "%s: %s: %s", name,
				 ttmetal_shm_status_name(status), why);
		return;
	}
	f->shm_regions++;
	f->shm_slots += snap.process_count;
	for (uint32_t i = 0; i < snap.process_count; i++)
		if (!proc_alive(snap.processes[i].pid))
			note_stale(f, name, &snap, &snap.processes[i]);
}

/* tt-metal's regions under <hw-root>/dev/shm, read as the server reads them. */
static void look_at_shm(struct doctor_facts *f, const struct smi_options *opts)
{
	const char *root = smi_hardware_root(opts);
	snprintf(f->shm_dir, sizeof(f->shm_dir), "%s%s", root ? root : "", TTMETAL_SHM_DIR);
	char **names = ttmetal_shm_region_names(f->shm_dir);
	f->shm_listed = names || errno == ENOENT; /* no /dev/shm at all: no regions */
	if (!names && !f->shm_listed)
		snprintf(f->shm_error, sizeof(f->shm_error), "%s", strerror(errno));
	for (size_t i = 0; names && names[i]; i++)
		look_at_region(f, names[i]);
	ttmetal_shm_free_names(names);
}

int smi_doctor(const struct smi_options *opts, const char *path)
{
	static struct doctor_facts facts; /* a few KiB */
	struct doctor_report report;
	struct query_client qc = QUERY_CLIENT_INIT;
	struct snapshot snap = SNAPSHOT_INIT;
	struct doctor_facts *f = &facts;
	memset(f, 0, sizeof(*f));
	snprintf(f->socket_path, sizeof(f->socket_path), "%s", path);
	f->socket_source = unix_socket_path_source(opts->socket_path);
	f->client_release = proto_release_of(TTALLOC_VERSION);
	look_at_socket(f);
	ask_server(f, &qc, &snap);
	look_at_host(f, opts);
	look_at_shm(f, opts);
	doctor_evaluate(f, &report);
	struct strbuf out = STRBUF_INIT;
	int rc = 0;
	if (opts->doctor_json)
		rc = doctor_render_json(&out, f, &report);
	else
		doctor_render_text(&out, &report);
	if (rc == 0 && (out.failed || fputs(strbuf_str(&out), stdout) == EOF || fflush(stdout) == EOF))
		rc = -1;
	strbuf_release(&out);
	query_close(&qc);
	snapshot_release(&snap);
	if (rc < 0) {
		fprintf(stderr, "tt_smi: cannot print the report: %s\n",
			rc == TTALLOC_ENOMEM ? "out of memory" : strerror(errno));
		return 1;
	}
	return doctor_exit_status(&report);
}
