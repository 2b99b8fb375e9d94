/*
 * auth.c - HTTP basic authentication with bcrypt hashes (auth.h).
 */
#include "server/http/auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/http/response.h"

void http_auth_init(struct http_auth *a, const struct web_config *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
}

int http_auth_required(const struct http_auth *a)
{
	return a->cfg && a->cfg->user_count > 0;
}

/* Equal strings, in a time that depends on their lengths only. */
static int same_text(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned char diff = n != m;
	for (size_t i = 0; i < n && i < m; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int http_auth_bcrypt_matches(const char *password, const char *hash)
{
	static struct crypt_data data; /* 32 KiB: not on the stack; the loop thread only */
	memset(&data, 0, sizeof(data));
	const char *out = crypt_r(password, hash, &data);
	return out && out[0] != '*' && same_text(out, hash);
}

/* SHA-256 of user, password and hash, NUL-separated: what the cache remembers. */
static int digest(const char *user, const char *password, const char *hash, uint8_t out[32])
{
	size_t u = strlen(user), p = strlen(password), h = strlen(hash);
	char *buf = malloc(u + p + h + 3);
	if (!buf)
		return -1;
	memcpy(buf, user, u + 1);
	memcpy(buf + u + 1, password, p + 1);
	memcpy(buf + u + p + 2, hash, h + 1);
	int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, u + p + h + 3, out);
	explicit_bzero(buf, u + p + h + 3);
	free(buf);
	return rc < 0 ? -1 : 0;
}

static int cached(const struct http_auth *a, const uint8_t key[32])
{
	for (uint32_t i = 0; i < a->cache_used; i++)
		if (memcmp(a->cache[i], key, 32) == 0)
			return 1;
	return 0;
}

static void remember(struct http_auth *a, const uint8_t key[32])
{
	memcpy(a->cache[a->cache_next], key, 32);
	a->cache_next = (a->cache_next + 1) % HTTP_AUTH_CACHE;
	if (a->cache_used < HTTP_AUTH_CACHE)
		a->cache_used++;
}

/* Checks one user and password (the slow path budgeted). Returns 1 when they match. */
static int verify(struct http_auth *a, const char *user, const char *password, struct http_limits *l)
{
	const char *hash = web_config_user_hash(a->cfg, user);
	uint8_t key[32];
	int have_key = hash && digest(user, password, hash, key) == 0;
	if (have_key && cached(a, key))
		return 1;
	if (!http_limits_auth_budget(l, clock_monotonic_ns()))
		return 0;
	a->checks++;
	/* an unknown user costs the same check (against a real hash), so timing does not tell */
	int ok = http_auth_bcrypt_matches(password, hash ? hash : a->cfg->users[0].hash) && hash;
	if (ok && have_key)
		remember(a, key);
	if (!ok)
		http_limits_refuse(l, HTTP_REFUSED_UNAUTHORIZED);
	return ok;
}

int http_auth_check(struct http_auth *a, struct MHD_Connection *conn, struct http_limits *l)
{
	char *password = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &password);
	int ok = 0;
	if (user && password)
		ok = verify(a, user, password, l);
	else
		http_limits_refuse(l, HTTP_REFUSED_UNAUTHORIZED);
	if (password) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (user)
		MHD_free(user);
	return ok;
}

enum MHD_Result http_auth_refuse(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\": \"authentication required (HTTP basic auth, --web-config)\"}";
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
	enum MHD_Result rc = MHD_queue_basic_auth_fail_response(conn, "ttalloc", resp);
	MHD_destroy_response(resp);
	return rc;
}
