/*
 * reach.h - why a client cannot reach the allocation server, in words.
 *
 * The one text every client shows when connecting to the server's socket
 * fails: the library (ttalloc_last_error), tt_smi and its views,
 * ttalloc-load, ttalloc-run and tt_smi --doctor. python/ttalloc/connection.py
 * (explain_connect_error) writes the same words; a test compares the two.
 *
 *  - refused by the socket's permissions (EACCES): the socket, its owner,
 *    group and mode, and the fix: join the group (or log in again, when the
 *    user was added to it after logging in), or start the server with
 *    --group/--socket-mode;
 *  - anything else (no socket, nobody listening): "cannot reach the
 *    allocation server at PATH (REASON): start ttalloc-server".
 */
#ifndef TTALLOC_REACH_H
#define TTALLOC_REACH_H

#include "common/errors.h"

/*
 * Explains in `err` (ERR_LEN bytes) why connecting to the server's socket
 * at `path` failed with errno `error`, looking at the socket file and the
 * caller's user and groups. Returns TTALLOC_ENOSERVER (the code every
 * client returns for it), so a caller writes
 * `return reach_explain(err, path, errno);`, and leaves errno = `error`
 * (reach_denied(errno) then still tells a refusal from an absent server).
 */
int reach_explain(char *err, const char *path, int error);

/* 1 when `error` (an errno) means the socket's permissions refused us. */
int reach_denied(int error);

#endif /* TTALLOC_REACH_H */
