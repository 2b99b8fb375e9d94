/*
 * errors.h - ttalloc's one error convention, for every component.
 *
 *  - A function that can fail returns 0 (or a valid value: a descriptor, a
 *    pointer) on success and a negative TTALLOC_E* code (ttalloc.h's one
 *    table; ttalloc_strerror names them) on failure, or NULL for a pointer.
 *  - When a person needs to know why, it also writes one line into a
 *    caller's buffer of ERR_LEN bytes, saying what was wrong and what to do
 *    ("cannot listen on 127.0.0.1:8080: address in use; pick another port
 *    with --http or turn HTTP off with --no-http"). error_set does both.
 *  - Nothing below main() prints a fatal error or exits: main() prints
 *    "program: <err>" and chooses the exit status. Log lines about a peer's
 *    mistakes (the server's counted errors) are not failures of the caller
 *    and go to the log.
 */
#ifndef TTALLOC_ERRORS_H
#define TTALLOC_ERRORS_H

#include "ttalloc.h"

/* Size of every error-message buffer. */
#define ERR_LEN 1024

/*
 * Writes the printf-style message into `err` (ERR_LEN bytes; may be NULL)
 * and returns `code`, so a failure reads `return error_set(err, TTALLOC_EIO, "...", ...);`.
 */
int error_set(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* TTALLOC_ERRORS_H */
