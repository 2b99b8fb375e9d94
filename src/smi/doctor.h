/*
 * doctor.h - tt_smi --doctor: a one-shot health check for CI and on-call.
 *
 *   doctor.c        the checks: facts in, one line per check and a status
 *                   out (no I/O: what the unit tests drive), as text or as
 *                   one JSON object
 *   doctor_facts.c  gathering the facts: the socket and the server (HELLO,
 *                   a snapshot), this host's hardware, tt-metal's regions
 *
 * The checks, in order: server (reachable, its version against tt_smi's),
 * access (may this user report: the socket's owner, group and mode; a
 * refusal is common/reach.c's words), devices (the server's, simulated or
 * hardware, against what this host has), tt-metal shm (its regions and
 * stale slots) and http (the dashboard's state). Each is ok, warning,
 * error, or skipped (it needs a server that could not be reached).
 *
 * Exit status: 0 all ok, 1 an error, 3 warnings only (2 stays every
 * program's bad command line, so a typo never reads as "warnings").
 */
#ifndef TTALLOC_SMI_DOCTOR_H
#define TTALLOC_SMI_DOCTOR_H

#include <stdint.h>

#include "common/errors.h"
#include "common/query.h"
#include "common/strbuf.h"

struct smi_options;

enum doctor_status { DOCTOR_OK, DOCTOR_WARNING, DOCTOR_ERROR, DOCTOR_SKIPPED };

enum doctor_check { DOCTOR_SERVER, DOCTOR_ACCESS, DOCTOR_DEVICES, DOCTOR_TTMETAL_SHM, DOCTOR_HTTP, DOCTOR_CHECKS };

/* Exit status of --doctor when the worst finding is a warning. */
#define DOCTOR_EXIT_WARNINGS 3

/* Stale tt-metal slots described by name in the message (the rest are counted). */
#define DOCTOR_STALE_SHOWN 3

/* A tt-metal slot whose process is gone. */
struct doctor_stale_slot {
	int32_t pid;
	uint32_t device; /* the region's Metal device id */
	uint64_t bytes;  /* device memory it still counts (DRAM, L1, L1_SMALL, TRACE, CB) */
	char name[64];   /* the process name in the slot */
	char region[64]; /* tt_device_<id>_memory */
};

/* What --doctor found out; doctor_evaluate judges it. */
struct doctor_facts {
	/* the socket */
	char socket_path[108];
	const char *socket_source; /* unix_socket_path_source: "--socket", "$TT_ALLOC_SERVER_SOCKET", ... */
	char user[64];             /* who runs tt_smi */
	int socket_seen;           /* stat of the socket worked: owner, group and mode below */
	char socket_owner[64];
	char socket_group[64];
	uint32_t socket_mode; /* permission bits */
	/* the server */
	int reached;               /* connected, HELLO answered and a snapshot read */
	int denied;                /* the connect was refused by the socket's permissions */
	char reach_error[ERR_LEN]; /* when !reached: reach_explain's words, or what failed after connecting */
	uint32_t server_release;   /* HELLO_ACK's (PROTO_RELEASE); 0: an older server */
	uint32_t client_release;   /* tt_smi's own */
	uint32_t server_pid;
	uint8_t http_state; /* enum proto_http_state */
	uint16_t http_port;
	const struct snapshot *snap; /* the server's devices, when reached */
	/* this host */
	int host_hardware;     /* 1: the device backends find hardware; 0: none; -1: they failed */
	char host_backend[32]; /* which backend found it ("tenstorrent", "nvml") */
	int host_devices;
	/* tt-metal's shared-memory regions */
	char shm_dir[256];
	int shm_listed;        /* the directory could be listed (a missing one counts, with no regions) */
	char shm_error[128];   /* why it could not */
	uint32_t shm_regions;  /* regions read */
	uint32_t shm_slots;    /* process slots in use in them */
	uint32_t shm_refused;  /* regions not read */
	char shm_refusal[256]; /* the first: "NAME: status: why" */
	uint32_t shm_stale;    /* slots whose process is gone */
	struct doctor_stale_slot stale[DOCTOR_STALE_SHOWN];
};

/* One check's finding. */
struct doctor_line {
	enum doctor_status status;
	char text[ERR_LEN + 512];
};

struct doctor_report {
	struct doctor_line checks[DOCTOR_CHECKS];
	enum doctor_status status; /* the worst: error, else warning, else ok (skipped counts as ok) */
};

/* "server", "access", "devices", "tt-metal shm", "http". */
const char *doctor_check_name(enum doctor_check check);

/* "ok", "warning", "error", "skipped". */
const char *doctor_status_name(enum doctor_status status);

/* Judges every check of `f` into `r`: one line each and the overall status. */
void doctor_evaluate(const struct doctor_facts *f, struct doctor_report *r);

/* 0 when all is ok, 1 on an error, DOCTOR_EXIT_WARNINGS on warnings only. */
int doctor_exit_status(const struct doctor_report *r);

/* One line per check: "✅ server: ttalloc-server 0.1.0 (pid 42) answers at ...". */
void doctor_render_text(struct strbuf *out, const struct doctor_report *r);

/*
 * The same as one JSON object (jansson), one line: status, exit_status,
 * checks [{check, status, message}], and the facts behind them (socket,
 * server, devices, tt_metal_shm, http). Returns 0 or TTALLOC_ENOMEM.
 */
int doctor_render_json(struct strbuf *out, const struct doctor_facts *f, const struct doctor_report *r);

/*
 * tt_smi --doctor [--json]: gathers the facts for the server at `path`,
 * prints the report on stdout and returns the exit status.
 */
int smi_doctor(const struct smi_options *opts, const char *path);

#endif /* TTALLOC_SMI_DOCTOR_H */
