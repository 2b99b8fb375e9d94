/*
 * web_config.h - --web-config FILE: TLS and basic authentication for the
 * HTTP endpoint, in the web configuration format Prometheus exporters
 * share (prometheus/exporter-toolkit's docs/web-configuration.md), so the
 * file a fleet already writes for node_exporter works here:
 *
 *   tls_server_config:
 *     cert_file: server.crt        # PEM; relative to FILE's directory
 *     key_file: server.key
 *     min_version: TLS12           # optional: TLS10, TLS11, TLS12, TLS13
 *   basic_auth_users:
 *     prometheus: $2y$10$...       # bcrypt hashes (htpasswd -nBC 10)
 *
 * Keys ttalloc-server does not implement (client certificates, cipher
 * suites, HTTP headers) are refused with a clear error rather than
 * ignored: a setting that silently does nothing is worse than none.
 */
#ifndef TTALLOC_HTTP_WEB_CONFIG_H
#define TTALLOC_HTTP_WEB_CONFIG_H

#include <stddef.h>

struct web_user {
	char *name;
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$ */
};

struct web_config {
	char *cert_pem; /* NULL: plain HTTP */
	char *key_pem;
	const char *priorities; /* GnuTLS priority string for min_version, or NULL */
	struct web_user *users; /* NULL: no authentication */
	size_t user_count;
};

#define WEB_CONFIG_INIT \
	{               \
		0       \
	}

/*
 * Reads `path` into `cfg` (TLS certificate and key read into memory and
 * checked to be a matching pair, bcrypt hashes checked for form). Returns
 * 0, or a negative TTALLOC_E* code with the reason in `err` (ERR_LEN).
 * web_config_release undoes it either way.
 */
int web_config_load(const char *path, struct web_config *cfg, char *err);

/* Frees what web_config_load allocated; cfg is WEB_CONFIG_INIT again. */
void web_config_release(struct web_config *cfg);

/* The hash of `user`, or NULL when there is no such user. */
const char *web_config_user_hash(const struct web_config *cfg, const char *user);

#endif /* TTALLOC_HTTP_WEB_CONFIG_H */
