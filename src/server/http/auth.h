/*
 * auth.h - HTTP basic authentication against --web-config's
 * basic_auth_users (bcrypt hashes, checked with the system's crypt(3):
 * libxcrypt's bcrypt).
 *
 * A bcrypt check costs tens of milliseconds of the loop thread, so a
 * user and password that passed once are remembered (a SHA-256 of them,
 * never the password) and later requests with them cost a hash; checks
 * that must run bcrypt are budgeted (limits.h: HTTP_AUTH_CHECKS_PER_S),
 * so wrong passwords sent in a loop cannot starve the loop. An unknown user
 * costs a bcrypt check too, so that the answer's time does not tell which
 * users exist.
 */
#ifndef TTALLOC_HTTP_AUTH_H
#define TTALLOC_HTTP_AUTH_H

#include <microhttpd.h>
#include <stdint.h>

#include "server/http/limits.h"
#include "server/http/web_config.h"

/* Credentials remembered after a successful check. */
#define HTTP_AUTH_CACHE 32

struct http_auth {
	const struct web_config *cfg;
	uint8_t cache[HTTP_AUTH_CACHE][32]; /* SHA-256 of user, password and hash */
	uint32_t cache_used;
	uint32_t cache_next;
	uint64_t checks; /* bcrypt checks run since start-up */
};

/* Prepares the checks of `cfg`'s users (cfg must outlive `a`). */
void http_auth_init(struct http_auth *a, const struct web_config *cfg);

/* 1 when requests must authenticate (basic_auth_users has users). */
int http_auth_required(const struct http_auth *a);

/*
 * 1 when the request's Authorization header names a user whose password
 * matches; else 0 (counted in `l`: unauthorized, or auth_throttled when the
 * check budget is spent).
 */
int http_auth_check(struct http_auth *a, struct MHD_Connection *conn, struct http_limits *l);

/* Queues 401 with WWW-Authenticate: Basic realm="ttalloc". */
enum MHD_Result http_auth_refuse(struct MHD_Connection *conn);

/* 1 when `password` matches the bcrypt `hash` (the system's crypt_r; constant-time comparison). */
int http_auth_bcrypt_matches(const char *password, const char *hash);

#endif /* TTALLOC_HTTP_AUTH_H */
