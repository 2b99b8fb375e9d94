/*
 * reach.c - why a client cannot reach the allocation server (reach.h).
 * python/ttalloc/connection.py's explain_connect_error says the same words.
 */
#define _GNU_SOURCE
#include "common/reach.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/proc_info.h"
#include "common/unix_socket.h"

/* Most supplementary groups looked at (the kernel allows 65536; users have a few). */
#define MAX_GROUPS 1024

/* 1 when this process has `gid` now (its own group or a supplementary one). */
static int in_group_now(gid_t gid)
{
	gid_t groups[MAX_GROUPS];
	if (getegid() == gid)
		return 1;
	int n = getgroups(MAX_GROUPS, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* 1 when the group database makes our user a member of `gid` (perhaps since after this login). */
static int listed_in_group(gid_t gid)
{
	struct passwd pw, *me = NULL;
	struct group gr, *group = NULL;
	char pw_scratch[1024], gr_scratch[16384];
	if (getpwuid_r(geteuid(), &pw, pw_scratch, sizeof(pw_scratch), &me) != 0 || !me)
		return 0;
	if (me->pw_gid == gid)
		return 1;
	if (getgrgid_r(gid, &gr, gr_scratch, sizeof(gr_scratch), &group) != 0 || !group)
		return 0;
	for (char **member = group->gr_mem; member && *member; member++)
		if (strcmp(*member, me->pw_name) == 0)
			return 1;
	return 0;
}

/* What to do about a socket whose owner, group and mode (`st`) refused us. */
static void socket_fix(const struct stat *st, const char *owner, const char *group, const char *dir, char *fix,
		       size_t size)
{
	int group_may_connect = (st->st_mode & 0060) == 0060;
	if (!group_may_connect)
		snprintf(fix, size,
			 "only %s may connect: start the server with --group/--socket-mode (e.g. --socket-mode 0660 "
			 "--group GROUP, and join GROUP)",
			 owner);
	else if (in_group_now(st->st_gid))
		snprintf(fix, size, "the socket lets group %s in, and you are in it: check the permissions of %s",
			 group, dir);
	else if (listed_in_group(st->st_gid))
		snprintf(fix, size, "you were added to group %s after logging in: log in again (or run 'newgrp %s')",
			 group, group);
	else
		snprintf(fix, size,
			 "join group %s (sudo usermod -aG %s $USER, then log in again) or start the server with "
			 "--group/--socket-mode",
			 group, group);
}

/* EACCES: who we are, what the socket (or its directory) says, and the fix. */
static int explain_denied(char *err, const char *path)
{
	char me[64], owner[64], group[64], dir[256], fix[384];
	struct stat st;
	proc_user_name(geteuid(), me, sizeof(me));
	unix_socket_directory(path, dir, sizeof(dir));
	if (stat(path, &st) < 0) {
		/* the socket cannot even be looked at: its directory keeps us out */
		if (stat(dir, &st) < 0)
			return error_set(err, TTALLOC_ENOSERVER,
					 "permission denied: user %s may not reach the allocation server at %s (%s): "
					 "start the server with --socket in a directory your user may enter",
					 me, path, strerror(errno));
		proc_user_name(st.st_uid, owner, sizeof(owner));
		proc_group_name(st.st_gid, group, sizeof(group));
		return error_set(err, TTALLOC_ENOSERVER,
				 "permission denied: user %s may not reach the allocation server at %s (its directory "
				 "%s is owned by %s, group %s, mode %04o): start the server with --socket in a "
				 "directory your user may enter",
				 me, path, dir, owner, group, (unsigned)(st.st_mode & 07777));
	}
	proc_user_name(st.st_uid, owner, sizeof(owner));
	proc_group_name(st.st_gid, group, sizeof(group));
	socket_fix(&st, owner, group, dir, fix, sizeof(fix));
	return error_set(err, TTALLOC_ENOSERVER,
			 "permission denied: user %s may not connect to the allocation server at %s (socket owned "
			 "by %s, group %s, mode %04o): %s",
			 me, path, owner, group, (unsigned)(st.st_mode & 07777), fix);
}

int reach_denied(int error)
{
	return error == EACCES;
}

int reach_explain(char *err, const char *path, int error)
{
	int rc = reach_denied(error) ? explain_denied(err, path)
				     : error_set(err, TTALLOC_ENOSERVER,
						 "cannot reach the allocation server at %s (%s): start ttalloc-server",
						 path, strerror(error));
	errno = error; /* the lookups above may have changed it */
	return rc;
}
