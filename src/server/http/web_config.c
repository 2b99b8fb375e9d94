/*
 * web_config.c - reading --web-config (web_config.h) with libyaml, and
 * checking what it names with GnuTLS before the server starts.
 */
#include "server/http/web_config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/errors.h"

/* Largest file read (a config, a certificate chain, a key). */
#define WEB_FILE_MAX (1u << 20)

/* Reads a whole file into a NUL-terminated buffer. Returns it, or NULL with the reason in `err`. */
static char *read_file(const char *path, const char *what, char *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		error_set(err, TTALLOC_EIO, "cannot read %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	char *text = malloc(WEB_FILE_MAX + 1);
	size_t n = text ? fread(text, 1, WEB_FILE_MAX + 1, f) : 0;
	int failed = ferror(f);
	fclose(f);
	if (!text || failed || n > WEB_FILE_MAX) {
		free(text);
		error_set(err, TTALLOC_EIO, "cannot read %s %s: %s", what, path,
			  !text            ? "out of memory"
				  : failed ? "read error"
					   : "larger than 1 MiB");
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/* The text of a scalar node, or NULL when the node is not a scalar. */
static const char *scalar(const yaml_node_t *node)
{
	return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* `file` relative to the directory of `config` (as exporters resolve them); absolute paths stay. */
static void resolve(char *out, size_t size, const char *config, const char *file)
{
	const char *slash = strrchr(config, '/');
	if (file[0] == '/' || !slash)
		snprintf(out, size, "%s", file);
	else
		snprintf(out, size, "%.*s/%s", (int)(slash - config), config, file);
}

/* GnuTLS priorities for exporter-toolkit's min_version (its default is TLS12). */
static const char *priorities_for(const char *version)
{
	static const struct {
		const char *name, *priorities;
	} versions[] = {
		{"TLS10", "NORMAL"},
		{"TLS11", "NORMAL:-VERS-TLS1.0"},
		{"TLS12", "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1"},
		{"TLS13", "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2"},
	};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(version, versions[i].name) == 0)
			return versions[i].priorities;
	return NULL;
}

/* Checks that the certificate and key are PEM and belong together. */
static int check_pair(const struct web_config *cfg, char *err)
{
	gnutls_certificate_credentials_t cred;
	if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS)
		return error_set(err, TTALLOC_ENOMEM, "out of memory checking the TLS certificate");
	gnutls_datum_t cert = {(unsigned char *)cfg->cert_pem, (unsigned)strlen(cfg->cert_pem)};
	gnutls_datum_t key = {(unsigned char *)cfg->key_pem, (unsigned)strlen(cfg->key_pem)};
	int rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0)
		return error_set(err, TTALLOC_EINVAL,
				 "tls_server_config: cert_file and key_file are not a usable PEM certificate and key "
				 "pair (%s)",
				 gnutls_strerror(rc));
	return 0;
}

/* Context of one parse. */
struct parse {
	const char *path;
	yaml_document_t *doc;
	struct web_config *cfg;
	char *err;
};

static int tls_key(struct parse *p, const char *key, const yaml_node_t *value, char **cert_file, char **key_file)
{
	const char *text = scalar(value);
	if (!text)
		return error_set(p->err, TTALLOC_EINVAL, "%s: tls_server_config.%s must be a string", p->path, key);
	if (strcmp(key, "cert_file") == 0 || strcmp(key, "key_file") == 0) {
		char **slot = key[0] == 'c' ? cert_file : key_file;
		free(*slot);
		*slot = strdup(text);
		return *slot ? 0 : error_set(p->err, TTALLOC_ENOMEM, "out of memory");
	}
	if (strcmp(key, "min_version") == 0) {
		p->cfg->priorities = priorities_for(text);
		return p->cfg->priorities
			? 0
			: error_set(p->err, TTALLOC_EINVAL,
				    "%s: unknown tls_server_config.min_version '%s' (TLS10, TLS11, TLS12, "
				    "TLS13)",
				    p->path, text);
	}
	if (strcmp(key, "client_auth_type") == 0 && strcmp(text, "NoClientCert") == 0)
		return 0;
	return error_set(p->err, TTALLOC_EINVAL,
			 "%s: tls_server_config.%s is not supported by ttalloc-server (cert_file, key_file, "
			 "min_version; client certificates are not)",
			 p->path, key);
}

/* Reads a file a tls_server_config key names into *pem. */
static int read_pem(struct parse *p, const char *file, const char *what, char **pem)
{
	char path[4096];
	resolve(path, sizeof(path), p->path, file);
	*pem = read_file(path, what, p->err);
	return *pem ? 0 : TTALLOC_EIO;
}

static int parse_tls(struct parse *p, const yaml_node_t *node)
{
	if (node->type != YAML_MAPPING_NODE)
		return error_set(p->err, TTALLOC_EINVAL, "%s: tls_server_config must be a mapping", p->path);
	char *cert_file = NULL, *key_file = NULL;
	int rc = 0;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; rc == 0 && pair < node->data.mapping.pairs.top;
	     pair++) {
		const char *key = scalar(yaml_document_get_node(p->doc, pair->key));
		rc = key ? tls_key(p, key, yaml_document_get_node(p->doc, pair->value), &cert_file, &key_file)
			 : error_set(p->err, TTALLOC_EINVAL, "%s: bad key in tls_server_config", p->path);
	}
	if (rc == 0 && (!cert_file || !key_file))
		rc = error_set(p->err, TTALLOC_EINVAL, "%s: tls_server_config needs both cert_file and key_file",
			       p->path);
	if (rc == 0)
		rc = read_pem(p, cert_file, "TLS certificate (cert_file)", &p->cfg->cert_pem);
	if (rc == 0)
		rc = read_pem(p, key_file, "TLS key (key_file)", &p->cfg->key_pem);
	if (rc == 0)
		rc = check_pair(p->cfg, p->err);
	if (rc == 0 && !p->cfg->priorities)
		p->cfg->priorities = priorities_for("TLS12"); /* exporter-toolkit's default */
	free(cert_file);
	free(key_file);
	return rc;
}

/* 1 when `hash` looks like a bcrypt hash: $2a$, $2b$ or $2y$, cost, 53 more characters. */
static int is_bcrypt(const char *hash)
{
	return strlen(hash) == 60 && hash[0] == '$' && hash[1] == '2' && strchr("aby", hash[2]) && hash[3] == '$' &&
		hash[6] == '$';
}

static int parse_users(struct parse *p, const yaml_node_t *node)
{
	if (node->type != YAML_MAPPING_NODE)
		return error_set(p->err, TTALLOC_EINVAL, "%s: basic_auth_users must be a mapping of user: bcrypt hash",
				 p->path);
	size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	p->cfg->users = calloc(n ? n : 1, sizeof(*p->cfg->users));
	if (!p->cfg->users)
		return error_set(p->err, TTALLOC_ENOMEM, "out of memory");
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		const char *user = scalar(yaml_document_get_node(p->doc, pair->key));
		const char *hash = scalar(yaml_document_get_node(p->doc, pair->value));
		if (!user || !*user || strchr(user, ':') || !hash)
			return error_set(p->err, TTALLOC_EINVAL,
					 "%s: basic_auth_users needs user: hash pairs (no ':' in names)", p->path);
		if (!is_bcrypt(hash))
			return error_set(
				p->err, TTALLOC_EINVAL,
				"%s: the password of '%s' is not a bcrypt hash ($2y$..., e.g. from htpasswd -nBC 10 "
				"%s)",
				p->path, user, user);
		struct web_user *u = &p->cfg->users[p->cfg->user_count++];
		u->name = strdup(user);
		u->hash = strdup(hash);
		if (!u->name || !u->hash)
			return error_set(p->err, TTALLOC_ENOMEM, "out of memory");
	}
	return 0;
}

/* http_server_config: only http2 (ignored: the server speaks HTTP/1.1). */
static int parse_server(struct parse *p, const yaml_node_t *node)
{
	if (node->type != YAML_MAPPING_NODE)
		return error_set(p->err, TTALLOC_EINVAL, "%s: http_server_config must be a mapping", p->path);
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		const char *key = scalar(yaml_document_get_node(p->doc, pair->key));
		if (!key || strcmp(key, "http2") != 0)
			return error_set(p->err, TTALLOC_EINVAL,
					 "%s: http_server_config.%s is not supported by ttalloc-server (only http2, "
					 "which it ignores: it speaks HTTP/1.1)",
					 p->path, key ? key : "?");
	}
	return 0;
}

static int parse_root(struct parse *p, const yaml_node_t *root)
{
	if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		return 0; /* an empty file: plain HTTP, no authentication (as exporters take it) */
	if (root->type != YAML_MAPPING_NODE)
		return error_set(p->err, TTALLOC_EINVAL, "%s: expected a mapping (tls_server_config, basic_auth_users)",
				 p->path);
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		const char *key = scalar(yaml_document_get_node(p->doc, pair->key));
		const yaml_node_t *value = yaml_document_get_node(p->doc, pair->value);
		int rc;
		if (key && strcmp(key, "tls_server_config") == 0)
			rc = parse_tls(p, value);
		else if (key && strcmp(key, "basic_auth_users") == 0)
			rc = parse_users(p, value);
		else if (key && strcmp(key, "http_server_config") == 0)
			rc = parse_server(p, value);
		else
			rc = error_set(p->err, TTALLOC_EINVAL,
				       "%s: unknown key '%s' (tls_server_config, basic_auth_users, http_server_config)",
				       p->path, key ? key : "?");
		if (rc < 0)
			return rc;
	}
	return 0;
}

int web_config_load(const char *path, struct web_config *cfg, char *err)
{
	memset(cfg, 0, sizeof(*cfg));
	char *text = read_file(path, "the file", err);
	if (!text)
		return TTALLOC_EIO;
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return error_set(err, TTALLOC_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&parser, &doc)) {
		rc = error_set(err, TTALLOC_EINVAL, "%s: not valid YAML: %s at line %zu", path,
			       parser.problem ? parser.problem : "?", parser.problem_mark.line + 1);
	} else {
		struct parse p = {.path = path, .doc = &doc, .cfg = cfg, .err = err};
		rc = parse_root(&p, yaml_document_get_root_node(&doc));
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(text);
	return rc;
}

void web_config_release(struct web_config *cfg)
{
	free(cfg->cert_pem);
	free(cfg->key_pem);
	for (size_t i = 0; i < cfg->user_count; i++) {
		free(cfg->users[i].name);
		free(cfg->users[i].hash);
	}
	free(cfg->users);
	memset(cfg, 0, sizeof(*cfg));
}

const char *web_config_user_hash(const struct web_config *cfg, const char *user)
{
	for (size_t i = 0; user && i < cfg->user_count; i++)
		if (strcmp(cfg->users[i].name, user) == 0)
			return cfg->users[i].hash;
	return NULL;
}
