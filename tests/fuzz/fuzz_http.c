/*
 * fuzz_http.c - libFuzzer target: arbitrary bytes as an HTTP request to the
 * server's real HTTP side (http_start: libmicrohttpd on the server's event
 * loop, the accept policy and connection limits, basic auth against bcrypt
 * hashes, routing, query parameters, the JSON API, /metrics, event
 * streams), over a real loopback TCP connection.
 *
 * Input layout:
 *   byte 0   bit 0: the server that asks for basic auth (--web-config with
 *            user "fuzz", password "pw") instead of the open one;
 *            bits 1..7: chunking: 0 sends the request at once, N sends N
 *            bytes per turn of the server's loop (requests split anywhere)
 *   byte 1.. the bytes the client sends; then it shuts its sending side.
 *
 * Oracles besides ASan/UBSan: whatever the server answers starts with an
 * HTTP/1.x status line and is never a 500; connections whose client has gone
 * do not pile up: beyond LINGER_MAX of them (libmicrohttpd keeps a request
 * it refused as too large until the idle timeout, 1 s here; an idle event
 * stream learns of its client's end at its next keep-alive, so streams are
 * not counted) they must all be gone within 3 s; the registry's invariants
 * hold (fuzz_server.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "fuzz_server.h"
#include "server/http/http.h"

#define MAX_TURNS 400
#define TURNS_AFTER_SHUTDOWN 50
#define LINGER_MAX 32
#define ANSWER_KEPT 4096

static struct server open_srv, auth_srv;
static int open_port, auth_port;

/* The HTTP side of `s` on a free loopback port; returns the port. */
static int start_http(struct server *s, const char *web_config)
{
	char err[ERR_LEN];
	int taken = 0;
	s->opts.web_config = web_config;
	if (web_config && web_config_load(web_config, &s->web, err) < 0) /* as server_core_open does */
		fuzz_die(err);
	s->opts.http_max_connections = 4096;
	s->opts.http_max_per_client = 4096; /* every input comes from 127.0.0.1 */
	s->opts.http_timeout_s = 1;
	s->http = http_start(s, "127.0.0.1:0", err, &taken);
	if (!s->http)
		fuzz_die(err);
	const char *colon = strrchr(http_url(s->http), ':');
	return colon ? atoi(colon + 1) : 0;
}

/* A --web-config with one user, "fuzz", password "pw" (bcrypt cost 4: the same code, faster). */
static const char *write_web_config(void)
{
	static char path[] = "/tmp/ttalloc-fuzz-web.XXXXXX";
	int fd = mkstemp(path);
	struct crypt_data data;
	memset(&data, 0, sizeof(data));
	const char *salt = crypt_gensalt("$2y$", 4, NULL, 0);
	const char *hash = salt ? crypt_r("pw", salt, &data) : NULL;
	if (fd < 0 || !hash)
		fuzz_die("cannot write the web config");
	dprintf(fd, "basic_auth_users:\n  fuzz: '%s'\n", hash);
	close(fd);
	return path;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_server_init(&open_srv);
	fuzz_server_init(&auth_srv);
	open_port = start_http(&open_srv, NULL);
	auth_port = start_http(&auth_srv, write_web_config());
	return 0;
}

/* A non-blocking connection to the server's port (the accept happens on the server's next turn). */
static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS))
		fuzz_die("cannot connect to the HTTP port");
	return fd;
}

/* What the client read: the start of the answer, and whether the server ended the connection. */
struct answer {
	char head[ANSWER_KEPT];
	size_t len;
	int ended;
};

static void read_answer(int fd, struct answer *a)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			a->ended = 1;
			return;
		}
		if (n < 0)
			return;
		size_t keep = ANSWER_KEPT - 1 - a->len < (size_t)n ? ANSWER_KEPT - 1 - a->len : (size_t)n;
		memcpy(a->head + a->len, buf, keep);
		a->len += keep;
		a->head[a->len] = '\0';
	}
}

/* The answer must be HTTP, and never an internal error. */
static void check_answer(const struct answer *a)
{
	if (a->len == 0)
		return; /* refused or dropped without an answer: allowed (too large, garbage) */
	if (a->len >= 12 && strncmp(a->head, "HTTP/1.", 7) != 0)
		fuzz_die("the server answered something that is not HTTP");
	if (a->len >= 12 && strncmp(a->head + 9, "500", 3) == 0)
		fuzz_die("the server answered 500");
}

/* Sends `data` in `chunk`-byte pieces (0: at once), a turn of the loop between them. */
static void send_request(struct server *s, int fd, const uint8_t *data, size_t len, size_t chunk, struct answer *a)
{
	size_t off = 0;
	for (int turn = 0; off < len && turn < MAX_TURNS && !a->ended; turn++) {
		size_t n = chunk && chunk < len - off ? chunk : len - off;
		ssize_t sent = send(fd, data + off, n, MSG_NOSIGNAL);
		if (sent > 0)
			off += (size_t)sent;
		else if (sent < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN)
			break; /* the server closed: it refused the rest */
		fuzz_run_loop_once(s);
		read_answer(fd, a);
	}
}

/* 1 once the answer is an event stream's (it goes on until the server stops it). */
static int is_stream(const struct answer *a)
{
	return strstr(a->head, "text/event-stream") != NULL;
}

/* Connections without a client, event streams aside. */
static unsigned lingering(const struct server *s)
{
	return s->http_limits.open - s->http_limits.streams;
}

/* Too many lingering connections: the idle timeout must end them within 3 s. */
static void check_lingering(struct server *s)
{
	if (lingering(s) <= LINGER_MAX)
		return;
	uint64_t deadline = clock_monotonic_ns() + 3 * CLOCK_NS_PER_S;
	while (lingering(s) > 0 && clock_monotonic_ns() < deadline) {
		usleep(10000); /* the idle timeout is time passing */
		fuzz_run_loop_once(s);
	}
	if (lingering(s) > 0)
		fuzz_die("HTTP connections outlived their clients and the idle timeout");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct server *s = data[0] & 1 ? &auth_srv : &open_srv;
	size_t chunk = data[0] >> 1;
	struct answer a = {.len = 0, .ended = 0};
	int fd = connect_to(s == &auth_srv ? auth_port : open_port);
	fuzz_run_loop_once(s); /* the accept */
	send_request(s, fd, data + 1, size - 1, chunk, &a);
	shutdown(fd, SHUT_WR);
	for (int turn = 0; turn < TURNS_AFTER_SHUTDOWN && !a.ended && !is_stream(&a); turn++) {
		fuzz_run_loop_once(s);
		read_answer(fd, &a);
	}
	check_answer(&a);
	close(fd);
	for (int turn = 0; turn < 8; turn++) /* the server sees the client go */
		fuzz_run_loop_once(s);
	check_lingering(s);
	fuzz_check_registry(s);
	return 0;
}
