/*
 * proc_info.c - process facts from /proc (see proc_info.h).
 */
#define _GNU_SOURCE
#include "common/proc_info.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int proc_read_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, (int)size, f)) {
		if (f)
			fclose(f);
		snprintf(buf, size, "?");
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int proc_read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	while (n && buf[n - 1] == '\0')
		n--; /* the terminator of the last argument */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return n ? 0 : -1;
}

int proc_read_uid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int found = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long real_uid;
		if (sscanf(line, "Uid: %lu", &real_uid) == 1) {
			*uid = (uid_t)real_uid;
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

void proc_user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *result = NULL;
	char scratch[1024];
	if (getpwuid_r(uid, &pw, scratch, sizeof(scratch), &result) == 0 && result)
		snprintf(buf, size, "%s", result->pw_name);
	else
		snprintf(buf, size, "%u", (unsigned)uid);
}

void proc_group_name(gid_t gid, char *buf, size_t size)
{
	struct group gr, *result = NULL;
	char scratch[16384]; /* the member list comes with it */
	if (getgrgid_r(gid, &gr, scratch, sizeof(scratch), &result) == 0 && result)
		snprintf(buf, size, "%s", result->gr_name);
	else
		snprintf(buf, size, "%u", (unsigned)gid);
}

int proc_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}
