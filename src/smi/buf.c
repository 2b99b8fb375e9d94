/*
 * buf.c - smi_buf, the growing string tt_smi builds its screen in (smi.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smi.h"

/* Makes room for `extra` more bytes plus the NUL. Returns 0 or -1. */
static int buf_reserve(struct smi_buf *b, size_t extra)
{
	if (b->failed)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *grown = realloc(b->data, cap);
	if (!grown) {
		b->failed = 1;
		return -1;
	}
	b->data = grown;
	b->cap = cap;
	return 0;
}

void smi_buf_add(struct smi_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void smi_buf_adds(struct smi_buf *b, const char *s)
{
	smi_buf_add(b, s, strlen(s));
}

void smi_buf_repeat(struct smi_buf *b, const char *s, int count)
{
	size_t n = strlen(s);
	for (int i = 0; i < count; i++)
		smi_buf_add(b, s, n);
}

void smi_buf_addf(struct smi_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *smi_buf_str(const struct smi_buf *b)
{
	return b->data ? b->data : "";
}

void smi_buf_reset(struct smi_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

void smi_buf_release(struct smi_buf *b)
{
	free(b->data);
	*b = (struct smi_buf)SMI_BUF_INIT;
}
