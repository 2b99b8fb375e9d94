/*
 * test_web_security.c - what lets HTTP leave loopback safely: the
 * --web-config file (http/web_config.h), bcrypt checks (http/auth.h) and
 * the connection, stream and password-check budgets (http/limits.h).
 * Certificates are made at test time with GnuTLS (no files in the tree).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "server/http/auth.h"
#include "server/http/limits.h"
#include "server/http/web_config.h"

static char dir[64];

/* Writes `text` to DIR/name; returns the path (static buffer per call site is the caller's). */
static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *path_of(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* A self-signed certificate and its key, as PEM files `cert_name` and `key_name`. */
static void make_pair(const char *cert_name, const char *key_name)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
						      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
			 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	gnutls_x509_crt_set_version(crt, 3);
	unsigned char serial[4] = {1, 2, 3, 4};
	gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60);
	gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9);
	gnutls_x509_crt_set_key(crt, key);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
	char pem[8192];
	size_t len = sizeof(pem);
	assert_int_equal(gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, pem, &len), 0);
	pem[len] = '\0';
	write_file(cert_name, pem);
	len = sizeof(pem);
	assert_int_equal(gnutls_x509_privkey_export(key, GNUTLS_X509_FMT_PEM, pem, &len), 0);
	pem[len] = '\0';
	write_file(key_name, pem);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

/* A bcrypt hash of `password` (cost 4: fast, the same algorithm). */
static const char *bcrypt_of(const char *password)
{
	static char hash[128];
	struct crypt_data data;
	memset(&data, 0, sizeof(data));
	const char *salt = crypt_gensalt("$2y$", 4, NULL, 0);
	assert_non_null(salt);
	const char *out = crypt_r(password, salt, &data);
	assert_non_null(out);
	snprintf(hash, sizeof(hash), "%s", out);
	return hash;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ttalloc-web.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int load(const char *yaml, struct web_config *cfg, char *err)
{
	write_file("web.yml", yaml);
	return web_config_load(path_of("web.yml"), cfg, err);
}

static void test_tls_and_users_in_exporter_toolkits_format(void **state)
{
	(void)state;
	make_pair("server.crt", "server.key");
	char yaml[512], err[ERR_LEN];
	snprintf(yaml, sizeof(yaml),
		 "# as for node_exporter\n"
		 "tls_server_config:\n  cert_file: server.crt\n  key_file: %s\n  min_version: TLS13\n"
		 "basic_auth_users:\n  prometheus: %s\n",
		 path_of("server.key"), bcrypt_of("s3cret"));
	struct web_config cfg;
	assert_int_equal(load(yaml, &cfg, err), 0);
	assert_non_null(cfg.cert_pem);
	assert_non_null(strstr(cfg.cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(cfg.key_pem, "PRIVATE KEY"));
	assert_non_null(strstr(cfg.priorities, "-VERS-TLS1.2"));
	assert_int_equal(cfg.user_count, 1);
	assert_non_null(web_config_user_hash(&cfg, "prometheus"));
	assert_null(web_config_user_hash(&cfg, "root"));
	web_config_release(&cfg);
	/* without min_version: exporter-toolkit's TLS12 */
	assert_int_equal(load("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n", &cfg, err), 0);
	assert_string_equal(cfg.priorities, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1");
	assert_int_equal(cfg.user_count, 0);
	web_config_release(&cfg);
	/* an empty file: plain HTTP, no users */
	assert_int_equal(load("", &cfg, err), 0);
	assert_null(cfg.cert_pem);
	web_config_release(&cfg);
}

static void test_bad_configs_are_refused_with_the_reason(void **state)
{
	(void)state;
	make_pair("a.crt", "a.key");
	make_pair("b.crt", "b.key");
	static const struct {
		const char *yaml, *reason;
	} bad[] = {
		{"tls_server_config:\n  cert_file: a.crt\n", "needs both cert_file and key_file"},
		{"tls_server_config:\n  cert_file: a.crt\n  key_file: b.key\n", "not a usable PEM certificate and key"},
		{"tls_server_config:\n  cert_file: missing.crt\n  key_file: a.key\n", "cannot read TLS certificate"},
		{"tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: "
		 "RequireAndVerifyClientCert\n",
		 "client_auth_type is not supported"},
		{"tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: SSL3\n",
		 "unknown "
		 "tls_server_config."
		 "min_version"},
		{"basic_auth_users:\n  alice: plaintext\n", "is not a bcrypt hash"},
		{"basic_auth_users: [alice]\n", "must be a mapping"},
		{"http_server_config:\n  headers:\n    X-Frame-Options: deny\n", "headers is not supported"},
		{"tls_config: {}\n", "unknown key 'tls_config'"},
		{"tls_server_config: [unclosed\n", "not valid YAML"},
		{"- a\n- b\n", "expected a mapping"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct web_config cfg;
		char err[ERR_LEN] = "";
		int rc = load(bad[i].yaml, &cfg, err);
		if (rc >= 0 || !strstr(err, bad[i].reason))
			fail_msg("config %zu: rc %d, err '%s', wanted '%s'", i, rc, err, bad[i].reason);
		web_config_release(&cfg);
	}
	struct web_config cfg;
	char err[ERR_LEN];
	assert_int_equal(load("http_server_config:\n  http2: true\n", &cfg, err), 0); /* ignored: HTTP/1.1 */
	web_config_release(&cfg);
	assert_true(web_config_load("/nonexistent/web.yml", &cfg, err) < 0);
	assert_non_null(strstr(err, "cannot read the file /nonexistent/web.yml"));
	web_config_release(&cfg);
}

static void test_bcrypt_matches_only_the_right_password(void **state)
{
	(void)state;
	const char *hash = bcrypt_of("correct horse");
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", hash);
	assert_true(http_auth_bcrypt_matches("correct horse", copy));
	assert_false(http_auth_bcrypt_matches("correct hors", copy));
	assert_false(http_auth_bcrypt_matches("", copy));
	assert_false(http_auth_bcrypt_matches("correct horse", "$2y$04$notavalidhash"));
	assert_false(http_auth_bcrypt_matches("correct horse", "*"));
	/* htpasswd's $2y$ and the $2b$ of other tools are the same algorithm */
	copy[2] = 'b';
	assert_true(http_auth_bcrypt_matches("correct horse", copy));
}

static struct http_client_key v4(uint8_t last)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | last)};
	return http_client_key_of((struct sockaddr *)&a, sizeof(a));
}

static void test_connection_limits_total_and_per_address(void **state)
{
	(void)state;
	struct http_limits l;
	assert_int_equal(http_limits_init(&l, 5, 2, 3, 1), 0);
	struct http_client_key a = v4(1), b = v4(2), c = v4(3);
	struct http_conn ca[2] = {{.key = a}, {.key = a}};
	for (int i = 0; i < 2; i++) {
		assert_true(http_limits_admit(&l, &a));
		http_limits_opened(&l, &a);
		ca[i].requests = 1;
	}
	assert_false(http_limits_admit(&l, &a)); /* a's two are open */
	assert_int_equal(l.refused[HTTP_REFUSED_PER_CLIENT], 1);
	for (int i = 0; i < 2; i++) {
		assert_true(http_limits_admit(&l, &b));
		http_limits_opened(&l, &b);
	}
	assert_true(http_limits_admit(&l, &c));
	http_limits_opened(&l, &c);
	assert_false(http_limits_admit(&l, &c)); /* five open in all */
	assert_int_equal(l.refused[HTTP_REFUSED_CONNECTIONS], 1);
	http_limits_closed(&l, &ca[0]);
	assert_true(http_limits_admit(&l, &a));
	assert_int_equal(l.refused[HTTP_REFUSED_NO_REQUEST], 0);
	struct http_conn idle = {.key = b, .requests = 0};
	http_limits_closed(&l, &idle); /* closed before any request: counted */
	assert_int_equal(l.refused[HTTP_REFUSED_NO_REQUEST], 1);
	assert_int_equal(l.open, 3);
	assert_int_equal(l.accepted, 5);
	/* an IPv4-mapped IPv6 address is its IPv4 address */
	struct sockaddr_in6 m = {.sin6_family = AF_INET6};
	m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
	m.sin6_addr.s6_addr[12] = 127;
	m.sin6_addr.s6_addr[15] = 1;
	struct http_client_key mapped = http_client_key_of((struct sockaddr *)&m, sizeof(m));
	assert_int_equal(mapped.len, 4);
	assert_memory_equal(mapped.addr, a.addr, 4);
	http_limits_release(&l);
}

static void test_stream_limits_and_the_password_check_budget(void **state)
{
	(void)state;
	struct http_limits l;
	assert_int_equal(http_limits_init(&l, 10, 10, 3, 2), 0);
	struct http_client_key a = v4(1), b = v4(2);
	http_limits_opened(&l, &a);
	http_limits_opened(&l, &b);
	assert_true(http_limits_stream_begin(&l, &a));
	assert_true(http_limits_stream_begin(&l, &a));
	assert_false(http_limits_stream_begin(&l, &a)); /* two per address */
	assert_true(http_limits_stream_begin(&l, &b));
	assert_false(http_limits_stream_begin(&l, &b)); /* three in all */
	assert_int_equal(l.refused[HTTP_REFUSED_STREAMS], 2);
	http_limits_stream_end(&l, &a);
	assert_true(http_limits_stream_begin(&l, &b));
	assert_int_equal(l.streams, 3);
	uint64_t t0 = 5 * CLOCK_NS_PER_S;
	for (int i = 0; i < HTTP_AUTH_CHECKS_PER_S; i++)
		assert_true(http_limits_auth_budget(&l, t0 + (uint64_t)i));
	assert_false(http_limits_auth_budget(&l, t0 + CLOCK_NS_PER_S - 1));
	assert_int_equal(l.refused[HTTP_REFUSED_AUTH_THROTTLED], 1);
	assert_true(http_limits_auth_budget(&l, t0 + CLOCK_NS_PER_S)); /* a new second */
	struct strbuf t = STRBUF_INIT;
	http_limits_metrics(&t, &l);
	assert_non_null(strstr(strbuf_str(&t), "ttalloc_http_refused_total{reason=\"streams\"} 2\n"));
	assert_non_null(strstr(strbuf_str(&t), "ttalloc_http_refused_total{reason=\"auth_throttled\"} 1\n"));
	assert_non_null(strstr(strbuf_str(&t), "ttalloc_http_streams 3\n"));
	assert_string_equal(http_refusal_label(HTTP_REFUSED_PER_CLIENT), "per_client");
	strbuf_release(&t);
	http_limits_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_and_users_in_exporter_toolkits_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_configs_are_refused_with_the_reason, setup, teardown),
		cmocka_unit_test(test_bcrypt_matches_only_the_right_password),
		cmocka_unit_test(test_connection_limits_total_and_per_address),
		cmocka_unit_test(test_stream_limits_and_the_password_check_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
