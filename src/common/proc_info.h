/*
 * proc_info.h - facts about a process from the kernel (/proc), for naming
 * the owners of buffers: command name, user, liveness.
 */
#ifndef TTALLOC_PROC_INFO_H
#define TTALLOC_PROC_INFO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads /proc/PID/comm into `buf` (without the newline). Returns 0, or -1
 * leaving "?" in buf when the process is gone or unreadable.
 */
int proc_read_comm(pid_t pid, char *buf, size_t size);

/*
 * Reads /proc/PID/cmdline into `buf` with its arguments separated by
 * spaces (cut to fit; `size` at least 1). Returns 0, or -1 leaving "" when the process is
 * gone, unreadable or has no command line (a kernel thread, a zombie).
 */
int proc_read_cmdline(pid_t pid, char *buf, size_t size);

/* Real uid from the Uid: line of /proc/PID/status. Returns 0 or -1. */
int proc_read_uid(pid_t pid, uid_t *uid);

/* User name of `uid` (getpwuid), or the number as text when unknown. */
void proc_user_name(uid_t uid, char *buf, size_t size);

/* Group name of `gid` (getgrgid), or the number as text when unknown. */
void proc_group_name(gid_t gid, char *buf, size_t size);

/* 1 when a process with this pid exists (kill(pid, 0) semantics). */
int proc_alive(pid_t pid);

#endif /* TTALLOC_PROC_INFO_H */
