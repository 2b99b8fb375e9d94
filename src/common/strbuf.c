/*
 * strbuf.c - the growing string of strbuf.h.
 */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"

/* Makes room for `extra` more bytes plus the NUL. Returns 0 or -1 (failed set). */
static int reserve(struct strbuf *sb, size_t extra)
{
	if (sb->failed)
		return -1;
	if (sb->len + extra + 1 <= sb->alloc)
		return 0;
	if (array_grow((void **)&sb->buf, &sb->alloc, sb->len + extra + 1, 1, 256) < 0) {
		sb->failed = 1;
		return -1;
	}
	return 0;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (reserve(sb, len) < 0)
		return;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	/* format into the room there is; only text that does not fit is formatted twice
	 * (the /metrics text is thousands of short lines: one pass each) */
	if (reserve(sb, 64) < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		sb->failed = 1;
		return;
	}
	if ((size_t)n >= sb->alloc - sb->len) {
		if (reserve(sb, (size_t)n) < 0) {
			sb->buf[sb->len] = '\0';
			return;
		}
		va_start(ap, fmt);
		vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
}

void strbuf_repeat(struct strbuf *sb, const char *s, int count)
{
	size_t n = strlen(s);
	for (int i = 0; i < count; i++)
		strbuf_add(sb, s, n);
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	*sb = (struct strbuf)STRBUF_INIT;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *text = sb->failed ? NULL : sb->buf;
	if (len)
		*len = text ? sb->len : 0;
	if (!text)
		free(sb->buf);
	*sb = (struct strbuf)STRBUF_INIT;
	return text;
}
