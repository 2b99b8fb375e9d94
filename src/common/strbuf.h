/*
 * strbuf.h - a growing, NUL-terminated string (in the manner of git's
 * strbuf.h): the one string builder of the server (/metrics, JSON-free
 * texts) and tt_smi (its whole screen is built in one).
 *
 * Invariants:
 *  - `buf` is NULL until the first addition, then always NUL-terminated,
 *    with `len` bytes before the NUL and `alloc` bytes allocated.
 *  - Out of memory, the builder stops growing and sets `failed`; every
 *    later addition is a no-op, so a caller checks `failed` once at the end
 *    instead of after every call. strbuf_reset clears it.
 */
#ifndef TTALLOC_STRBUF_H
#define TTALLOC_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	int failed;
};

#define STRBUF_INIT                                            \
	{                                                      \
		.buf = NULL, .len = 0, .alloc = 0, .failed = 0 \
	}

/* Appends `len` bytes (may contain NULs). */
void strbuf_add(struct strbuf *sb, const void *data, size_t len);

/* Appends a NUL-terminated string. */
void strbuf_addstr(struct strbuf *sb, const char *s);

/* Appends printf-style text. */
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` `count` times (a rule of "─", padding). */
void strbuf_repeat(struct strbuf *sb, const char *s, int count);

/* The text so far: never NULL ("" before the first addition). */
const char *strbuf_str(const struct strbuf *sb);

/* Empties the text and clears `failed`, keeping the allocation. */
void strbuf_reset(struct strbuf *sb);

/* Frees the text; the builder is STRBUF_INIT again. */
void strbuf_release(struct strbuf *sb);

/*
 * Hands the text over to the caller (free() it) and leaves the builder
 * empty; *len gets its length when len is not NULL. Returns NULL when the
 * builder failed (the text is freed then) or nothing was added.
 */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif /* TTALLOC_STRBUF_H */
